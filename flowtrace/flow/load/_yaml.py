"""A safe YAML loader that remembers the line of every key and value.

PyYAML's :class:`yaml.SafeLoader` reads and composes the document; the node
tree is then turned into Python values here, so that each mapping and list can
keep the line numbers the checker reports. Only plain YAML types are built:
mappings, lists, strings, numbers, booleans, null, timestamps and binary. Any
other tag (``!!python/object``, ``!!set``, a local ``!tag``) is refused with
its line, and nothing is ever evaluated.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Set, Tuple

import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

_CORE = "tag:yaml.org,2002:"
_MAP = _CORE + "map"
_SEQ = _CORE + "seq"
_MERGE = _CORE + "merge"
_VALUE = _CORE + "value"  # the implicit tag of a bare "=", which SafeLoader cannot build
_SCALARS = frozenset(_CORE + name for name in ("str", "int", "float", "bool", "null", "timestamp", "binary"))

#: Mappings and lists nested deeper than this are refused (a config needs a dozen).
MAX_DEPTH = 100
#: The most values a document may hold once its aliases are expanded.
MAX_VALUES = 200_000


class YamlError(Exception):
    """A file that cannot be loaded as YAML.

    Attributes:
        line: the 1-based line of the problem, or None when it is not known.
        message: what is wrong, without the file name.
    """

    def __init__(self, line: Optional[int], message: str):
        super().__init__(message)
        self.line = line
        self.message = message


class Map(dict):
    """A YAML mapping, with the line of the mapping and of each key and value."""

    line: int = 1

    def __init__(self, line: int):
        super().__init__()
        self.line = line
        self.key_lines: Dict[Any, int] = {}
        self.value_lines: Dict[Any, int] = {}

    def key_line(self, key) -> int:
        """Return the line of ``key``, or of the mapping when it is not there."""
        return self.key_lines.get(key, self.line)

    def value_line(self, key) -> int:
        """Return the line of the value of ``key``, or of the mapping when it is not there."""
        return self.value_lines.get(key, self.line)


class Seq(list):
    """A YAML list, with the line of the list and of each item."""

    def __init__(self, line: int):
        super().__init__()
        self.line = line
        self.item_lines: List[int] = []

    def item_line(self, index: int) -> int:
        """Return the line of item ``index``."""
        return self.item_lines[index]


class Document:
    """One loaded file: its data and the duplicate keys found in it.

    Attributes:
        data: the document's value (None for an empty file).
        duplicates: ``(line, key, first_line)`` for each key written twice in one mapping.
    """

    def __init__(self, data: Any, duplicates: List[tuple]):
        self.data = data
        self.duplicates = duplicates


def _line(node) -> int:
    return node.start_mark.line + 1


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(_CORE):] if tag.startswith(_CORE) else tag


class _Builder:
    """Turn a composed node graph into :class:`Map`, :class:`Seq` and plain scalars."""

    def __init__(self, loader: yaml.SafeLoader):
        self.loader = loader
        self.count = 0
        self.active: Set[int] = set()  # ids of the nodes being built: an alias to one of them is a cycle
        self.duplicates: List[Tuple[int, Any, int]] = []

    def build(self, node, depth: int = 0):
        self.count += 1
        if self.count > MAX_VALUES:
            raise YamlError(_line(node), "the document holds more than %d values once its aliases are expanded"
                            % MAX_VALUES)
        if depth > MAX_DEPTH:
            raise YamlError(_line(node), "mappings and lists are nested more than %d levels deep" % MAX_DEPTH)
        if isinstance(node, ScalarNode):
            return self._scalar(node)
        if id(node) in self.active:
            raise YamlError(_line(node), "an alias refers to a mapping or list that contains it")
        if isinstance(node, SequenceNode) and node.tag == _SEQ:
            build = self._sequence
        elif isinstance(node, MappingNode) and node.tag == _MAP:
            build = self._mapping
        else:
            raise self._refused(node)
        self.active.add(id(node))
        try:
            return build(node, depth)
        finally:
            self.active.discard(id(node))

    def _refused(self, node):
        return YamlError(_line(node), "the tag %s is not allowed: flow configuration is plain YAML "
                         "(mappings, lists, strings, numbers, booleans, null)" % _short_tag(node.tag))

    def _scalar(self, node):
        if node.tag == _VALUE:
            return node.value
        if node.tag not in _SCALARS:
            raise self._refused(node)
        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.MarkedYAMLError:
            raise
        except Exception as exc:  # PyYAML raises ValueError for a timestamp such as 2024-13-45
            raise YamlError(_line(node), "cannot read the value %r: %s" % (node.value[:80], exc)) from None

    def _sequence(self, node, depth):
        seq = Seq(_line(node))
        for item in node.value:
            seq.append(self.build(item, depth + 1))
            seq.item_lines.append(_line(item))
        return seq

    def _mapping(self, node, depth):
        result = Map(_line(node))
        merged = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                merged.append(value_node)
                continue
            if not isinstance(key_node, ScalarNode):
                raise YamlError(_line(key_node), "a key must be a string or another plain value, "
                                "not a mapping or a list")
            key = self.build(key_node, depth + 1)
            if key in result.key_lines:
                self.duplicates.append((_line(key_node), key, result.key_lines[key]))
            result[key] = self.build(value_node, depth + 1)
            result.key_lines[key] = _line(key_node)
            result.value_lines[key] = _line(value_node)
        # "<<: *defaults" fills in the keys the mapping does not set itself;
        # of several merged mappings, the first one listed wins.
        for value_node in merged:
            sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
            for source in sources:
                if not (isinstance(source, MappingNode) and source.tag == _MAP):
                    raise YamlError(_line(source), "a merge key (<<) takes a mapping or a list of mappings")
                part = self.build(source, depth + 1)
                for key, value in part.items():
                    if key not in result:
                        result[key] = value
                        result.key_lines[key] = part.key_lines[key]
                        result.value_lines[key] = part.value_lines[key]
        return result


def _decode(data: bytes) -> str:
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        encoding = "utf-16"
    else:
        encoding = "utf-8-sig"
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise YamlError(data.count(b"\n", 0, exc.start) + 1,
                        "the file is not valid %s text: %s" % (encoding.split("-sig")[0].upper(), exc.reason)) from None


def _syntax_error(exc: yaml.MarkedYAMLError) -> YamlError:
    mark = exc.problem_mark or exc.context_mark
    message = exc.problem or exc.context or "invalid YAML"
    if exc.context and exc.problem:
        context = exc.context
        if exc.context_mark is not None and exc.context_mark.line != getattr(mark, "line", None):
            context += " at line %d" % (exc.context_mark.line + 1)
        if exc.problem.startswith("but "):  # the composer's "expected a single document ..., but found another"
            message = "%s, %s" % (context, exc.problem)
        else:
            message = "%s (%s)" % (exc.problem, context)
    if "<block end>" in message:  # PyYAML's wording for a line indented differently from its siblings
        message += "; check the indentation"
    return YamlError(mark.line + 1 if mark is not None else None, "invalid YAML: " + message)


def loads(text: str) -> Document:
    """Load one YAML document from ``text``.

    Raises:
        YamlError: for a syntax error, a refused tag, a recursive alias, a
            document that is too deep or too large, or several documents.
    """
    loader = None
    try:
        loader = yaml.SafeLoader(text)
        node = loader.get_single_node()
        builder = _Builder(loader)
        data = None if node is None else builder.build(node)
        return Document(data, builder.duplicates)
    except YamlError:
        raise
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(exc) from None
    except yaml.reader.ReaderError as exc:
        character = " (character U+%04X)" % exc.character if isinstance(exc.character, int) else ""
        raise YamlError(text.count("\n", 0, exc.position) + 1, "invalid YAML: %s%s" % (exc.reason, character)) from None
    except RecursionError:
        raise YamlError(None, "invalid YAML: mappings and lists are nested too deeply") from None
    except yaml.YAMLError as exc:
        raise YamlError(None, "invalid YAML: %s" % exc) from None
    finally:
        if loader is not None:
            loader.dispose()


def load(path: str) -> Document:
    """Read and load the YAML file at ``path``.

    Raises:
        OSError: when the file cannot be read.
        YamlError: as :func:`loads`, and for text that is not UTF-8 or UTF-16.
    """
    with open(path, "rb") as stream:
        data = stream.read()
    return loads(_decode(data))
