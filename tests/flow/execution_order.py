"""The causal order of a flow's events, to compare an executor run with a real-worker run of the same flow.

Two runs of a flow never log the same sequence: ids differ, a dispatcher
wakes a different number of times, and nodes that run side by side on real
workers come in any order. What must agree is defined here:

- :func:`labels`: the multiset of what happened, each event named by
  ``(flow path, node, event)`` where the flow path is the chain of flow names
  from the top flow (a sub-flow's events are told apart from its parent's)
  and the node the task, sub-flow or failed node the event is about (a
  storage event, which names its flow but not its dispatcher, has
  ``("storage of", flow name)`` for its flow path). The
  dispatcher's own wake-ups (``DISPATCHER_WAKEUP``, ``DISPATCHER_RETRY`` and
  the task events of ``flowtrace.dispatcher``), which follow timing, and the
  events of a worker's main process (``TASK_RECEIVED``), which the executor
  has none of, are left out, as is ``STORAGE_CONNECT``, once per process.
- :func:`violations`: the happens-before rules every run must keep, each
  between two events of the log (``a < b``: ``a`` comes first):

  1. a node's ``TASK_SCHEDULE`` (or ``SUBFLOW_SCHEDULE``) < its first
     ``TASK_PUBLISH`` < its first ``TASK_START`` (a sub-flow: its
     ``FLOW_START``);
  2. within an attempt: ``TASK_START`` < the attempt's terminal event
     (``TASK_END``, ``TASK_FAILURE``, ``TASK_RETRY``); a retry's
     ``TASK_PUBLISH`` < the next attempt's ``TASK_START``;
  3. a node's last terminal event (a sub-flow: ``FLOW_END`` /
     ``FLOW_FAILURE``) < its dispatcher's ``NODE_SUCCESSFUL`` /
     ``NODE_FAILURE`` for it;
  4. edges: a node a wake-up starts comes after the ``NODE_SUCCESSFUL``, in
     the same dispatcher, of a node it follows (an edge's ``from`` node), or
     of a node whose failure it is the fallback of (its ``NODE_FAILURE``);
     a node no edge ``from`` any node leads to comes after ``FLOW_START``;
  5. a flow's ``FLOW_START`` < its ``FLOW_END`` / ``FLOW_FAILURE``, and a
     flow's ``FLOW_SCHEDULE`` (the top flow) < its ``FLOW_START``.
"""

from collections import Counter

_LEFT_OUT = {"DISPATCHER_WAKEUP", "DISPATCHER_RETRY", "TASK_RECEIVED", "STORAGE_CONNECT"}
_TERMINAL = {"TASK_END", "TASK_FAILURE", "TASK_RETRY"}
_DISPATCHER = "flowtrace.dispatcher"


def _paths(records):
    """``{dispatcher id: flow path}``."""
    paths = {}
    for record in records:
        details = record["details"]
        if record["event"] == "FLOW_SCHEDULE":
            paths[details["dispatcher_id"]] = (details["flow_name"],)
    for record in records:  # a parent's SUBFLOW_SCHEDULE comes before anything of its child
        details = record["details"]
        if record["event"] == "SUBFLOW_SCHEDULE" and details["dispatcher_id"] in paths:
            paths[details["child_dispatcher_id"]] = paths[details["dispatcher_id"]] + (details["child_flow_name"],)
    return paths


def _node(details):
    return details.get("child_flow_name") or details.get("task_name") or details.get("node_name")


def labels(records):
    """The :class:`collections.Counter` of ``(flow path, node, event)`` of a run's records."""
    paths = _paths(records)
    found = Counter()
    for record in records:
        event, details = record["event"], record["details"]
        if event in _LEFT_OUT or details.get("task_name") == _DISPATCHER:
            continue
        # The storage events name their flow but not its dispatcher.
        flow = paths.get(details.get("dispatcher_id"), ("storage of", details.get("flow_name")))
        found[(flow, _node(details), event)] += 1
    return found


