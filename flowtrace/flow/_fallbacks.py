"""The fallbacks of a wake-up: which ``failures`` entries handle the failed nodes, once nothing runs.

The ``failures`` entries are matched against the failed nodes, the one
naming the most of them first (in the order written among equals). An entry
whose condition is false is passed over (``FALLBACK_COND_FALSE``); the first
one that holds (``FALLBACK_COND_TRUE``, ``FALLBACK_START``) takes one failed
run of each of its nodes and starts its fallback, with those runs as parent
(``flowtrace.flow._propagate.fallback_parent``). ``fallback: true`` starts
nothing and forgets the failures; ``propagate_failure`` makes the flow fail
when it ends anyway. Matching goes on until no entry matches.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, List, Literal, Optional, Union

from flowtrace.flow import _msg, _propagate
from flowtrace.flow.conditions import describe, evaluate
from flowtrace.flow.model import Failure
from flowtrace.trace import Trace

if TYPE_CHECKING:
    from flowtrace.flow._wakeup import WakeUp

__all__ = ["run_fallbacks"]


def run_fallbacks(wakeup: WakeUp) -> None:
    """Run the fallbacks that match the failed nodes of ``wakeup``'s state; the largest matching set first.

    Raises:
        flowtrace.flow._wakeup.Postpone: reading a failed sub-flow's tasks
            failed; nothing of that entry was done.
    """
    state = wakeup.state
    declined: List[Failure] = []
    while True:
        entry = _matching_failure(wakeup.flow.failures, state.failed, declined)
        if entry is None:
            return
        nodes = [{"name": name, "id": state.failed[name][0]} for name in entry.nodes]
        fallback: Union[Literal[True], List[str]] = True if entry.fallback is True else list(entry.fallback)
        msg = _msg.fallback(wakeup.base, nodes, fallback)
        condition_str = describe(entry.condition)
        if not evaluate(entry.condition, node_args=wakeup.node_args,
                        predicates_module=wakeup.config.settings.predicates_module):
            Trace.log(Trace.FALLBACK_COND_FALSE, msg, condition_str=condition_str)
            declined.append(entry)
            continue
        # May postpone: nothing has changed yet.
        parent = _propagate.fallback_parent(wakeup.config, wakeup.flow, wakeup.ports, nodes)
        Trace.log(Trace.FALLBACK_COND_TRUE, msg, condition_str=condition_str)
        Trace.log(Trace.FALLBACK_START, msg)
        for name in entry.nodes:
            state.failed[name].pop(0)
            if not state.failed[name]:
                del state.failed[name]
        wakeup.changed = True
        if entry.propagate_failure:
            state.doomed = True
        if fallback is not True:
            for name in fallback:
                wakeup.start(name, wakeup.node_args, parent)


def _matching_failure(failures, failed, declined) -> Optional[Failure]:
    best = None
    for entry in failures:
        if any(entry is other for other in declined):
            continue
        if all(name in failed for name in entry.nodes):
            if best is None or len(entry.nodes) > len(best.nodes):
                best = entry
    return best
