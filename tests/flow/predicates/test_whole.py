"""Tests for flowtrace/flow/predicates/_whole.py: predicates of the whole result or the whole arguments."""

import pytest

from flowtrace.flow.predicates import BUILTINS, _whole
from tests.flow.predicates._table import coverage

# (predicate of a result, value, expected); each has an args... twin of the flow's arguments
ROWS = [
    ("empty", {"a": 1}, True),                     # Selinon 1.4's meaning: true when NOT empty
    ("empty", [0], True),
    ("empty", "x", True),
    ("empty", 1, True),
    ("empty", {}, False),
    ("empty", [], False),
    ("empty", "", False),
    ("empty", 0, False),
    ("empty", False, False),
    ("empty", None, False),
    ("isBool", False, True),
    ("isBool", 0, False),
    ("isBool", None, False),
    ("isDict", {}, True),
    ("isDict", [], False),
    ("isFloat", 1.0, True),
    ("isFloat", 1, False),
    ("isInt", 1, True),
    ("isInt", True, True),                         # True is an int in Python
    ("isInt", 1.0, False),
    ("isInt", "1", False),
    ("isList", [], True),
    ("isList", (), False),                         # a tuple is not a list
    ("isNone", None, True),
    ("isNone", {}, False),
    ("isNone", 0, False),
    ("isStr", "", True),
    ("isStr", b"", False),
    ("isStr", None, False),
]

TWINS = pytest.mark.parametrize("prefix, reads", [("", "message"), ("args", "node_args")])


def twin(prefix, name):
    """``empty`` -> ``argsEmpty``, ``isBool`` -> ``argsIsBool``."""
    return prefix + name[0].upper() + name[1:] if prefix else name


class TestWhole:
    @TWINS
    @pytest.mark.parametrize("name, value, expected", ROWS)
    def test_table(self, prefix, reads, name, value, expected):
        """Each predicate and its args twin give the row's result for the row's value."""
        assert expected is BUILTINS[twin(prefix, name)](**{reads: value})

    @TWINS
    def test_no_truth_value(self, prefix, reads):
        """A value whose truth value raises makes empty and argsEmpty false (Selinon raises)."""
        class Undecided:
            def __bool__(self):
                raise ValueError("ambiguous")

        assert False is BUILTINS[twin(prefix, "empty")](**{reads: Undecided()})

    def test_every_predicate_has_a_true_and_a_false_row(self):
        """The table reaches both results of every predicate of the family, for both twins."""
        rows = [(twin(prefix, name), value, expected) for prefix in ("", "args") for name, value, expected in ROWS]
        assert [] == coverage(rows, _whole, prefixes=("",))
