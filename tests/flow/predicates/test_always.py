"""Tests for flowtrace/flow/predicates/_always.py: the predicates that read nothing."""

from flowtrace.flow import predicates


class TestAlways:
    def test_always(self):
        """alwaysTrue and alwaysFalse take nothing and return what they say."""
        assert (True, False) == (predicates.alwaysTrue(), predicates.alwaysFalse())
