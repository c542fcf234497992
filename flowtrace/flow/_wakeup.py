"""What one wake-up of a flow's dispatcher does with the flow's state.

A wake-up (:class:`WakeUp`) takes the flow's state
(:class:`~flowtrace.flow._flowstate.FlowState`), reads
the outcome of the nodes the flow waits for, fires the edges that the
finished ones complete, starts fallbacks once nothing is running, and says
whether the flow goes on, has ended or has failed.

Which outcomes a wake-up reads: those of every running node, or, when the
dispatcher knows which nodes have ended since (their nudges said so, see
``flowtrace.flow._nudge``) and more than :data:`READ_ALL_UP_TO` nodes are
running, those of these nodes only. Apart from carrying the state itself, the
work of a wake-up then follows the nodes that changed and not the size of the
flow: the running nodes are indexed by id, and each node's edges are found
through an index of the flow's edges by ``from`` node.

Nothing here knows Celery: the dispatcher hands in a *ports* object that
reads node outcomes and results and sends messages (see :class:`Ports`), so
the rules can be tested without a broker.

The rules, which follow Selinon's:

- A node that succeeds is added to ``finished``. Every edge it is a ``from``
  node of is tried once for each combination of it with the ids of the other
  ``from`` nodes already finished; an edge with two ``from`` nodes therefore
  fires once both have finished, and again for each later run of either.
  What the nodes it starts are told of the nodes before them is
  ``flowtrace.flow._propagate``'s.
- With ``node_args_from_first``, the result of the flow's one starting task,
  read from its storage when it succeeds, becomes the flow's node arguments
  for everything after it. They travel in the state (``node_args``), so
  the dispatcher's message keeps the arguments the flow was started with.
- A node that fails is added to ``failed``. Once nothing is running, the
  ``failures`` entries handle what they can (``flowtrace.flow._fallbacks``).
- A node of ``eager_failures`` that fails fails the flow at once
  (``EAGER_FAILURE``): the nodes still running are not waited for (they stay
  in ``active``), and nothing else read in that wake-up is handled.
- The flow ends when nothing is running: successfully if nothing failed (or
  every failure was handled by a fallback without ``propagate_failure``).
- In a selective run, only the edges and nodes on the path fire, and a
  task whose ``selective_run_function`` names an earlier run is not sent
  but finishes at once with that run's id (``flowtrace.flow._selective``).

A wake-up never does half of a node's work. For each finished node, every
condition and ``foreach`` function is evaluated first, and only then are its
nodes started and the node moved to ``finished``. If a storage or the result
backend fails on the way, :class:`Postpone` is raised: the state then holds
the nodes handled so far, and the node that could not be handled is still
running as far as the state knows, so the next wake-up handles it whole.
Events are emitted as work is committed, so a postponed node's events are not
repeated.
"""

from __future__ import annotations

import itertools
import threading
import uuid
from typing import Dict, List, Optional, Tuple

from flowtrace.flow import _fallbacks, _msg, _propagate, _selective
from flowtrace.flow._flowstate import FlowState
from flowtrace.flow._ports import FAILURE, SUCCESS, Ports, Postpone
from flowtrace.flow.conditions import evaluate
from flowtrace.flow.model import Edge, FlowConfig, Flow
from flowtrace.trace import Trace

__all__ = ["WakeUp", "Ports", "Postpone", "RUNNING", "ENDED", "FAILED", "SUCCESS", "FAILURE",
           "READ_ALL_UP_TO"]

#: What a wake-up says about the flow.
RUNNING, ENDED, FAILED = "running", "ended", "failed"
#: A wake-up told which nodes ended still reads every running node while there are at most this
#: many: a few reads cost less than the extra wake-up that a node whose nudge is still on its way
#: would need, and a small flow then runs exactly as with every node read.
READ_ALL_UP_TO = 16


