"""The state of one flow: what it has done so far, as it travels from one wake-up of its dispatcher to the next.

The state is plain JSON, carried in the dispatcher's own message, with
Selinon's key names (:meth:`FlowState.to_dict`); a wake-up
(``flowtrace.flow._wakeup``) rebuilds it, changes it and sends it on.
"""

from __future__ import annotations

from typing import Any, Dict

__all__ = ["FlowState"]


class FlowState:
    """What a flow has done so far; :meth:`to_dict` is what travels in the dispatcher's message.

    Attributes:
        active: node id to the ``[name, id]`` pair of each node started and
            waited for, oldest first. The pairs are shared with the data the
            state was built from and with :meth:`to_dict`'s, never changed: the
            state goes in and out of every message, and the flow's size should
            cost as little as possible there.
        finished: node name to the ids of its successful runs, in order.
        failed: node name to the ids of its failed runs no fallback handled yet.
        doomed: a fallback with ``propagate_failure`` ran: the flow fails when it ends.
    """

    __slots__ = ("active", "finished", "failed", "doomed")

    def __init__(self, active=(), finished=None, failed=None, doomed=False):
        """``active`` is a sequence of ``[name, id]`` lists, oldest first."""
        self.active = {node[1]: node for node in active}
        self.finished = {name: list(ids) for name, ids in (finished or {}).items()}
        self.failed = {name: list(ids) for name, ids in (failed or {}).items()}
        self.doomed = bool(doomed)

    @classmethod
    def from_dict(cls, data) -> "FlowState":
        """Rebuild the state from :meth:`to_dict`; ``None`` is a flow that has not started."""
        data = data or {}
        return cls(data.get("active_nodes", ()), data.get("finished_nodes"), data.get("failed_nodes"),
                   data.get("doomed", False))

    def to_dict(self) -> dict:
        """The state as JSON-ready data, with Selinon's key names."""
        state: Dict[str, Any] = {"active_nodes": list(self.active.values()),
                                 "finished_nodes": {name: list(ids) for name, ids in self.finished.items()},
                                 "failed_nodes": {name: list(ids) for name, ids in self.failed.items()}}
        if self.doomed:
            state["doomed"] = True
        return state
