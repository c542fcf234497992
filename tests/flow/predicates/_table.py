"""The shape of the predicate tests' tables: one row per call, run on a result and on the flow's arguments."""

import pytest

from flowtrace.flow.predicates import BUILTINS
from tests.flow.predicates import RESULT

TWINS = pytest.mark.parametrize("prefix, reads", [("field", "message"), ("argsField", "node_args")])


def call(prefix, reads, suffix, data=RESULT, **args):
    """Call the twin ``prefix + suffix`` with ``data`` as its ``message`` or ``node_args``."""
    return BUILTINS[prefix + suffix](**{reads: data}, **args)


def coverage(rows, family, prefixes=("field", "argsField")):
    """The names of ``family`` that ``rows`` leave without a true or a false row: empty when all are covered."""
    outcomes = {}
    for row in rows:
        suffix, expected = row[0], row[-1]
        outcomes.setdefault(suffix, set()).add(expected)
    names = {prefix + suffix for prefix in prefixes for suffix, seen in outcomes.items() if seen == {True, False}}
    return sorted(fn.__name__ for fn in family.PREDICATES if fn.__name__ not in names)
