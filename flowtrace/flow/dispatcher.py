"""The dispatcher: the Celery task that runs a flow, one wake-up at a time.

A flow's dispatcher is one Celery task, started by :func:`flowtrace.run_flow`
(or by the dispatcher of a parent flow, for a sub-flow). Its state travels in
its own message, so no worker ever blocks waiting for a node. Each run of it
is a *wake-up*:

1. ``DISPATCHER_WAKEUP``;
2. the state advances (``flowtrace.flow._wakeup.WakeUp``): outcomes are
   read from the result backend, edges fire, nodes are sent, fallbacks start.
   A wake-up that nudges caused reads the outcome of the nodes whose nudges
   named them only; one that its countdown caused reads every running node,
   and so does the first wake-up after ``flowtrace_dispatcher_countdown[0]``
   seconds without such a full read (``polled_at``, in the message), so that
   a node whose nudge was lost is seen within about that time;
3. then one of:

   - nodes still run: ``DISPATCHER_RETRY``, and the dispatcher retries itself
     with the new state and a countdown, the safety net; a node that ends
     *nudges* it so that it runs at once (see ``flowtrace.flow._nudge``);
   - the flow ended: ``FLOW_END``; the task succeeds, its result Selinon's
     ``{finished_nodes, failed_nodes, active_nodes}``;
   - the flow failed: ``FLOW_FAILURE``; within the flow's ``max_retry`` it
     starts over (``FLOW_RETRY``), otherwise the task fails with
     :exc:`FlowError`, whose ``state`` is the flow's final state;
   - a storage or the result backend failed: the dispatcher retries with the
     state as far as it got (``STORAGE_ISSUE`` / ``RESULT_BACKEND_ISSUE``
     were emitted);
   - anything else raised: ``DISPATCHER_FAILURE``, and the flow fails with
     its state.

The countdown is what the flow's ``sampling`` strategy answers
(``flowtrace.flow._sampling``; None ends the flow, as in Selinon). Without
one, or when the strategy fails, it starts at
``flowtrace_dispatcher_countdown[0]`` seconds after a wake-up that changed
something, and doubles after each one that did not, up to
``flowtrace_dispatcher_countdown[1]`` (app settings; 2 and 60 by default).
A node with ``throttling`` is sent with a countdown of its own
(``flowtrace.flow._throttle``). A selective run's selection
(``flowtrace.flow._selective``) rides in the message as ``selective``, kept
through every wake-up and ``FLOW_RETRY``.
"""

from __future__ import annotations

import time
import traceback
from typing import TYPE_CHECKING, Any

from celery import Task

from flowtrace._flowheader import FLOW_HEADER, flow_header
from flowtrace.errors import FlowError, StorageError
from flowtrace.flow import _flowstate, _msg, _nudge, _runtime, _sampling, _statecache, _throttle, _wakeup
from flowtrace.flow.migrations import _dispatch as _migrate
from flowtrace.trace import Trace

if TYPE_CHECKING:
    from flowtrace.storages.pool import StoragePool

__all__ = ["Dispatcher", "FlowError", "COUNTDOWN_SETTING", "DEFAULT_COUNTDOWN"]

#: The app setting ``(first, longest)`` countdown of a waiting dispatcher, in seconds.
#:
#: .. versionadded:: 0.1.0
COUNTDOWN_SETTING = "flowtrace_dispatcher_countdown"
#: The countdown ``(first, longest)`` when the app does not set :data:`COUNTDOWN_SETTING`.
#:
#: .. versionadded:: 0.1.0
DEFAULT_COUNTDOWN = (2.0, 60.0)


