"""The tree model of ``flowtrace view``: events grouped into task and flow nodes, linked into trees.

How the nodes are found and linked is described in :mod:`flowtrace.view`.
"""

from __future__ import annotations

from typing import Dict, Iterable, Iterator, List, Optional, Tuple

from flowtrace.view._log import Event, ident, text
from flowtrace.view._state import Attempt, summarize_flow, summarize_task

KIND_TASK = "task"
KIND_FLOW = "flow"


class Node:
    """A task or a flow: its own events, what they say, and its place and times in the tree."""

    __slots__ = ("kind", "id", "events", "parent", "children", "attempts", "name", "state", "complete", "start",
                 "end", "note", "parent_missing", "sub_start", "sub_end", "runs")

    def __init__(self, kind: str, node_id: str):
        self.kind = kind
        self.id = node_id
        self.events: List[Event] = []
        self.parent: Optional[Node] = None
        self.children: List[Node] = []
        self.attempts: List[Attempt] = []
        self.name = "?"
        self.state = "?"
        self.complete = False
        self.start = self.end = self.sub_start = self.sub_end = 0  # sub_*: the range of the whole subtree
        self.note = ""
        self.parent_missing: Optional[str] = None
        self.runs: list = []  # (start, end) intervals drawn as running on the bar

    @property
    def order(self):
        return (self.start, self.events[0].line if self.events else 0, self.id)


def build(events: List[Event], now: Optional[int]) -> Tuple[List[Node], int]:
    """Group the events into nodes and link them into trees; ``events`` is sorted in place.

    Args:
        events: the log's valid events.
        now: the time unfinished nodes are measured up to, or ``None`` for their last event.

    Returns:
        The roots, in start order, and how many events belong to no node.
    """
    events.sort(key=lambda event: (event.time, event.line))
    flow_ids = set()
    for event in events:
        for key in ("dispatcher_id", "child_dispatcher_id", "parent_dispatcher_id"):
            value = ident(event.details.get(key))
            if value is not None:
                flow_ids.add(value)
    nodes: Dict[str, Node] = {}
    unattached = 0
    for event in events:
        details = event.details
        target = None
        if event.name == "SUBFLOW_SCHEDULE":
            target = ident(details.get("child_dispatcher_id"))
        if target is None:
            target = ident(details.get("task_id")) or ident(details.get("dispatcher_id"))
        if target is None:
            unattached += 1
            continue
        node = nodes.get(target)
        if node is None:
            node = nodes[target] = Node(KIND_FLOW if target in flow_ids else KIND_TASK, target)
        node.events.append(event)
    # A parent named only as a dispatcher (a flow whose own events are missing) still groups its tasks.
    for flow_id in flow_ids:
        if flow_id not in nodes:
            nodes[flow_id] = Node(KIND_FLOW, flow_id)
    for node in nodes.values():
        (summarize_task if node.kind == KIND_TASK else summarize_flow)(node)
    ordered = sorted(nodes.values(), key=lambda node: node.order)
    for node in ordered:
        for ref in _parent_refs(node):
            if ref in nodes:
                node.parent = nodes[ref]
                break
            if node.parent_missing is None:
                node.parent_missing = ref
        if node.parent is not None:
            node.parent_missing = None
    _break_cycles(ordered)
    for node in ordered:
        if node.parent is not None:
            node.parent.children.append(node)
    # A flow named only by a parent_dispatcher_id that could not be linked holds nothing to draw.
    roots = [node for node in ordered if node.parent is None and (node.events or node.children)]
    for node in nodes.values():
        if node.kind == KIND_FLOW and node.name == "?":
            node.name = _member_flow_name(node)
    _summarize_trees(roots, now)
    roots.sort(key=lambda node: node.order)  # a flow known only from its members starts with its first member
    return roots, unattached


def _member_flow_name(flow: Node) -> str:
    """Name a flow whose own events lack a name after the ``flow_name`` its tasks carry."""
    for child in flow.children:
        for event in child.events:
            name = text(event.details.get("flow_name"))
            if name and ident(event.details.get("dispatcher_id")) == flow.id:
                return name
    return "?"