class _Plan:
    """What handling one node (or the start) will do, gathered before anything is done."""

    def __init__(self):
        self.actions: List[tuple] = []  # ("event", event, msg) or ("start", name, node_args, parent, edge, foreach)

    def event(self, event: int, msg: dict) -> None:
        self.actions.append(("event", event, msg))

    def start(self, name, node_args, parent, edge=None, foreach=False) -> None:
        self.actions.append(("start", name, node_args, parent, edge, foreach))

    def reuse(self, name, node_id) -> None:
        self.actions.append(("reuse", name, node_id))


class WakeUp:
    """One wake-up of a flow's dispatcher.

    Args:
        config: the flow configuration.
        flow: the flow.
        dispatcher_id: the dispatcher's Celery task id.
        node_args: the flow's arguments.
        parent: what the parent flow passed on (``propagate_parent``), or None.
        state: the state from the message; None when the flow starts.
        ports: the dispatcher's :class:`Ports`.
        ended: the ids of the nodes known to have ended since the last
            wake-up: only their outcomes are read, when more than
            :data:`READ_ALL_UP_TO` nodes are running. None (the default): read
            the outcome of every running node. Ids of nodes that are not
            running are ignored.
        selective: the selection of a selective run (``flowtrace.flow._selective``), or None.

    Attributes:
        state: the :class:`FlowState`, updated as the wake-up goes.
        node_args: what the flow's nodes get as node arguments: ``node_args``,
            or the result of the starting task (``node_args_from_first``).
        changed: whether any node finished, failed or started.
        failed_eagerly: whether a node of ``eager_failures`` failed: the
            wake-up then stopped, and said :data:`FAILED`.
        started: the ids of the nodes started through edges and waited for, in order.
        fallback_started: the ids of the fallbacks started and waited for, in order.
    """

    def __init__(self, config: FlowConfig, flow: Flow, dispatcher_id: str, node_args, parent, state, ports: Ports,
                 ended=None, selective=None):
        self.config = config
        self.flow = flow
        self.dispatcher_id = dispatcher_id
        self.starting = state is None
        self.state = FlowState.from_dict(state)
        self.node_args = self.state.node_args if self.state.has_node_args else node_args
        self.parent = parent or {}
        self.failed_eagerly = False
        self.ports = ports
        self.ended = ended
        self.changed = False
        self.started: List[str] = []
        self.fallback_started: List[str] = []
        self.selection = _selective.Selection.of(selective, flow)
        self.base = _msg.dispatcher(flow.name, dispatcher_id, selective or False)
        # The nodes a selective run's run function said to reuse: finished, to be handled in this wake-up.
        self.reused: List[Tuple[str, str]] = []

    # --- the wake-up ---------------------------------------------------------

    def run(self) -> str:
        """Do what can be done now; returns :data:`RUNNING`, :data:`ENDED` or :data:`FAILED`.

        Raises:
            Postpone: a storage or the result backend failed; :attr:`state` is consistent.
        """
        if self.starting:
            Trace.log(Trace.FLOW_START, self.base, node_args=self.node_args, queue=self.flow.queue)
            plan = _Plan()
            for edge in self.flow.starting_edges:
                self._plan_edge(plan, edge, dict(self.parent), {})
            self._commit(plan)
            self.starting = False
        else:
            self._collect()
        if self.failed_eagerly:
            return FAILED
        while self.reused:
            reused, self.reused = self.reused, []
            for name, node_id in reused:
                self._succeed(name, node_id)
        if not self.state.active and self.state.failed:
            _fallbacks.run_fallbacks(self)
        if self.state.active:
            return RUNNING
        if self.state.failed or self.state.doomed:
            return FAILED
        return ENDED

    def _collect(self) -> None:
        # Every outcome is read before anything changes: a result backend
        # that fails half-way leaves the state as it came.
        outcomes = []
        for node_id, name in self._to_read():
            status, what = self.ports.outcome(name, node_id, self.config.is_flow(name))
            if status in (SUCCESS, FAILURE):
                outcomes.append((name, node_id, status, what))
        eager = self.flow.eager_failures
        for name, node_id, status, what in outcomes:
            if status == FAILURE:
                self._remove_active(name, node_id)
                self.state.failed.setdefault(name, []).append(node_id)
                self.changed = True
                Trace.log(Trace.NODE_FAILURE, self.base, node_name=name, node_id=node_id, what=what)
                if eager is True or (eager and name in eager):
                    Trace.log(Trace.EAGER_FAILURE, self.base, node_name=name, node_id=node_id, what=what)
                    self.failed_eagerly = True
                    return  # what else ended stays running in the final state, as nothing handled it
        for name, node_id, status, _ in outcomes:
            if status == SUCCESS:
                self._succeed(name, node_id)

    def _succeed(self, name, node_id) -> None:
        """Handle a node that succeeded whole: its edges, then NODE_SUCCESSFUL and ``finished``."""
        plan = _Plan()
        given, first = self.node_args, self._is_first(name)
        try:
            if first:
                self.node_args = self.ports.result(name, node_id)
            for edge in _edges_from(self.flow).get(name, ()):
                self._plan_finished(plan, edge, name, node_id)
        except Postpone:
            self.node_args = given
            raise  # the node stays running, to be handled whole next time
        except Exception:
            # A predicate or foreach function that raises fails the
            # flow: the node did finish, and the final state says so.
            self.node_args = given
            self._finish(name, node_id, _Plan())
            raise
        self._finish(name, node_id, plan)
        if first:
            self.state.set_node_args(self.node_args)

    def _is_first(self, name) -> bool:
        """Whether ``name`` succeeding now is the starting task whose result ``node_args_from_first`` takes."""
        return (self.flow.node_args_from_first and not self.state.finished and len(self.state.active) == 1
                and any(name in edge.nodes_to for edge in self.flow.starting_edges))

    def _to_read(self):
        """``(id, name)`` of the running nodes whose outcome to read, oldest first."""
        active = self.state.active
        if self.ended is None or len(active) <= READ_ALL_UP_TO:
            return [(node_id, node[0]) for node_id, node in active.items()]
        ended = [node_id for node_id in dict.fromkeys(self.ended) if node_id in active]
        if len(ended) > 1:
            # In the order a full read would find them, so that events come in the same order.
            wanted = set(ended)
            return [(node_id, node[0]) for node_id, node in active.items() if node_id in wanted]
        return [(node_id, active[node_id][0]) for node_id in ended]

    def _finish(self, name, node_id, plan: _Plan) -> None:
        """Commit a successful node whole: NODE_SUCCESSFUL, what its edges start, and ``finished``."""
        self._remove_active(name, node_id)
        self.changed = True
        Trace.log(Trace.NODE_SUCCESSFUL, self.base, node_name=name, node_id=node_id)
        self._commit(plan)
        self.state.finished.setdefault(name, []).append(node_id)

    def _remove_active(self, name, node_id) -> None:
        del self.state.active[node_id]

    # --- edges -------------------------------------------------------------------

    def _plan_finished(self, plan: _Plan, edge: Edge, name: str, node_id: str) -> None:
        """Try ``edge`` for each combination of this run of ``name`` with the finished runs of its other sources."""
        choices = []
        for source in edge.nodes_from:
            runs = [node_id] if source == name else self.state.finished.get(source)
            if not runs:
                return  # a source that has not finished: no combination yet
            choices.append(runs)
        for ids in itertools.product(*choices):
            parent, task_ids = _propagate.edge_parent(self.config, self.flow, self.ports,
                                                      dict(zip(edge.nodes_from, ids)))
            self._plan_edge(plan, edge, parent, task_ids)

    def _plan_edge(self, plan: _Plan, edge: Edge, parent: dict, task_ids: dict) -> None:
        msg = _msg.edge(self.base, edge, parent, self.node_args)
        wanted = None if self.selection is None else self.selection.nodes_of(edge)
        if self.selection is not None and wanted is None:
            plan.event(Trace.SELECTIVE_OMIT_EDGE, msg)
            return

        def result_of(task_name):
            return self.ports.result(task_name, task_ids[task_name])

        if not evaluate(edge.condition, node_args=self.node_args, result_of=result_of,
                        predicates_module=self.config.settings.predicates_module):
            plan.event(Trace.EDGE_COND_FALSE, msg)
            return
        if edge.selective is not None:  # computed (and cached) now, so that a request without a path starts nothing
            _selective.for_edge(self.config, edge.nodes_to[0], edge)
        if edge.foreach is None:
            for name in _selective.plan_nodes(self, plan, msg, wanted, edge.nodes_to, self.node_args, parent):
                plan.start(name, self.node_args, parent, edge)
            return
        items = edge.foreach.load()(self.ports.results(task_ids), self.node_args)
        items = list(items) if items else []
        plan.event(Trace.FOREACH_RESULT, dict(msg, result=items))
        for item in items:
            for name in _selective.plan_nodes(self, plan, msg, wanted, edge.nodes_to, item, parent):
                node_args = item if edge.foreach.propagate_result else self.node_args
                plan.start(name, node_args, parent, edge, foreach=edge.foreach.propagate_result)

    # --- starting nodes --------------------------------------------------------

    def _commit(self, plan: _Plan) -> None:
        for action in plan.actions:
            if action[0] == "event":
                Trace.log(action[1], action[2])
            elif action[0] == "reuse":
                # Running as far as the state knows, so that a wake-up postponed before handling it
                # reads its outcome, that of the earlier run, from the result backend.
                self.state.active[action[2]] = [action[1], action[2]]
                self.reused.append((action[1], action[2]))
                self.changed = True
            else:
                self.start(*action[1:])

    def start(self, name: str, node_args, parent: dict, edge: Optional[Edge] = None,
              foreach_item: bool = False) -> None:
        """Send node ``name`` now (``TASK_SCHEDULE`` or ``SUBFLOW_SCHEDULE``); ``edge`` None: a fallback."""
        node_id = str(uuid.uuid4())
        if self.config.is_flow(name):
            child_args = _propagate.subflow_args(self.flow, name, node_args, foreach_item)
            child_parent = _propagate.subflow_parent(self.flow, name, parent, fallback=edge is None)
            queue = self.config.flows[name].queue
            countdown = self.ports.countdown(name, True)
            child = _selective.child_selection(self.selection, self.config, name, edge)
            # Logged before the message is sent, so that the log is causal: a
            # node can never start before the event that schedules it. One
            # event per node started: without a sink, its msg is not built.
            if Trace.enabled:
                Trace.log(Trace.SUBFLOW_SCHEDULE, dict(_msg.subflow_schedule(
                    self.base, name, node_id, child_parent, child_args, queue, edge, countdown),
                    selective_edge_conf=_selective.edge_conf(edge), child_selective=child))
            if child is None:
                self.ports.send_flow(name, node_id, child_args, child_parent, countdown=countdown)
            else:
                self.ports.send_flow(name, node_id, child_args, child_parent, countdown=countdown, selective=child)
        else:
            queue = self.config.tasks[name].queue
            countdown = self.ports.countdown(name, False)
            if Trace.enabled:
                Trace.log(Trace.TASK_SCHEDULE,
                          _msg.task_schedule(self.base, name, node_id, parent, node_args, queue, edge, countdown))
            self.ports.send_task(name, node_id, node_args, parent, countdown=countdown)
        self.changed = True
        if name not in self.flow.nowait:
            self.state.active[node_id] = [name, node_id]
            (self.started if edge is not None else self.fallback_started).append(node_id)


_EDGES_FROM: Dict[int, tuple] = {}  # id(flow) -> (flow, {node name: its edges, in the order written})
_EDGES_FROM_MAX = 256
_edges_lock = threading.Lock()


def _edges_from(flow: Flow) -> Dict[str, Tuple[Edge, ...]]:
    """The flow's edges by ``from`` node, in the order written; built once per flow object."""
    held = _EDGES_FROM.get(id(flow))
    if held is not None and held[0] is flow:
        return held[1]
    index: Dict[str, list] = {}
    for edge in flow.edges:
        for name in dict.fromkeys(edge.nodes_from):
            index.setdefault(name, []).append(edge)
    built = {name: tuple(edges) for name, edges in index.items()}
    with _edges_lock:
        if len(_EDGES_FROM) >= _EDGES_FROM_MAX:
            _EDGES_FROM.clear()
        _EDGES_FROM[id(flow)] = (flow, built)
    return built