class Dispatcher(Task):
    """The dispatcher task; registered on an app by :func:`flowtrace.flow.register` as ``flowtrace.dispatcher``.

    .. versionadded:: 0.1.0
    """

    name = _runtime.DISPATCHER_NAME
    acks_late = True
    max_retries = None
    ignore_result = False
    typing = False
    # A failed flow is an outcome, not a crash: Celery logs it without a traceback.
    throws = (FlowError,)
    Request = "flowtrace.flow._nudge:DispatcherRequest"

    def run(self, flow_name, node_args=None, parent=None, state=None, retried_count=0, countdown=None,
            parent_dispatcher_id=None, polled_at=None, selective=None, migration_version=None):
        """One wake-up of the flow; Celery calls it with the keyword arguments of the dispatcher's message.

        Args:
            flow_name: the flow.
            node_args: the flow's arguments.
            parent: what the parent flow passed on, for a sub-flow.
            state: the flow's state from the last wake-up; None when the flow starts.
            retried_count: how many times the whole flow was retried.
            countdown: the countdown this wake-up waited, None for the first.
            parent_dispatcher_id: the parent flow's dispatcher, for a sub-flow.
            polled_at: when a wake-up last read every running node.
            selective: the selection of a selective run
                (:func:`flowtrace.run_flow_selective`), None for a whole run.
            migration_version: the newest migration of the worker that sent
                this message (``flowtrace.flow.migrations``); None without one.

        Returns:
            The flow's final state, once it has ended.

        Raises:
            celery.exceptions.Retry: while nodes still run, or the flow starts over.
            FlowError: when the flow fails.

        .. versionadded:: 0.1.0
        """
        _nudge.ensure_last()
        config = _runtime.config_of(self.app)
        flow = config.flows[flow_name]
        dispatcher_id = self.request.id
        flow_msg = _msg.flow(flow_name, dispatcher_id, node_args, flow.queue, selective or False)
        info = _msg.wakeup(flow_msg, state, countdown, retried_count, parent)
        call = {"flow_name": flow_name, "node_args": node_args, "parent": parent, "retried_count": retried_count,
                "parent_dispatcher_id": parent_dispatcher_id}
        if selective:  # kept through every wake-up and FLOW_RETRY, as in Selinon
            call["selective"] = selective
        Trace.log(Trace.DISPATCHER_WAKEUP, info)
        migration_version = _migrate.on_wakeup(self, config, flow, info, call, state, migration_version)
        if migration_version is not None:
            call["migration_version"] = migration_version
        ended, call["polled_at"] = self._to_read(polled_at)
        wakeup = None
        try:
            wakeup = _wakeup.WakeUp(config, flow, dispatcher_id, node_args, parent, state,
                                   _CeleryPorts(self, config, flow_name, parent, selective), ended=ended,
                                   selective=selective)
            outcome = wakeup.run()
        except _wakeup.Postpone:
            # Not a change: the countdown backs off as after an idle wake-up (the strategy is
            # not asked: a retry of the same work is no sample of the flow). The next
            # wake-up reads every node: the one left unhandled may have no nudge to come.
            raise self._wait(info, dict(call, polled_at=None), wakeup, self._backoff(info, changed=False))
        except Exception:
            Trace.log(Trace.DISPATCHER_FAILURE, flow_msg, what=traceback.format_exc())
            final = _final(wakeup.state) if wakeup is not None else _final(_flowstate.FlowState.from_dict(None))
            raise FlowError(final) from None
        if outcome == _wakeup.RUNNING:
            countdown = self._countdown(info, flow, wakeup)
            if countdown is not None:
                raise self._wait(info, call, wakeup, countdown)
            outcome = _wakeup.ENDED  # the strategy stopped retrying: the flow ends there, as in Selinon
        final = _final(wakeup.state)
        if outcome == _wakeup.ENDED:
            Trace.log(Trace.FLOW_END, flow_msg, state=final)
            return final
        will_retry = retried_count < flow.max_retry
        Trace.log(Trace.FLOW_FAILURE, flow_msg, state=final, will_retry=will_retry)
        if not will_retry:
            raise FlowError(final)
        Trace.log(Trace.FLOW_RETRY, flow_msg, countdown=flow.retry_countdown, retried_count=retried_count + 1,
                  max_retry=flow.max_retry)
        # The flow starts over: a fresh state, and the dispatcher's countdown from the start.
        raise self._retry(dict(call, state=None, retried_count=retried_count + 1, countdown=None, polled_at=None),
                          flow.retry_countdown, flow.queue)

    @property
    def backend(self):
        """The app's result backend, minus the RETRY state (see ``flowtrace.flow._runtime.RetrylessBackend``).

        .. versionadded:: 0.1.0
        """
        return _runtime.RetrylessBackend(self.app)

    def _to_read(self, polled_at):
        """``(ended, polled_at)``: the node ids whose outcome to read (None: every running node), and the
        time of the latest wake-up that read every node, this one included."""
        now = time.time()
        nudged = getattr(self.request, _nudge.HINT, None)
        # abs(): a clock that is behind on another worker makes full reads more frequent, never rarer.
        if nudged is None or polled_at is None or abs(now - polled_at) >= _countdowns(self.app)[0]:
            return None, now
        return nudged, polled_at

    def _backoff(self, info, changed):
        """The dispatcher's own countdown: the first after a change, doubled after each wake-up without one."""
        first, longest = _countdowns(self.app)
        previous = info["retry"]
        return first if changed or previous is None else min(longest, max(first, previous * 2))

    def _countdown(self, info, flow, wakeup):
        """The next wake-up's countdown: the flow's ``sampling`` strategy's, or :meth:`_backoff`'s.

        None when the strategy stops retrying; a strategy that fails gives way to :meth:`_backoff`.
        """
        if flow.sampling is not None:
            state, async_result = wakeup.state, self.app.AsyncResult
            ok, countdown = _sampling.ask(flow.sampling, flow.name, lambda: _sampling.status(
                info["retry"], state.active.values(), state.failed, state.finished, wakeup.started,
                wakeup.fallback_started, async_result))
            if ok:
                return countdown
        return self._backoff(info, changed=wakeup.changed)

    def _wait(self, info, call, wakeup, countdown):
        state = wakeup.state.to_dict()
        Trace.log(Trace.DISPATCHER_RETRY, info, state_dict=state, countdown=countdown)
        return self._retry(dict(call, state=state, countdown=countdown), countdown, info["queue"])

    def _retry(self, kwargs, countdown, queue):
        """Send the next wake-up's message (Celery's ``retry``, which raises ``Retry``)."""
        headers = dict(self.request.headers or {})
        headers.pop(_nudge.HINT, None)  # the nodes that woke this wake-up, not the next one
        headers[FLOW_HEADER] = flow_header(kwargs["flow_name"], self.request.id, kwargs["parent"],
                                           kwargs["node_args"], kwargs["retried_count"])
        return self.retry(kwargs=kwargs, countdown=countdown, max_retries=None, queue=queue, headers=headers)

    @staticmethod
    def flowtrace_nudge_target(task):
        """A sub-flow's dispatcher wakes its parent's when it ends.

        Args:
            task: the dispatcher task whose attempt ended.

        Returns:
            The id of the parent flow's dispatcher, or None for a flow that is not a sub-flow.

        .. versionadded:: 0.1.0
        """
        return (task.request.kwargs or {}).get("parent_dispatcher_id")


