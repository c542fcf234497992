"""Tests for flowtrace/flow/predicates/_values.py: the value at a key, compared."""

import pytest

from flowtrace.flow.predicates import _values
from tests.flow.predicates._table import TWINS, call, coverage

# (predicate without its field/argsField prefix, key, value or None for Exist, expected)
ROWS = [
    ("Exist", "status", None, True),
    ("Exist", "none", None, True),                 # a key holding None exists
    ("Exist", ["items", 0, "sku"], None, True),    # a path of keys and indexes
    ("Exist", [], None, True),                     # an empty path leads to the whole value
    ("Exist", "a.b", None, True),                  # a dotted string is one key
    ("Exist", ("a", "b"), None, True),             # so is a tuple
    ("Exist", 0, None, True),
    ("Exist", "missing", None, False),
    ("Exist", ["items", 5], None, False),          # an index past the end
    ("Exist", ["status", "x"], None, False),       # a string has no key "x"
    ("Exist", ["tags", "0"], None, False),         # a list index given as text
    ("Exist", [["a"]], None, False),               # a key that cannot be hashed
    ("Exist", None, None, False),
    ("Equal", "status", "ok", True),
    ("Equal", ["items", 1, "sku"], 2, True),
    ("Equal", "none", None, True),
    ("Equal", "a.b", "dotted", True),
    ("Equal", ["a", "b"], "nested", True),
    ("Equal", "tags", ["a", "b"], True),
    ("Equal", "count", 3.0, True),                 # Python's equality: 3 == 3.0
    ("Equal", "flag", 1, True),                    # and True == 1
    ("Equal", "status", "failed", False),
    ("Equal", "missing", None, False),             # a missing key is not None
    ("Equal", "count", "3", False),
    ("NotEqual", "status", "failed", True),
    ("NotEqual", "count", "3", True),
    ("NotEqual", "status", "ok", False),
    ("NotEqual", "missing", "anything", False),    # a missing key differs from nothing
    ("Greater", "count", 2, True),
    ("Greater", "price", 2, True),
    ("Greater", "status", "a", True),              # strings compare as text
    ("Greater", "count", 3, False),
    ("Greater", "count", "2", False),              # 3 > "2" cannot be compared
    ("Greater", "none", 0, False),
    ("Greater", "missing", 0, False),
    ("GreaterEqual", "count", 3, True),
    ("GreaterEqual", "tags", ["a"], True),         # lists compare item by item
    ("GreaterEqual", "count", 4, False),
    ("GreaterEqual", "count", None, False),
    ("Less", "count", 4, True),
    ("Less", "price", 2.6, True),
    ("Less", "count", 3, False),
    ("Less", "a", {"b": "z"}, False),              # dicts have no order
    ("LessEqual", "count", 3, True),
    ("LessEqual", "count", 2, False),
    ("LessEqual", "missing", 3, False),
    ("Contain", "tags", "a", True),
    ("Contain", "status", "o", True),              # a part of a string
    ("Contain", "a", "b", True),                   # a key of a mapping
    ("Contain", "tags", "z", False),
    ("Contain", "count", 3, False),                # a number contains nothing
    ("Contain", "status", 1, False),               # 1 in "ok" cannot be asked
    ("Contain", "missing", "a", False),
]


class TestValues:
    @TWINS
    @pytest.mark.parametrize("suffix, key, value, expected", ROWS)
    def test_table(self, prefix, reads, suffix, key, value, expected):
        """Each predicate and its argsField twin give the row's result for the row's key and value."""
        args = {"key": key} if suffix == "Exist" else {"key": key, "value": value}
        assert expected is call(prefix, reads, suffix, **args)

    @TWINS
    @pytest.mark.parametrize("data", [None, 3, "text", ["a"]])
    def test_not_a_mapping(self, prefix, reads, data):
        """A result or arguments that are not a mapping have no key "status": every predicate is false."""
        assert [False] * 8 == [call(prefix, reads, suffix, data, key="status", **({} if suffix == "Exist" else
                                                                                     {"value": "ok"}))
                               for suffix in ("Exist", "Equal", "NotEqual", "Greater", "GreaterEqual", "Less",
                                              "LessEqual", "Contain")]

    def test_comparison_that_raises(self):
        """A value whose comparison raises makes the predicate false, not an error."""
        class Grumpy:
            def __eq__(self, other):
                raise RuntimeError("no")

            __ne__ = __lt__ = __gt__ = __le__ = __ge__ = __contains__ = __eq__

        data = {"g": Grumpy()}
        assert [False] * 7 == [call("field", "message", suffix, data, key="g", value=1)
                               for suffix in ("Equal", "NotEqual", "Greater", "GreaterEqual", "Less", "LessEqual",
                                              "Contain")]

    def test_every_predicate_has_a_true_and_a_false_row(self):
        """The table reaches both results of every predicate of the family."""
        assert [] == coverage(ROWS, _values)
