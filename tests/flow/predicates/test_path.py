"""Tests for flowtrace/flow/predicates/_path.py: following a key, and testing what is there."""

import operator

import pytest

from flowtrace.flow.predicates._path import MISSING, check, follow
from tests.flow.predicates import RESULT


class TestFollow:
    @pytest.mark.parametrize("key, expected", [
        ("status", "ok"),
        (["items", 1, "sku"], 2),
        (["items", -1], {"sku": 2}),          # indexes as Python has them
        ("a.b", "dotted"),                    # a dotted string is one key, never split
        (["a", "b"], "nested"),               # a list is a path
        (("a", "b"), "tuple"),                # a tuple is one key
        ([], RESULT),                         # an empty path is the value itself
        (0, "zero"),
        (["status", 0], "o"),                 # a string can be indexed too
        ("missing", MISSING),
        (["items", 2], MISSING),
        (["count", "x"], MISSING),
        ([["a"]], MISSING),                   # an unhashable key
    ])
    def test_keys(self, key, expected):
        """follow() gives the value at the key, or MISSING."""
        assert expected == follow(RESULT, key)

    def test_none(self):
        """None has no keys."""
        assert MISSING is follow(None, "status")


class TestCheck:
    def test_results(self):
        """check() is the test's truth on the value found, and False when nothing is found or the test raises."""
        assert [True, False, False, False] == [
            check(RESULT, "count", operator.gt, 2),
            check(RESULT, "count", operator.gt, 3),
            check(RESULT, "missing", operator.gt, 2),
            check(RESULT, "count", operator.gt, "2"),
        ]

    def test_answer_without_a_truth_value(self):
        """A test whose answer has no truth value is false."""
        class Undecided:
            def __bool__(self):
                raise ValueError("ambiguous")

        assert False is check(RESULT, "count", lambda found: Undecided())
