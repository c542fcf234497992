"""Which migrations taint a flow, read off flowtrace's state.

Selinon's state lists the edges a flow is waiting on and has fired, by
index, so its migrations renumber them (``translation``). flowtrace's state
(:class:`~flowtrace.flow._flowstate.FlowState`) holds nodes only: a node
that finishes tries the edges of the configuration the worker runs, so the
translation has nothing to renumber, and what a migration decides is
whether the flow is tainted:

- a ``tainted_edges`` entry (an edge gone) fired when all its ``from``
  nodes have finished (an edge without any: once the flow started) and one
  of its ``to`` nodes has run (is running, finished or failed);
- a ``tainting_nodes`` entry (an edge added) would have fired when all its
  ``from`` nodes have finished.
"""

from __future__ import annotations

from typing import Any, Dict, List, NamedTuple, Optional, Tuple

from flowtrace.flow._flowstate import FlowState


class Taint(NamedTuple):
    """One migration's finding that a flow is tainted, with what Selinon's ``MIGRATION_TAINTED_FLOW`` carries."""

    migration_version: int
    tainted_flow_strategy: str
    tainted_edge: Optional[Dict[str, Any]]
    tainting_nodes: Optional[List[str]]


def find_taint(migration: Dict[str, Any], version: int, flow_name: str, state: FlowState) -> Optional[Taint]:
    """The first reason migration ``version`` (a checked file's content) taints the flow, or None."""
    entry = migration["migration"].get(flow_name)
    if not entry:
        return None
    strategy = migration["tainted_flow_strategy"].upper()
    finished = set(state.finished)
    ran = finished | set(state.failed) | {node[0] for node in state.active.values()}
    for index in sorted(entry.get("tainted_edges", {}), key=_index):
        edge = entry["tainted_edges"][index]
        if set(edge["from"]) <= finished and ran.intersection(edge["to"]):
            return Taint(version, strategy, edge, None)
    for index in sorted(entry.get("tainting_nodes", {}), key=_index):
        nodes = entry["tainting_nodes"][index]
        if nodes and set(nodes) <= finished:
            return Taint(version, strategy, None, list(nodes))
    return None


def _index(key: str) -> Tuple[int, str]:
    return (int(key), key) if key.isdigit() else (-1, key)


def apply(migrations, flow_name: str, state: FlowState) -> Tuple[List[Taint], Optional[Taint]]:
    """Run ``(version, content)`` migrations in order: ``(taints found, the one that stops the flow)``.

    A taint under ``IGNORE`` is noted and the next migration runs; the first
    under ``RETRY`` or ``FAIL`` stops there, as Selinon stops at it.
    """
    taints: List[Taint] = []
    for version, content in migrations:
        taint = find_taint(content, version, flow_name, state)
        if taint is None:
            continue
        taints.append(taint)
        if taint.tainted_flow_strategy != "IGNORE":
            return taints, taint
    return taints, None
