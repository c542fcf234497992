"""Tests for flowtrace/flow/predicates/_types.py: the type of the value at a key."""

import pytest

from flowtrace.flow.predicates import _types
from tests.flow.predicates._table import TWINS, call, coverage

# (predicate without its field/argsField prefix, key, expected)
ROWS = [
    ("Bool", "flag", True),
    ("Bool", "count", False),
    ("Bool", "none", False),
    ("Bool", "missing", False),
    ("Dict", "a", True),
    ("Dict", ["items", 0], True),
    ("Dict", "tags", False),
    ("Dict", "missing", False),
    ("Float", "price", True),
    ("Float", "count", False),                     # an int is not a float
    ("Float", "missing", False),
    ("Int", "count", True),
    ("Int", "flag", True),                         # True is an int in Python
    ("Int", "price", False),
    ("Int", "missing", False),
    ("List", "tags", True),
    ("List", "pair", False),                       # a tuple is not a list
    ("List", "status", False),
    ("List", "missing", False),
    ("None", "none", True),
    ("None", "empty", False),
    ("None", "missing", False),                    # a missing key does not hold None
    ("Str", "status", True),
    ("Str", "empty", True),
    ("Str", "raw", False),                         # bytes are not a string
    ("Str", "missing", False),
]


class TestTypes:
    @TWINS
    @pytest.mark.parametrize("suffix, key, expected", ROWS)
    def test_table(self, prefix, reads, suffix, key, expected):
        """Each predicate and its argsField twin give the row's result for the row's key."""
        assert expected is call(prefix, reads, suffix, key=key)

    @TWINS
    def test_not_a_container(self, prefix, reads):
        """A result or arguments with no keys make every type predicate false."""
        assert [False] * 7 == [call(prefix, reads, suffix, None, key="status")
                               for suffix in ("Bool", "Dict", "Float", "Int", "List", "None", "Str")]

    def test_every_predicate_has_a_true_and_a_false_row(self):
        """The table reaches both results of every predicate of the family."""
        assert [] == coverage(ROWS, _types)
