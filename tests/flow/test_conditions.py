"""Tests for flowtrace/flow/conditions.py: evaluating and describing condition trees."""

import pytest

from flowtrace.flow import conditions
from flowtrace.flow.model import And, FrozenMap, Not, Or, Predicate
from tests.flow.predicates import RESULT


def leaf(name, node=None, reads_result=False, reads_node_args=False, **args):
    return Predicate(name, node, FrozenMap(args), reads_result, reads_node_args)


class TestEvaluate:
    def test_result_predicate(self):
        """A predicate that reads a result gets it from result_of(node)."""
        asked = []

        def result_of(node):
            asked.append(node)
            return RESULT

        condition = leaf("fieldEqual", "fetch", reads_result=True, key="status", value="ok")
        assert (True, ["fetch"]) == (conditions.evaluate(condition, result_of=result_of), asked)

    def test_node_args_predicate(self):
        """A predicate that reads the flow's arguments gets node_args."""
        condition = leaf("argsFieldEqual", reads_node_args=True, key="x", value=1)
        assert [True, False] == [conditions.evaluate(condition, node_args={"x": 1}),
                                 conditions.evaluate(condition, node_args={"x": 2})]

    def test_and_or_not_short_circuit(self):
        """and/or stop at the first child that decides, so later results are not read."""
        asked = []

        def result_of(node):
            asked.append(node)
            return RESULT

        fails = leaf("fieldExist", "a", reads_result=True, key="missing")
        holds = leaf("fieldExist", "b", reads_result=True, key="status")
        assert [False, True, True, False] == [
            conditions.evaluate(And((fails, holds)), result_of=result_of),
            conditions.evaluate(Or((holds, fails)), result_of=result_of),
            conditions.evaluate(Not(fails), result_of=result_of),
            conditions.evaluate(Not(Or((fails, holds))), result_of=result_of),
        ]
        assert ["a", "b", "a", "a", "b"] == asked

    def test_user_predicate(self):
        """A user predicate is found in the predicates module."""
        condition = leaf("amountAbove", "charge", reads_result=True, limit=100)
        module = "tests.flow.sample"
        assert [True, False] == [
            conditions.evaluate(condition, result_of=lambda node: {"amount": amount}, predicates_module=module)
            for amount in (150, 50)
        ]

    def test_user_predicate_raises(self):
        """What a user predicate raises reaches the caller."""
        condition = leaf("amountAbove", "charge", reads_result=True, limit=100)
        with pytest.raises(AttributeError):
            conditions.evaluate(condition, result_of=lambda node: None, predicates_module="tests.flow.sample")

    def test_not_a_condition(self):
        """Anything but a condition object is a TypeError; strings are never evaluated."""
        with pytest.raises(TypeError):
            conditions.evaluate("alwaysTrue()")


class TestDescribe:
    def test_text(self):
        """describe() writes a condition as one line, with parentheses only where needed."""
        condition = And((
            leaf("fieldEqual", "fetch", key="status", value="ok"),
            Not(Or((leaf("argsFieldExist", key="dry_run"), leaf("alwaysFalse")))),
        ))
        assert "fieldEqual(fetch, key='status', value='ok') and not (argsFieldExist(key='dry_run') or alwaysFalse())" \
            == conditions.describe(condition)