def _parent_refs(node: Node) -> List[str]:
    ranked = []
    for event in node.events:
        details = event.details
        own_task = ident(details.get("task_id")) == node.id
        if node.kind == KIND_FLOW and event.name == "SUBFLOW_SCHEDULE":
            ranked.append((0, details.get("dispatcher_id")))
        ranked.append((1, details.get("parent_dispatcher_id")))
        if node.kind == KIND_FLOW and not own_task:
            ranked.append((2, details.get("parent")))  # Selinon's task ``parent`` is a dict of inputs, not a parent
        ranked.append((3, details.get("parent_id")))
        if node.kind == KIND_TASK:
            ranked.append((4, details.get("dispatcher_id")))
    refs = []
    for _, ref in sorted(ranked, key=lambda item: item[0]):
        ref = ident(ref)
        if ref is not None and ref != node.id and ref not in refs:
            refs.append(ref)
    return refs


def _break_cycles(ordered: List[Node]) -> None:
    """Make the earliest node of each parent cycle (a corrupt log) a root, in one pass over the nodes."""
    done = set()
    for node in ordered:
        path = []
        on_path = set()
        current: Optional[Node] = node
        while current is not None and id(current) not in done and id(current) not in on_path:
            path.append(current)
            on_path.add(id(current))
            current = current.parent
        if current is not None and id(current) in on_path:
            cycle = path[path.index(current):]
            min(cycle, key=lambda member: member.order).parent = None
        done.update(on_path)


def _summarize_trees(roots: List[Node], now: Optional[int]) -> None:
    """Set start, end, subtree range and run intervals, children before parents."""
    stack = [(root, False) for root in roots]
    while stack:
        node, children_done = stack.pop()
        if not children_done:
            stack.append((node, True))
            stack.extend((child, False) for child in node.children)
            continue
        node.children.sort(key=lambda child: child.order)
        if not node.events:  # a flow known only from its members
            node.start = min(child.sub_start for child in node.children)
        last_seen = node.events[-1].time if node.events else node.start
        if node.kind == KIND_TASK:
            for attempt in node.attempts:
                attempt.end = attempt.terminal.time if attempt.terminal is not None else max(
                    attempt.last_seen, now if now is not None else attempt.last_seen)
                if attempt.started is not None:
                    node.runs.append((attempt.started, attempt.end))
            node.end = node.attempts[-1].end
        else:
            if not node.complete:
                node.end = max([last_seen] + [child.sub_end for child in node.children]
                               + ([now] if now is not None else []))
            node.runs.append((node.start, node.end))
        node.end = max(node.end, node.start)
        node.sub_start = min([node.start] + [child.sub_start for child in node.children])
        node.sub_end = max([node.end] + [child.sub_end for child in node.children])


def walk(roots: Iterable[Node]) -> Iterator[Node]:
    """Yield every node of the trees under ``roots``, each before its children."""
    stack = list(roots)
    while stack:
        node = stack.pop()
        yield node
        stack.extend(node.children)


def select(roots: List[Node], trace: Optional[str], root: Optional[str]) -> List[Node]:
    """Return the subtrees whose id starts with ``root``, then those holding an event of trace ``trace``.

    Both are prefixes; the trace id's is matched without regard to case. ``None`` keeps everything.
    """
    if root is not None:
        chosen = []
        stack = list(reversed(roots))
        while stack:
            node = stack.pop()
            if node.id.startswith(root):
                chosen.append(node)
            else:
                stack.extend(reversed(node.children))
        roots = chosen
    if trace is not None:
        wanted = trace.lower()
        roots = [candidate for candidate in roots if any(
            event.trace_id is not None and event.trace_id.lower().startswith(wanted)
            for node in walk([candidate]) for event in node.events)]
    return roots


def count(roots: List[Node]) -> Tuple[int, int]:
    """Return how many task nodes and how many flow nodes the trees under ``roots`` hold."""
    tasks = flows = 0
    for node in walk(roots):
        if node.kind == KIND_TASK:
            tasks += 1
        else:
            flows += 1
    return tasks, flows
