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
        has_node_args: whether :attr:`node_args` replaces the arguments in the
            dispatcher's message (``node_args_from_first``; the message keeps
            the flow's own, which a retry of the whole flow starts from).
        node_args: the node arguments of the rest of the flow, when
            :attr:`has_node_args`; None otherwise.
    """

    __slots__ = ("active", "finished", "failed", "doomed", "has_node_args", "node_args")

    def __init__(self, active=(), finished=None, failed=None, doomed=False):
        """``active`` is a sequence of ``[name, id]`` lists, oldest first."""
        self.active = {node[1]: node for node in active}
        self.finished = {name: list(ids) for name, ids in (finished or {}).items()}
        self.failed = {name: list(ids) for name, ids in (failed or {}).items()}
        self.doomed = bool(doomed)
        self.has_node_args = False
        self.node_args: Any = None

    def set_node_args(self, node_args: Any) -> None:
        """From now on the flow's nodes get ``node_args``: the result of its first task."""
        self.has_node_args = True
        self.node_args = node_args

    @classmethod
    def from_dict(cls, data) -> "FlowState":
        """Rebuild the state from :meth:`to_dict`; ``None`` is a flow that has not started."""
        data = data or {}
        state = cls(data.get("active_nodes", ()), data.get("finished_nodes"), data.get("failed_nodes"),
                    data.get("doomed", False))
        if "node_args" in data:
            state.set_node_args(data["node_args"])
        return state

    def to_dict(self) -> dict:
        """The state as JSON-ready data, with Selinon's key names."""
        state: Dict[str, Any] = {"active_nodes": list(self.active.values()),
                                 "finished_nodes": {name: list(ids) for name, ids in self.finished.items()},
                                 "failed_nodes": {name: list(ids) for name, ids in self.failed.items()}}
        if self.doomed:
            state["doomed"] = True
        if self.has_node_args:
            state["node_args"] = self.node_args
        return state
