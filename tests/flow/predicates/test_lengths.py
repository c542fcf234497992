"""Tests for flowtrace/flow/predicates/_lengths.py: the length of the value at a key."""

import pytest

from flowtrace.flow.predicates import _lengths
from tests.flow.predicates._table import TWINS, call, coverage

# (predicate without its field/argsField prefix, key, length, expected); "tags" has 2 items
ROWS = [
    ("LenEqual", "tags", 2, True),
    ("LenEqual", "items", 2, True),
    ("LenEqual", "status", 2, True),               # a string's length
    ("LenEqual", "a", 1, True),                    # a mapping's
    ("LenEqual", "empty", 0, True),
    ("LenEqual", "tags", 2.0, True),               # 2 == 2.0
    ("LenEqual", "tags", 3, False),
    ("LenEqual", "count", 3, False),               # a number has no length
    ("LenEqual", "none", 0, False),
    ("LenEqual", "missing", 0, False),
    ("LenEqual", "tags", "2", False),
    ("LenNotEqual", "tags", 3, True),
    ("LenNotEqual", "tags", "2", True),            # a length is never the text "2"
    ("LenNotEqual", "tags", 2, False),
    ("LenNotEqual", "count", 5, False),            # no length: false, not "different"
    ("LenNotEqual", "missing", 5, False),
    ("LenGreater", "tags", 1, True),
    ("LenGreater", "tags", -1, True),
    ("LenGreater", "tags", 2, False),
    ("LenGreater", "tags", "one", False),          # 2 > "one" cannot be compared
    ("LenGreater", "count", 0, False),
    ("LenGreaterEqual", "tags", 2, True),          # Selinon 1.4's meaning: at most
    ("LenGreaterEqual", "tags", 5, True),
    ("LenGreaterEqual", "tags", 1, False),
    ("LenGreaterEqual", "missing", 5, False),
    ("LenGreaterEqual", "tags", None, False),
    ("LenLess", "tags", 3, True),
    ("LenLess", "empty", 1, True),
    ("LenLess", "tags", 2, False),
    ("LenLess", "missing", 3, False),
    ("LenLess", "none", 3, False),
]


class TestLengths:
    @TWINS
    @pytest.mark.parametrize("suffix, key, length, expected", ROWS)
    def test_table(self, prefix, reads, suffix, key, length, expected):
        """Each predicate and its argsField twin give the row's result for the row's key and length."""
        assert expected is call(prefix, reads, suffix, key=key, length=length)

    @TWINS
    def test_greater_equal_is_at_most(self, prefix, reads):
        """fieldLenGreaterEqual keeps Selinon 1.4's meaning, len <= length, over lengths 0 to 4 of a 2-item list."""
        assert [False, False, True, True, True] == [call(prefix, reads, "LenGreaterEqual", key="tags", length=n)
                                                    for n in range(5)]

    def test_length_that_raises(self):
        """A value whose len() raises makes the predicate false, not an error."""
        class Broken:
            def __len__(self):
                return -1  # len() raises ValueError

        assert [False] * 5 == [call("field", "message", suffix, {"b": Broken()}, key="b", length=0)
                               for suffix in ("LenEqual", "LenNotEqual", "LenGreater", "LenGreaterEqual", "LenLess")]

    def test_every_predicate_has_a_true_and_a_false_row(self):
        """The table reaches both results of every predicate of the family."""
        assert [] == coverage(ROWS, _lengths)
