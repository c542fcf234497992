"""Tests for flowtrace/flow/load/_words.py: how suggestions are made."""

import pytest

from flowtrace.flow import predicates
from flowtrace.flow.load._words import nearest


class TestNearest:
    @pytest.mark.parametrize("word, expected", [
        ("fieldEqul", "fieldEqual"),
        ("fieldGreatr", "fieldGreater"),
        ("fieldequal", "fieldEqual"),             # case is ignored
        ("FIELDLENGREATER", "fieldLenGreater"),
        ("argsFieldUrlNetlock", "argsFieldUrlNetloc"),
        ("isDictionary", "isDict"),
        ("envExists", "envExist"),
        ("httpstatus", "httpStatus"),
        ("somethingElse", None),                  # nothing close: no suggestion
    ])
    def test_predicate_names(self, word, expected):
        """A misspelt predicate name finds the nearest built-in, or nothing."""
        assert expected == nearest(word, predicates.names())

    def test_only_a_choice(self):
        """The suggestion is always one of the choices as written, and non-strings are never suggested."""
        assert ("isList", None) == (nearest("ISLIST", ["isList", 3, "isStr"]), nearest("3", [3]))