def _predecessors(config, flow_name, node):
    flow = config.flows[flow_name]
    after = set()
    for edge in flow.edges:
        if node in edge.nodes_to:
            after.update(("NODE_SUCCESSFUL", name) for name in edge.nodes_from)
            if not edge.nodes_from:
                after.add(("FLOW_START", None))
    for failure in flow.failures:
        if failure.fallback is not True and node in failure.fallback:
            after.update(("NODE_FAILURE", name) for name in failure.nodes)
    return after


def violations(records, config):
    """Every happens-before rule of the module's list that ``records`` breaks, as a readable line."""
    broken = []
    position = {}  # (event, key) -> first index; "last" terminal kept apart
    last_terminal = {}
    seen = {}  # dispatcher id -> [(index, event, node)]
    for index, record in enumerate(records):
        event, details = record["event"], record["details"]
        node_id = details.get("task_id") or details.get("child_dispatcher_id")
        if details.get("task_name") == _DISPATCHER:
            continue
        if event in ("TASK_SCHEDULE", "SUBFLOW_SCHEDULE", "TASK_PUBLISH", "TASK_START"):
            position.setdefault((event, node_id, details.get("retries", 0) if event != "TASK_SCHEDULE" else 0),
                                index)
            position.setdefault((event, node_id), index)
        if event in ("FLOW_START", "FLOW_SCHEDULE"):
            position.setdefault((event, details["dispatcher_id"]), index)
        if event in _TERMINAL:
            attempt = (details["task_id"], details.get("retries", 0))
            if ("TASK_START", details["task_id"], attempt[1]) not in position:
                broken.append("%s of %s attempt %d before its TASK_START" % (event, _node(details), attempt[1]))
            last_terminal[details["task_id"]] = index
        if event in ("FLOW_END", "FLOW_FAILURE"):
            last_terminal[details["dispatcher_id"]] = index
            if ("FLOW_START", details["dispatcher_id"]) not in position:
                broken.append("%s of %s before its FLOW_START" % (event, details["flow_name"]))
        if event in ("NODE_SUCCESSFUL", "NODE_FAILURE"):
            if details["node_id"] not in last_terminal:
                broken.append("%s of %s before the node ended" % (event, details["node_name"]))
        if event in ("TASK_SCHEDULE", "SUBFLOW_SCHEDULE", "NODE_SUCCESSFUL", "NODE_FAILURE", "FLOW_START"):
            seen.setdefault(details["dispatcher_id"], []).append((index, event, _node(details)))
    for (event, node_id, *rest), index in list(position.items()):
        if event == "TASK_PUBLISH" and rest:
            retries = rest[0]
            before = ("TASK_SCHEDULE", node_id) if retries == 0 else ("TASK_START", node_id, retries - 1)
            if before in position and position[before] > index:
                broken.append("TASK_PUBLISH of %s attempt %d before %s" % (node_id, retries, before[0]))
            start = position.get(("TASK_START", node_id, retries))
            if start is not None and start < index:
                broken.append("TASK_START of %s attempt %d before its TASK_PUBLISH" % (node_id, retries))
        if event == "FLOW_START" and ("SUBFLOW_SCHEDULE", node_id) in position:
            if position[("SUBFLOW_SCHEDULE", node_id)] > index:
                broken.append("FLOW_START of sub-flow %s before its SUBFLOW_SCHEDULE" % node_id)
        if event == "FLOW_START" and ("FLOW_SCHEDULE", node_id) in position:
            if position[("FLOW_SCHEDULE", node_id)] > index:
                broken.append("FLOW_START of %s before its FLOW_SCHEDULE" % node_id)
    paths = _paths(records)
    for dispatcher_id, happened in seen.items():
        flow_name = paths.get(dispatcher_id, ("?",))[-1]
        done = set()
        for _, event, node in happened:
            if event in ("TASK_SCHEDULE", "SUBFLOW_SCHEDULE"):
                need = _predecessors(config, flow_name, node) if flow_name in config.flows else set()
                if not need & done:
                    broken.append("%s of %s in %s before any node it follows ended" % (event, node, flow_name))
            done.add((event, node if event != "FLOW_START" else None))
    return broken
