"""The msg dicts of the flow events, built in one place from what the dispatcher and the task runner hold.

Every event about a whole flow carries :func:`flow`'s keys; a wake-up's own
events (``DISPATCHER_WAKEUP``, ``DISPATCHER_RETRY``) add the state it woke
with (:func:`wakeup`). The events a wake-up emits about the nodes of its flow
start with :func:`dispatcher`'s keys, to which :func:`edge`,
:func:`fallback`, :func:`task_schedule` and :func:`subflow_schedule` add
theirs, and the events where it sees a node end (``NODE_SUCCESSFUL``,
``NODE_FAILURE``) add ``node_name`` and ``node_id``. A flow task's own events
carry :func:`task`'s keys. The keys of each event are listed in
``flowtrace.events``.
"""

from __future__ import annotations

from typing import Any, Optional

from flowtrace.flow.conditions import describe
from flowtrace.flow.model import Edge

#: ``TASK_SCHEDULE``'s ``selective_edge``: always False, as in Selinon (a selective edge starts a sub-flow).
SELECTIVE_EDGE = False


def flow(flow_name: str, dispatcher_id: str, node_args: Any, queue: str, selective: Any = False) -> dict:
    """The keys of the events about a whole flow: ``FLOW_SCHEDULE``, ``FLOW_END``, ``FLOW_FAILURE`` and others.

    ``selective`` is every flow event's: the selection of a selective run
    (``flowtrace.flow._selective``), False otherwise, as in Selinon.
    """
    return {"flow_name": flow_name, "dispatcher_id": dispatcher_id, "node_args": node_args, "queue": queue,
            "selective": selective}


def wakeup(flow_msg: dict, state: Any, retry: Optional[float], retried_count: int, parent: Any) -> dict:
    """:func:`flow`'s keys and the state a wake-up woke with: ``DISPATCHER_WAKEUP`` and ``DISPATCHER_RETRY``."""
    return {**flow_msg, "state": state, "retry": retry, "retried_count": retried_count, "parent": parent}


def dispatcher(flow_name: str, dispatcher_id: str, selective: Any = False) -> dict:
    """The keys every event a wake-up emits about its flow's nodes starts with."""
    return {"flow_name": flow_name, "dispatcher_id": dispatcher_id, "selective": selective}


def node_state(flow_name: str, dispatcher_id: str, node_name: str, node_id: str, parent: Any, queue: str,
               selective: Any = False) -> dict:
    """The keys of an event about reading a node's state: ``RESULT_BACKEND_ISSUE``."""
    return {"flow_name": flow_name, "dispatcher_id": dispatcher_id, "node_name": node_name, "node_id": node_id,
            "parent": parent, "queue": queue, "selective": selective}


def edge(base: dict, tried: Edge, parent: dict, node_args: Any) -> dict:
    """``base`` (:func:`dispatcher`) and the edge tried: ``EDGE_COND_FALSE`` and ``FOREACH_RESULT``."""
    return {**base, "nodes_from": list(tried.nodes_from), "nodes_to": list(tried.nodes_to),
            "condition_str": describe(tried.condition), "foreach_str": _foreach_str(tried), "parent": parent,
            "node_args": node_args}


def fallback(base: dict, nodes: list, to_start: Any) -> dict:
    """``base`` (:func:`dispatcher`), the failed nodes and their fallback (True or what it starts): ``FALLBACK_*``."""
    return {**base, "nodes": nodes, "fallback": to_start}


def task_schedule(base: dict, task_name: str, task_id: str, parent: Any, node_args: Any, queue: str,
                  edge: Optional[Edge], countdown: Optional[float] = None) -> dict:
    """``base`` (:func:`dispatcher`) and the task sent: ``TASK_SCHEDULE``; ``edge`` is None for a fallback.

    ``countdown`` is its throttling's wait in seconds, None when it starts at once.
    """
    return {**base, "task_name": task_name, "task_id": task_id, "parent": parent, "node_args": node_args,
            "queue": queue, "countdown": countdown, "condition_str": _condition_str(edge),
            "foreach_str": _foreach_str(edge), "selective_edge": SELECTIVE_EDGE}


def subflow_schedule(base: dict, flow_name: str, dispatcher_id: str, parent: Any, node_args: Any, queue: str,
                     edge: Optional[Edge], countdown: Optional[float] = None) -> dict:
    """``base`` (:func:`dispatcher`) and the sub-flow started: ``SUBFLOW_SCHEDULE``; ``edge`` as for a task."""
    return {**base, "child_flow_name": flow_name, "child_dispatcher_id": dispatcher_id, "parent": parent,
            "node_args": node_args, "queue": queue, "countdown": countdown, "condition_str": _condition_str(edge),
            "foreach_str": _foreach_str(edge)}


def task(task_name: str, task_id: str, flow_name: str, dispatcher_id: str, parent: Any, node_args: Any,
         queue: str, retried_count: int) -> dict:
    """The keys of a flow task's own events: ``TASK_DISCARD_RESULT``."""
    return {"task_name": task_name, "task_id": task_id, "flow_name": flow_name, "dispatcher_id": dispatcher_id,
            "parent": parent, "node_args": node_args, "queue": queue, "retried_count": retried_count}


def _condition_str(edge: Optional[Edge]) -> Optional[str]:
    return None if edge is None else describe(edge.condition)


def _foreach_str(edge: Optional[Edge]) -> Optional[str]:
    if edge is None or edge.foreach is None:
        return None
    return "%s.%s" % (edge.foreach.import_path, edge.foreach.function)
