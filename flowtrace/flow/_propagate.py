"""What a wake-up tells a node about the nodes before it: the ``propagate_*`` options of a flow.

A task's ``parent`` maps the name of each task before it to that run's id.
A sub-flow before it appears under its own name, as a mapping of its tasks,
when the flow's options say so:

- ``propagate_finished`` (and ``propagate_failures``, for a fallback): the
  sub-flow's finished (failed) tasks, with those of its own sub-flows nested
  under their names, as Selinon nests them: ``{"sub": {"T1": [id],
  "subsub": {"T2": [id]}}}``; a task reads one as
  ``parent_flow_result(["sub", "subsub"], "T2")``;
- ``propagate_compound_finished`` (``propagate_compound_failures``): the
  same tasks in one flat mapping, task name to the ids of its runs at every
  level, Selinon's *compound* form: ``{"sub": {"T1": [id], "T2": [id]}}``,
  read as ``parent_flow_result("sub", "T2")``. Runs of one task name in two
  nested sub-flows join one list, in the order the sub-flows are listed.

A sub-flow that a flow starts gets the flow's arguments with
``propagate_node_args``, and its parent (what the tasks it starts get as
theirs) with ``propagate_parent``; a sub-flow started as a fallback gets the
failed nodes it handles with ``propagate_parent_failures`` too.

Nothing here sends or emits: the ports read the sub-flows' states (see
``flowtrace.flow._wakeup.Ports``), which may postpone the wake-up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

if TYPE_CHECKING:
    from flowtrace.flow._wakeup import Ports
    from flowtrace.flow.model import Flow, FlowConfig

__all__ = ["flatten", "edge_parent", "fallback_parent", "subflow_parent", "subflow_args"]


def flatten(nested: Dict[str, Any]) -> Dict[str, List[str]]:
    """Selinon's compound form of a sub-flow's nested tasks: task name to ids, across every level.

    Args:
        nested: task name to ids, and sub-flow name to such a mapping, as
            ``Ports.finished_of`` returns it.

    Returns:
        A new mapping of task names to lists of ids; the lists of one name at
        several levels are joined, outer levels first.
    """
    flat: Dict[str, List[str]] = {}
    levels = [nested]
    while levels:
        level = levels.pop(0)
        for name, value in level.items():
            if isinstance(value, dict):
                levels.append(value)
            else:
                flat.setdefault(name, []).extend(value)
    return flat


def _of_subflow(flow: Flow, ports: Ports, name: str, node_id: str, kind: str) -> Optional[dict]:
    """The finished or failed (``kind``) tasks of sub-flow ``name`` as its options pass them on; None: not passed."""
    if flow.propagates("compound_" + kind, name):
        return flatten(ports.finished_of(name, node_id) if kind == "finished" else ports.failed_of(name, node_id))
    if flow.propagates(kind, name):
        return ports.finished_of(name, node_id) if kind == "finished" else ports.failed_of(name, node_id)
    return None


def edge_parent(config: FlowConfig, flow: Flow, ports: Ports,
                combination: Dict[str, str]) -> Tuple[Dict[str, Any], Dict[str, str]]:
    """``(parent, task_ids)`` of the nodes an edge starts, for one combination of its ``from`` runs.

    Args:
        config: the flow configuration.
        flow: the flow the edge belongs to.
        ports: the wake-up's ports, to read a finished sub-flow's tasks.
        combination: each ``from`` node's name to the id of the run used.

    Returns:
        The parent map the started nodes get, and the task ids alone (whose
        results the edge's condition and ``foreach`` function may read).
    """
    parent: Dict[str, Any] = {}
    task_ids: Dict[str, str] = {}
    for name, node_id in combination.items():
        if config.is_flow(name):
            tasks = _of_subflow(flow, ports, name, node_id, "finished")
            if tasks is not None:
                parent[name] = tasks
        else:
            parent[name] = task_ids[name] = node_id
    return parent, task_ids


def fallback_parent(config: FlowConfig, flow: Flow, ports: Ports, nodes: List[Dict[str, str]]) -> Dict[str, Any]:
    """The parent map of a fallback: the failed tasks it handles, and the failed tasks of failed sub-flows.

    Args:
        config: the flow configuration.
        flow: the flow.
        ports: the wake-up's ports, to read a failed sub-flow's tasks.
        nodes: the failed runs the fallback handles, as ``{"name", "id"}``.

    Returns:
        Each failed task's name to its id; each failed sub-flow listed in
        ``propagate_failures`` (or ``propagate_compound_failures``) to its
        failed tasks.
    """
    parent: Dict[str, Any] = {}
    for node in nodes:
        if not config.is_flow(node["name"]):
            parent[node["name"]] = node["id"]
        else:
            tasks = _of_subflow(flow, ports, node["name"], node["id"], "failures")
            if tasks is not None:
                parent[node["name"]] = tasks
    return parent


def subflow_parent(flow: Flow, name: str, parent: Dict[str, Any], fallback: bool) -> Optional[Dict[str, Any]]:
    """What sub-flow ``name`` gets as its parent: ``parent`` when the flow's options pass it on, else None.

    Args:
        flow: the flow that starts the sub-flow.
        name: the sub-flow.
        parent: the parent map the sub-flow's start has: the finished nodes
            of the edge, or, for a fallback, the failed nodes it handles.
        fallback: whether the sub-flow starts as a fallback.
    """
    if flow.propagates("parent", name) or (fallback and flow.propagates("parent_failures", name)):
        return parent
    return None


def subflow_args(flow: Flow, name: str, node_args: Any, foreach_item: bool) -> Any:
    """What sub-flow ``name`` gets as its node arguments: the flow's, a ``foreach`` item, or None."""
    return node_args if foreach_item or flow.propagates("node_args", name) else None
