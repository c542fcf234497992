"""Tests for flowtrace/flow/load/_yaml.py: safe loading with line numbers."""

import textwrap

import pytest

from flowtrace.flow.load import _yaml


def load(text):
    return _yaml.loads(textwrap.dedent(text).lstrip("\n"))


def error(text):
    with pytest.raises(_yaml.YamlError) as info:
        load(text)
    return info.value.line, info.value.message


class TestLines:
    def test_mapping_and_list_lines(self):
        """Every key, value and list item knows its 1-based line."""
        data = load("""
            tasks:
              - name: a
                import: x

              - name: b
            flows: [main]
        """).data
        assert ({"tasks": 1, "flows": 6}, {"tasks": 2, "flows": 6}) == (data.key_lines, data.value_lines)
        assert [2, 5] == data["tasks"].item_lines
        assert (2, 3, 3) == (data["tasks"][0].line, data["tasks"][0].key_line("import"),
                             data["tasks"][0].value_line("import"))

    def test_plain_values(self):
        """Scalars are built as yaml.SafeLoader builds them: numbers, booleans, null, strings."""
        assert {"a": 1, "b": 2.5, "c": True, "d": None, "e": "text", "f": "="} == load("""
            a: 1
            b: 2.5
            c: yes
            d:
            e: text
            f: =
        """).data

    def test_merge_key(self):
        """``<<: *anchor`` fills in the keys a mapping does not set, with the anchor's lines."""
        data = load("""
            base: &base {queue: q, max_retry: 1}
            task:
              <<: *base
              max_retry: 3
        """).data
        assert {"queue": "q", "max_retry": 3} == data["task"]
        assert {"max_retry": 4, "queue": 1} == data["task"].key_lines

    def test_duplicate_keys(self):
        """A key written twice in one mapping is recorded with both lines; the last value wins."""
        document = load("""
            a: 1
            b: 2
            a: 3
        """)
        assert ({"a": 3, "b": 2}, [(3, "a", 1)]) == (document.data, document.duplicates)

    def test_empty(self):
        """An empty document loads as None."""
        assert None is load("# nothing here\n").data


class TestRefused:
    def test_python_object_tag(self):
        """A ``!!python/object`` tag is refused with its line; nothing is built."""
        assert (2, "the tag !!python/object:os.system is not allowed: flow configuration is plain YAML "
                   "(mappings, lists, strings, numbers, booleans, null)") == error("""
            tasks:
              - !!python/object:os.system {}
        """)

    def test_python_name_tag_on_a_scalar(self):
        """A ``!!python/name`` tag on a scalar is refused too."""
        assert (1, "the tag !!python/name:os.system is not allowed: flow configuration is plain YAML "
                   "(mappings, lists, strings, numbers, booleans, null)") == error("a: !!python/name:os.system ''\n")

    def test_set_and_local_tags(self):
        """Tags SafeLoader knows but configuration does not need, and local tags, are refused."""
        assert [1, 1] == [error("a: !!set {x}\n")[0], error("a: !custom 1\n")[0]]

    def test_recursive_alias(self):
        """A list that contains itself through an alias is refused, not looped over."""
        assert (1, "an alias refers to a mapping or list that contains it") == error("a: &x [1, *x]\n")

    def test_alias_bomb(self):
        """Aliases expanding into more values than the limit are refused."""
        lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
        lines += ["a%d: &a%d [%s]" % (i, i, ", ".join(["*a%d" % (i - 1)] * 10)) for i in range(1, 7)]
        assert (1, "the document holds more than 200000 values once its aliases are expanded") \
            == error("\n".join(lines) + "\n")

    def test_deep_nesting(self):
        """Nesting deeper than the limit is refused."""
        assert (1, "mappings and lists are nested more than 100 levels deep") == error("a: " + "[" * 150 + "]" * 150)

    def test_very_deep_nesting(self):
        """Nesting too deep for PyYAML's own recursion is an error without a line, not a crash."""
        assert (None, "invalid YAML: mappings and lists are nested too deeply") == error("[" * 5000)

    def test_non_scalar_key(self):
        """A mapping used as a key is refused."""
        assert (1, "a key must be a string or another plain value, not a mapping or a list") == error("? {a: 1}\n: 2\n")

    def test_bad_timestamp(self):
        """A value PyYAML reads as a timestamp but cannot build is an error, not a ValueError."""
        assert (1, "cannot read the value '2024-13-45': month must be in 1..12") == error("a: 2024-13-45\n")


class TestSyntax:
    def test_indentation(self):
        """A badly indented line gives its line and a hint."""
        assert (3, "invalid YAML: expected <block end>, but found '<block mapping start>' (while parsing a block "
                   "collection at line 2); check the indentation") == error("""
            tasks:
              - name: a
               import: x
        """)

    def test_unclosed_bracket(self):
        """An unclosed flow sequence points at where the parser gave up."""
        assert (2, "invalid YAML: expected ',' or ']', but got ':' (while parsing a flow sequence at line 1)") \
            == error("a: [1, 2\nb: 3\n")

    def test_two_documents(self):
        """A file holds one document."""
        assert (3, "invalid YAML: expected a single document in the stream at line 2, but found another document") \
            == error("---\na: 1\n---\nb: 2\n")

    def test_control_character(self):
        """A character YAML forbids is reported on its line."""
        assert (2, "invalid YAML: special characters are not allowed (character U+0000)") == error("a: 1\n\x00\n")

    def test_not_utf8(self, tmp_path):
        """A file that is not UTF-8 is reported on the line of the first bad byte."""
        path = tmp_path / "bad.yml"
        path.write_bytes(b"a: 1\nb: \xff\n")
        with pytest.raises(_yaml.YamlError) as info:
            _yaml.load(str(path))
        assert (2, "the file is not valid UTF-8 text: invalid start byte") == (info.value.line, info.value.message)
