"""What a wake-up needs from the outside world (:class:`Ports`), and what a port may raise (:class:`Postpone`).

The dispatcher implements :class:`Ports` on Celery (``_CeleryPorts`` in
:mod:`flowtrace.flow.dispatcher`); the tests implement it without a broker.
:mod:`flowtrace.flow._wakeup` re-exports every name here.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

__all__ = ["Ports", "Postpone", "SUCCESS", "FAILURE"]

#: The node outcomes ports.outcome() reports; anything else means still running.
SUCCESS, FAILURE = "SUCCESS", "FAILURE"


class Postpone(Exception):
    """A storage or the result backend failed: wake up again later with the state as it is now."""


class Ports:
    """What a wake-up needs from the outside world; the dispatcher implements it on Celery.

    Every method may raise :class:`Postpone`.
    """

    def outcome(self, name: str, node_id: str, is_flow: bool) -> Tuple[Optional[str], Any]:
        """``(SUCCESS, None)``, ``(FAILURE, what)`` or ``(None, None)`` while the node runs."""
        raise NotImplementedError

    def result(self, task_name: str, task_id: str):
        """The stored result of a task of this flow."""
        raise NotImplementedError

    def results(self, id_mapping: Dict[str, str]):
        """What a ``foreach`` function gets as its storage pool: ``.get(name)`` reads a result."""
        raise NotImplementedError

    def finished_of(self, flow_name: str, flow_id: str) -> dict:
        """The finished tasks of an ended sub-flow, nested by sub-flow (for ``propagate_finished``)."""
        raise NotImplementedError

    def failed_of(self, flow_name: str, flow_id: str) -> dict:
        """The failed tasks of a failed sub-flow, nested by sub-flow (for ``propagate_failures``)."""
        raise NotImplementedError

    def countdown(self, name: str, is_flow: bool) -> Optional[float]:
        """Seconds the start of node ``name`` waits (its ``throttling``), or None to start it at once."""
        return None

    def send_task(self, name: str, task_id: str, node_args, parent, countdown: Optional[float] = None) -> str:
        """Send the task's message (due ``countdown`` seconds from now); returns its queue."""
        raise NotImplementedError

    def send_flow(self, name: str, dispatcher_id: str, node_args, parent, countdown: Optional[float] = None,
                  selective: Optional[dict] = None) -> str:
        """Send a child dispatcher's first message (due ``countdown`` seconds from now); returns its queue.

        ``selective`` is the sub-flow's selection in a selective run; it is passed only when there is one.
        """
        raise NotImplementedError