def _final(state) -> dict:
    data = state.to_dict()
    return {"finished_nodes": data["finished_nodes"], "failed_nodes": data["failed_nodes"],
            "active_nodes": data["active_nodes"]}


def _countdowns(app):
    value = app.conf.get(COUNTDOWN_SETTING) or DEFAULT_COUNTDOWN
    first, longest = (float(value[0]), float(value[1]))
    return first, max(first, longest)


class _CeleryPorts(_wakeup.Ports):
    """The wake-up's view of the world: Celery's result backend and broker, and the storage pool."""

    def __init__(self, dispatcher: Dispatcher, config, flow_name: str, parent=None, selective=None):
        self.dispatcher = dispatcher
        #: The flow's parent (the results of the parent flow's nodes, for a sub-flow), as its events carry it.
        self.parent = parent
        #: The run's selection, as its events carry it (False for a whole run).
        self.selective = selective or False
        self.app = dispatcher.app
        self.config = config
        self.flow_name = flow_name
        self.dispatcher_id = dispatcher.request.id
        self._pool: StoragePool | None = None
        #: The node states, read through the flow's ``cache`` if it has one (``flowtrace.flow._statecache``).
        self.states = _statecache.NodeStates(self.app, config.flows[flow_name], self.dispatcher_id, parent,
                                             self.selective)

    @property
    def pool(self) -> StoragePool:
        if self._pool is None:
            self._pool = _runtime.pool_of(self.app)
        return self._pool

    def _backend_issue(self, name, node_id):
        queue = self.config.flows[self.flow_name].queue
        Trace.log(Trace.RESULT_BACKEND_ISSUE,
                  _msg.node_state(self.flow_name, self.dispatcher_id, name, node_id, self.parent, queue,
                                  self.selective),
                  what=traceback.format_exc())
        return _wakeup.Postpone("the result backend failed for %s (%s)" % (name, node_id))

    def outcome(self, name, node_id, is_flow):
        try:
            state = self.states.read(name, node_id, is_flow)
        except Exception:
            raise self._backend_issue(name, node_id) from None
        return state.status, state.what

    def result(self, task_name, task_id):
        try:
            return self.pool.retrieve(self.flow_name, task_name, task_id)
        except StorageError as exc:
            raise _wakeup.Postpone(str(exc)) from exc

    def results(self, id_mapping):
        return _PostponingResults(self, id_mapping)

    def finished_of(self, flow_name, flow_id):
        return self._nested(flow_name, flow_id, "finished_nodes")

    def failed_of(self, flow_name, flow_id):
        return self._nested(flow_name, flow_id, "failed_nodes")

    def _nested(self, flow_name, flow_id, key):
        """A sub-flow's finished or failed tasks, by name, with those of its own sub-flows nested under theirs."""
        try:
            value = self.states.read(flow_name, flow_id, True).result
        except Exception:
            raise self._backend_issue(flow_name, flow_id) from None
        if isinstance(value, FlowError):
            value = value.state
        nested: dict[str, Any] = {}
        for name, ids in ((value if isinstance(value, dict) else {}).get(key) or {}).items():
            if self.config.is_flow(name):
                for child_id in ids:
                    _merge(nested.setdefault(name, {}), self._nested(name, child_id, key))
            else:
                nested.setdefault(name, []).extend(ids)
        return nested

    def countdown(self, name, is_flow):
        node = self.config.flows[name] if is_flow else self.config.tasks[name]
        if node.throttling is None:
            return None
        return _throttle.countdown(self.app.backend, "flow" if is_flow else "task", name, node.throttling)

    def send_task(self, name, task_id, node_args, parent, countdown=None):
        entry = self.config.tasks[name]
        header = flow_header(self.flow_name, self.dispatcher_id, parent, node_args)
        self.app.tasks[name].apply_async(
            kwargs={"flow_name": self.flow_name, "node_args": node_args, "parent": parent,
                    "dispatcher_id": self.dispatcher_id, "retried_count": 0},
            task_id=task_id, queue=entry.queue, headers={FLOW_HEADER: header}, countdown=countdown)
        return entry.queue

    def send_flow(self, name, dispatcher_id, node_args, parent, countdown=None, selective=None):
        queue = self.config.flows[name].queue
        send_dispatcher(self.app, name, dispatcher_id, node_args, parent, queue,
                        parent_dispatcher_id=self.dispatcher_id, countdown=countdown, selective=selective)
        return queue


