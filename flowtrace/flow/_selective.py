"""Selective runs: the path to some tasks of a flow, and what a wake-up of a selective run does with it.

:func:`compute` turns a request (a flow, the tasks wanted, ``follow_subflows``,
``run_subsequent``) into the *selection* the dispatcher's message carries
(``selective``), in Selinon's shape::

    {"task_names": ["Task3"],
     "waiting_edges_subset": {"flow1": {"0": ["Task1"], "1": ["Task3"]}}}

``waiting_edges_subset`` says, for each flow of the run, which of its edges
(by index in the flow's ``edges``, as a string so that it survives JSON)
fire, and which of their ``to`` nodes they start. An edge is on the path
when it leads to a node the wanted tasks need: the tasks themselves, the
``from`` nodes of the edges into them, and so on back to the start. Only
nodes that can run at all count: a node is reachable when some edge into it
has only reachable ``from`` nodes (a starting edge has none); as in
Selinon, nodes that start each other in a cycle count as reachable. This
is the union of every path Selinon's search enumerates, found in time
linear in the edges times the nodes.

- ``follow_subflows``: the tasks are looked for in every sub-flow (at any
  depth) as well, and the parents of a sub-flow that has them get the path
  to that sub-flow.
- ``run_subsequent``: every non-starting edge whose ``from`` nodes the
  wanted tasks (and what such edges start) cover fires whole, in each flow
  of the run (True) or in the flows named.

:class:`Selection` is the part of a selection that one flow's wake-ups
read. What a wake-up does with it (``flowtrace.flow._wakeup``): an edge off
the path is skipped (``SELECTIVE_OMIT_EDGE``), and so is a ``to`` node the
path does not need (``SELECTIVE_OMIT_NODE``). Before it starts a task on the
path that is not one of the wanted tasks, it calls the task's
``selective_run_function`` (``SELECTIVE_RUN_FUNC``); when that returns the id
of an earlier run, the task is not sent: the node counts as finished with
that id (``SELECTIVE_TASK_REUSE``), so the nodes after it read that result.
A sub-flow started on the path gets the run's selection when the run
covers it (``follow_subflows``), the selection its edge's ``selective``
computes, or none: a sub-flow the selection does not name runs whole.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Set, Tuple, Union

from flowtrace.errors import SelectiveNoPathError
from flowtrace.flow import routines
from flowtrace.flow.model import Edge, Flow, FlowConfig, import_attribute
from flowtrace.trace import Trace

__all__ = ["compute", "Selection", "child_selection", "for_edge", "edge_conf", "run_function", "plan_nodes"]


def compute(config: FlowConfig, flow_name: str, task_names: Union[str, Sequence[str]], follow_subflows: bool = False,
            run_subsequent: Union[bool, Sequence[str]] = False) -> dict:
    """The selection of a selective run of ``flow_name`` (see the module's docstring).

    Raises:
        SelectiveNoPathError: a wanted task has no path in the run's flows.
    """
    wanted = [task_names] if isinstance(task_names, str) else list(task_names)
    subsets: Dict[str, Dict[int, Set[str]]] = {}
    parents = _subflow_parents(config, flow_name) if follow_subflows else {}
    todo: List[Tuple[str, str]] = [(flow_name, name) for name in wanted]
    todo += [(flow, name) for flow in parents for name in wanted]
    followed: Set[Tuple[str, str]] = set()
    while todo:
        flow, target = todo.pop()
        found = _paths(config.flows[flow], target)
        if found and flow != flow_name:
            for parent in parents[flow]:
                if (parent, flow) not in followed:
                    followed.add((parent, flow))
                    todo.append((parent, flow))
        into = subsets.setdefault(flow, {})
        for index, names in found.items():
            into.setdefault(index, set()).update(names)
    on_path = {name for subset in subsets.values() for names in subset.values() for name in names}
    for name in wanted:
        if name not in on_path:
            raise SelectiveNoPathError("there is no path to %r in flow %r%s" % (
                name, flow_name, " or its sub-flows" if follow_subflows else ""))
    if run_subsequent:
        flows = subsets if run_subsequent is True else run_subsequent
        for flow in flows:
            edges = config.flows[flow].edges
            for index in _subsequent(edges, wanted):
                subsets.setdefault(flow, {})[index] = set(edges[index].nodes_to)
    return {"task_names": wanted, "waiting_edges_subset": {
        flow: {str(index): _in_order(config.flows[flow].edges[index], names) for index, names in sorted(subset.items())}
        for flow, subset in subsets.items()}}


def _in_order(edge: Edge, names: Iterable[str]) -> List[str]:
    chosen = set(names)
    return [name for name in dict.fromkeys(edge.nodes_to) if name in chosen]


def _subflow_parents(config: FlowConfig, flow_name: str) -> Dict[str, Set[str]]:
    """Every sub-flow ``flow_name`` starts, at any depth, with the flows that start it directly."""
    parents: Dict[str, Set[str]] = {}
    todo = [flow_name]
    while todo:
        flow = todo.pop()
        for edge in config.flows[flow].edges:
            for name in edge.nodes_to:
                if config.is_flow(name):
                    if name not in parents:
                        parents[name] = set()
                        todo.append(name)
                    parents[name].add(flow)
    return parents


def _reachable(flow: Flow) -> Set[str]:
    """The nodes some edge can start: the largest set in which every node has an edge in from nodes of the set."""
    nodes = {name for edge in flow.edges for name in edge.nodes_to}
    changed = True
    while changed:
        changed = False
        for name in list(nodes):
            if not any(name in edge.nodes_to and nodes.issuperset(edge.nodes_from) for edge in flow.edges):
                nodes.discard(name)
                changed = True
    return nodes


def _paths(flow: Flow, target: str) -> Dict[int, Set[str]]:
    """The edges (by index) on a path to ``target``, each with the ``to`` nodes the path needs; empty: none."""
    reachable = _reachable(flow)
    if target not in reachable:
        return {}
    usable = [(index, edge) for index, edge in enumerate(flow.edges) if reachable.issuperset(edge.nodes_from)]
    found: Dict[int, Set[str]] = {}
    needed, todo = {target}, [target]
    while todo:
        name = todo.pop()
        for index, edge in usable:
            if name in edge.nodes_to:
                found.setdefault(index, set()).add(name)
                for source in edge.nodes_from:
                    if source not in needed:
                        needed.add(source)
                        todo.append(source)
    return found


def _subsequent(edges: Sequence[Edge], wanted: Iterable[str]) -> List[int]:
    """The non-starting edges that the wanted tasks, and what these edges start, set off."""
    done = set(wanted)
    found: List[int] = []
    changed = True
    while changed:
        changed = False
        for index, edge in enumerate(edges):
            if edge.nodes_from and index not in found and done.issuperset(edge.nodes_from):
                found.append(index)
                done.update(edge.nodes_to)
                changed = True
    return found


class Selection:
    """One flow's part of a selection: which of its edges fire, and which tasks were asked for.

    Args:
        message: the selection, as the dispatcher's message carries it.
        flow: the flow whose wake-ups read it.
    """

    def __init__(self, message: dict, flow: Flow):
        self.message = message
        self.flow = flow
        self.task_names = tuple(message.get("task_names") or ())
        subset = (message.get("waiting_edges_subset") or {}).get(flow.name) or {}
        # Keys are strings after JSON, integers after a serializer that keeps them.
        self.edges = {int(index): tuple(names) for index, names in subset.items()}

    @classmethod
    def of(cls, message: Any, flow: Flow) -> Optional[Selection]:
        """The flow's part of ``message``; None when the run is not selective or does not cover the flow."""
        if not message or flow.name not in (message.get("waiting_edges_subset") or {}):
            return None
        return cls(message, flow)

    def nodes_of(self, edge: Edge) -> Optional[Tuple[str, ...]]:
        """The ``to`` nodes of ``edge`` that the path needs; None when the edge is off the path."""
        for index, candidate in enumerate(self.flow.edges):
            if candidate is edge:
                return self.edges.get(index)
        return None



def child_selection(selection: Optional[Selection], config: FlowConfig, name: str, edge: Optional[Edge]) -> Optional[dict]:
    """The selection a sub-flow ``name`` started through ``edge`` gets: its edge's, the run's, or None (run whole)."""
    if edge is not None and edge.selective is not None:
        return for_edge(config, name, edge)
    if selection is None or name not in (selection.message.get("waiting_edges_subset") or {}):
        return None
    return selection.message


_FOR_EDGE: Dict[Tuple[int, int, str], Tuple[FlowConfig, Edge, dict]] = {}
_lock = threading.Lock()


def for_edge(config: FlowConfig, name: str, edge: Edge) -> dict:
    """The selection the sub-flow ``name`` gets from ``edge``'s ``selective``, computed once per configuration.

    Raises:
        SelectiveNoPathError: the edge names a task the sub-flow has no path to.
    """
    key = (id(config), id(edge), name)
    held = _FOR_EDGE.get(key)
    if held is not None and held[0] is config and held[1] is edge:
        return held[2]
    selective = edge.selective
    assert selective is not None
    run_subsequent = selective.run_subsequent
    computed = compute(config, name, selective.tasks, selective.follow_subflows,
                       run_subsequent if isinstance(run_subsequent, bool) else list(run_subsequent))
    with _lock:
        if len(_FOR_EDGE) >= 256:
            _FOR_EDGE.clear()
        _FOR_EDGE[key] = (config, edge, computed)
    return computed


def edge_conf(edge: Optional[Edge]) -> Any:
    """An edge's ``selective`` as SUBFLOW_SCHEDULE's ``selective_edge_conf`` shows it, as in Selinon."""
    if edge is None:
        return None
    if edge.selective is None:
        return False
    run_subsequent = edge.selective.run_subsequent
    return {"tasks": list(edge.selective.tasks), "follow_subflows": edge.selective.follow_subflows,
            "run_subsequent": run_subsequent if isinstance(run_subsequent, bool) else list(run_subsequent)}


def run_function(config: FlowConfig, task_name: str) -> Callable[..., Any]:
    """The task's ``selective_run_function``: :func:`~flowtrace.flow.routines.always_run` unless it names another."""
    chosen = config.tasks[task_name].selective_run_function
    if chosen is None or (chosen.name == "always_run" and chosen.import_path in (None, routines.SELINON_MODULE)):
        return routines.always_run
    assert chosen.import_path is not None
    return import_attribute(chosen.import_path, chosen.name)


def plan_nodes(wakeup: Any, plan: Any, msg: dict, wanted: Optional[Tuple[str, ...]], nodes: Sequence[str],
               node_args: Any, parent: dict) -> Sequence[str]:
    """Of ``nodes`` (an edge's ``to`` nodes), the ones a wake-up starts; ``plan`` gets the events and the reused nodes.

    ``wanted`` is what :meth:`Selection.nodes_of` said of the edge (None: not a
    selective run, every node starts); ``node_args`` is what the run function
    is told (a ``foreach`` item, as in Selinon).
    """
    selection, config = wakeup.selection, wakeup.config
    if selection is None or wanted is None:
        return nodes
    to_start = []
    for name in nodes:
        if name not in wanted:
            plan.event(Trace.SELECTIVE_OMIT_NODE, dict(msg, omitted_node=name))
            continue
        if name in selection.task_names or config.is_flow(name):
            to_start.append(name)
            continue
        pool = wakeup.ports.results({key: value for key, value in parent.items() if isinstance(value, str)})
        reuse = run_function(config, name)(wakeup.flow.name, name, node_args, list(selection.task_names), pool)
        plan.event(Trace.SELECTIVE_RUN_FUNC, dict(wakeup.base, node_name=name, node_args=node_args, parent=parent,
                                                  result=reuse))
        if reuse:
            plan.event(Trace.SELECTIVE_TASK_REUSE, dict(msg, task_name=name, task_id=reuse))
            plan.reuse(name, reuse)
        else:
            to_start.append(name)
    return to_start
