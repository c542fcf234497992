"""Tests for flowtrace.flow.strategies: Selinon 1.4's sampling strategies, answer for answer."""

import itertools
import random as stdlib_random

import pytest

from flowtrace.flow import strategies
from flowtrace.flow._options import STRATEGIES

selinon_strategies = pytest.importorskip("selinon.strategies")

NODE = {"name": "A", "id": "a1"}


def statuses():
    """Every combination of a previous retry, active nodes and new started / fallback nodes that matters."""
    for previous, active, started, fallback in itertools.product(
            (None, 0, 1, 2, 3.5, 7, 60, 119, 120, 240), ([], [NODE]), ([], [NODE]), ([], [NODE])):
        yield {"previous_retry": previous, "active_nodes": active, "failed_nodes": {}, "finished_nodes": {},
               "new_started_nodes": started, "new_fallback_nodes": fallback}


ARGS = {
    "constant": [{"retry": 0}, {"retry": 5}, {"retry": 2.5}],
    "linear_increase": [{"start_retry": 2, "max_retry": 120, "step": 3}, {"start_retry": 1, "max_retry": 4,
                                                                         "step": 1.5}],
    "linear_adapt": [{"start_retry": 2, "max_retry": 120, "step": 3}, {"start_retry": 1, "max_retry": 4, "step": 2}],
    "biexponential_increase": [{"start_retry": 2, "max_retry": 120}, {"start_retry": 1, "max_retry": 7}],
    "biexponential_decrease": [{"start_retry": 64, "stop_retry": 2}, {"start_retry": 5, "stop_retry": 3}],
    "biexponential_adapt": [{"start_retry": 2, "max_retry": 120}, {"start_retry": 1, "max_retry": 7}],
}


class TestNames:
    """The module has Selinon's strategies, with their names and arguments."""

    def test_same_functions(self):
        """Every strategy of the catalogue is here, and takes ``status`` and the catalogue's arguments."""
        import inspect

        found = {name: tuple(inspect.signature(getattr(strategies, name)).parameters) for name in STRATEGIES}
        assert {name: ("status",) + args for name, args in STRATEGIES.items()} == found
        assert sorted(STRATEGIES) == sorted(strategies.__all__)

    def test_same_signatures_as_selinon(self):
        """Each takes Selinon's parameters, by name, kind and default."""
        import inspect

        def shape(fn):
            return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]

        assert {name: shape(getattr(selinon_strategies, name)) for name in STRATEGIES} == {
            name: shape(getattr(strategies, name)) for name in STRATEGIES}


class TestDifferential:
    """For every status and arguments, flowtrace's answer is Selinon's."""

    @pytest.mark.parametrize("name", sorted(ARGS))
    def test_table(self, name):
        """The whole table of answers of one strategy equals Selinon's."""
        ours, theirs = getattr(strategies, name), getattr(selinon_strategies, name)
        table = [(args, dict(status), ours(status, **args)) for args in ARGS[name] for status in statuses()]
        assert [(args, status, theirs(status, **args)) for args, status, _ in table] == table

    def test_random(self):
        """``random`` draws the same whole numbers from the same random state, and None once nothing is active."""
        status = next(s for s in statuses() if s["active_nodes"])
        stdlib_random.seed(7)
        ours = [strategies.random(status, 2, 9) for _ in range(200)]
        stdlib_random.seed(7)
        theirs = [selinon_strategies.random(status, 2, 9) for _ in range(200)]
        assert (theirs, set(range(2, 10))) == (ours, set(ours))
        assert (None, None) == (strategies.random(dict(status, active_nodes=[]), 2, 9),
                                selinon_strategies.random(dict(status, active_nodes=[]), 2, 9))


class TestExamples:
    """A few answers written out, which hold with or without Selinon."""

    def test_biexponential_increase_doubles_after_starts(self):
        """Selinon's default doubles after a wake-up that started nodes, and falls back to the start after one that did not."""
        base = {"active_nodes": [NODE], "new_fallback_nodes": [], "failed_nodes": {}, "finished_nodes": {}}
        answers = [strategies.biexponential_increase(dict(base, previous_retry=p, new_started_nodes=s), 2, 120)
                   for p, s in ((None, [NODE]), (2, [NODE]), (64, [NODE]), (8, []))]
        assert [2, 4, 120, 2] == answers