class _PostponingResults:
    """A ``foreach`` function's storage pool: ``get(name)``, with storage failures postponing the wake-up."""

    def __init__(self, ports, id_mapping):
        self.ports = ports
        self.id_mapping = dict(id_mapping)

    def get(self, task_name):
        return self.ports.result(task_name, self.id_mapping[task_name])


def _merge(into: dict, other: dict) -> None:
    for key, value in other.items():
        if isinstance(value, dict):
            _merge(into.setdefault(key, {}), value)
        else:
            into.setdefault(key, []).extend(value)


def send_dispatcher(app, flow_name, dispatcher_id, node_args, parent, queue, parent_dispatcher_id=None,
                    countdown=None, selective=None, **options):
    """Send the first message of a flow's dispatcher (due ``countdown`` seconds from now); returns its AsyncResult.

    ``selective`` is the selection of a selective run (``flowtrace.flow._selective``), or None; ``options`` are
    more of Celery's send options (``eta``, ``priority``, ``link``, ...), checked by the caller.
    """
    kwargs = {"flow_name": flow_name, "node_args": node_args, "parent": parent}
    if parent_dispatcher_id is not None:
        kwargs["parent_dispatcher_id"] = parent_dispatcher_id
    if selective:
        kwargs["selective"] = selective
    header = flow_header(flow_name, dispatcher_id, parent, node_args)
    return app.tasks[_runtime.DISPATCHER_NAME].apply_async(
        kwargs=kwargs, task_id=dispatcher_id, queue=queue, headers={FLOW_HEADER: header}, countdown=countdown,
        **options)
