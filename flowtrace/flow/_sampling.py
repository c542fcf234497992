"""A flow's ``sampling`` at run time: finding its strategy function and asking it for the next countdown.

Which function a ``sampling`` names:

- without ``import``: the function of that name in
  :mod:`flowtrace.flow.strategies`;
- ``import: selinon.strategies``: Selinon's own function when Selinon is
  installed (the YAML asked for it, and a test shows both give the same
  answers), flowtrace's of the same name otherwise, so that the YAML loads
  and runs without Selinon;
- any other ``import``: that module's function.

A strategy that raises, or returns something that is not a number or None,
does not stall the flow: the dispatcher's own countdown is used instead, the
failure is counted (:data:`failures`) and logged on the ``flowtrace`` logger,
with its traceback, at most once per report interval, as a failing sink is.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable, Dict, Optional, Tuple

from flowtrace._report import FailureCounter
from flowtrace.flow import strategies
from flowtrace.flow._options import Sampling

__all__ = ["SELINON_MODULE", "resolve", "stands_in", "ask", "failures", "status", "reset"]

#: The module a Selinon project's ``sampling: import`` names.
SELINON_MODULE = "selinon.strategies"

#: The failures of strategies in this process: counted, and logged at most once per interval.
failures = FailureCounter("sampling strategy")
_resolved: Dict[Tuple[Optional[str], str], Callable[..., Any]] = {}


class _Fault(Exception):
    """The strategy did not give a countdown."""


def resolve(sampling: Sampling) -> Callable[..., Any]:
    """The strategy function ``sampling`` names (see the module's docstring).

    Raises:
        ImportError: the module cannot be imported.
        AttributeError: it has no such function.
    """
    key = (sampling.import_path, sampling.name)
    found = _resolved.get(key)
    if found is None:
        found = getattr(_module(sampling.import_path), sampling.name)
        _resolved[key] = found
    return found


def stands_in(import_path: Optional[str]) -> bool:
    """Whether flowtrace's own strategies stand for ``import_path``: none given, or Selinon's not installed."""
    return _module(import_path) is strategies


def _module(import_path: Optional[str]):
    if import_path is None:
        return strategies
    try:
        return importlib.import_module(import_path)
    except ImportError:
        if import_path != SELINON_MODULE:
            raise
        return strategies


def status(previous_retry, active, failed, finished, started, fallback_started, async_result) -> dict:
    """The ``status`` dict a strategy is called with, with Selinon's keys.

    Args:
        previous_retry: the countdown chosen at the wake-up before, or None.
        active: the ``[name, id]`` pairs of the active nodes.
        failed: node name to its failed ids.
        finished: node name to its finished ids.
        started: the ids of the nodes started through edges by this wake-up (and active).
        fallback_started: the ids of the fallbacks it started (and active).
        async_result: ``app.AsyncResult``, for each node's ``result``.
    """
    records = {node[1]: {"name": node[0], "id": node[1], "result": async_result(node[1])} for node in active}
    return {"previous_retry": previous_retry,
            "active_nodes": list(records.values()),
            "failed_nodes": {name: list(ids) for name, ids in failed.items()},
            "finished_nodes": {name: list(ids) for name, ids in finished.items()},
            "new_started_nodes": [records[node_id] for node_id in started if node_id in records],
            "new_fallback_nodes": [records[node_id] for node_id in fallback_started if node_id in records]}


def ask(sampling: Sampling, flow_name: str, make_status: Callable[[], dict]):
    """``(ok, countdown)``: what the flow's strategy says, None meaning the flow stops retrying.

    ``ok`` is False when the strategy could not be found, raised, or
    returned something other than a number or None; the failure is counted
    and logged, and the caller uses its own countdown.
    """
    try:
        fn = resolve(sampling)
        value = fn(make_status(), **dict(sampling.args))
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                  or value != value):  # NaN
            raise _Fault("it returned %r, not a number of seconds or None" % (value,))
    except Exception as exc:
        _fault(sampling, flow_name, exc)
        return False, None
    if value is None or value < 0:
        return True, None
    return True, value


def _fault(sampling: Sampling, flow_name: str, exc: BaseException) -> None:
    failures.record("flow %r (%s.%s); the dispatcher's own countdown is used"
                    % (flow_name, sampling.import_path or strategies.__name__, sampling.name), exc)


def reset() -> None:
    """Forget the failures counted and the functions resolved (for tests)."""
    global failures
    failures = FailureCounter("sampling strategy")
    _resolved.clear()
