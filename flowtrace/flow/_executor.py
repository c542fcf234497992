"""The machinery behind :func:`flowtrace.flow.execute.execute`: a Celery app whose messages stay in this process.

The app is a real, instrumented Celery app with the flow configuration
registered on it (:func:`flowtrace.flow.register`): the dispatcher task and
the flow tasks are the ones real workers run, unchanged. Only three things
differ from a worker:

- the broker is Celery's ``memory://`` transport, and every message that one
  of the app's tasks publishes there (the publish hooks, ``TASK_PUBLISH``
  included, run as they do anywhere) is taken into a :class:`Queue` ordered by
  its ETA, which :class:`Loop` runs when it is due as a worker's pool
  process runs a message: Celery's tracer (``build_tracer``, not eager) on
  the request dict a worker makes of the message, so that the task events
  come from the same hooks, a retry is a new message, and results go to the
  result backend;
- the result backend is :class:`MemoryBackend`, a dict on the app, shared by
  the threads of ``--concurrency``.

Nudges (``flowtrace.flow._nudge``) are off on the app; the loop does what a
worker does with one: when a node's attempt ends for good, its dispatcher's
waiting message becomes due at once.
"""

from __future__ import annotations

import heapq
import socket
import itertools
import threading
import time
import uuid
from datetime import datetime
from typing import Any, Dict, List, NamedTuple, Optional

from celery import Celery, signals, states
from celery.backends.base import KeyValueStoreBackend
from celery.app.trace import build_tracer

from flowtrace.flow import _nudge, _runtime
from flowtrace.flow._registration import register

#: The states after which a node's attempt has ended for good (its dispatcher is nudged).
_ENDED = (states.SUCCESS, states.FAILURE)


class MemoryBackend(KeyValueStoreBackend):
    """A result backend kept in a dict on its app: every thread's backend instance sees the same results."""

    def __init__(self, app, url=None, **kwargs):
        super().__init__(app, **kwargs)
        self._store, self._lock = app.flowtrace_executor_store

    def get(self, key):
        return self._store.get(key)

    def mget(self, keys):
        return [self._store.get(key) for key in keys]

    def set(self, key, value):
        self._store[key] = value

    def delete(self, key):
        self._store.pop(key, None)

    def incr(self, key):
        with self._lock:
            value = int(self._store.get(key) or 0) + 1
            self._store[key] = value
            return value


class Message(NamedTuple):
    """One message the app published: what running it takes."""

    task_name: str
    task_id: str
    args: tuple
    kwargs: dict
    headers: dict
    embed: dict
    exchange: Optional[str]
    routing_key: Optional[str]


def _due(headers: dict, now: float) -> float:
    eta = headers.get("eta")
    if not eta:
        return now
    try:
        return datetime.fromisoformat(eta).timestamp()
    except (TypeError, ValueError):
        return now


class Queue:
    """The app's published messages, by due time, then in the order they were sent."""

    def __init__(self) -> None:
        self._heap: List[tuple] = []
        self._order = itertools.count()
        self._due: Dict[str, float] = {}  # task id -> due time of its queued message
        self._early: set = set()  # dispatchers nudged while none of their messages was queued
        self.cond = threading.Condition()

    def put(self, message: Message) -> None:
        with self.cond:
            now = time.time()
            due = _due(message.headers, now)
            if message.task_id in self._early:
                self._early.discard(message.task_id)
                due = min(due, now)
            self._due[message.task_id] = due
            heapq.heappush(self._heap, (due, next(self._order), message))
            self.cond.notify_all()

    def nudge(self, dispatcher_id: str) -> None:
        """What a worker does with a nudge: the dispatcher's waiting message runs now."""
        with self.cond:
            due = self._due.get(dispatcher_id)
            if due is None:
                self._early.add(dispatcher_id)
                return
            now = time.time()
            if due > now:
                for index, (_, order, message) in enumerate(self._heap):
                    if message.task_id == dispatcher_id:
                        self._heap[index] = (now, order, message)
                        heapq.heapify(self._heap)
                        self._due[dispatcher_id] = now
                        break
            self.cond.notify_all()

    def pop_due(self, sleep_time: float) -> Optional[Message]:
        """The next message that is due, waiting at most ``sleep_time`` for one; None if none came."""
        with self.cond:
            if self._heap:
                due = self._heap[0][0]
                wait = due - time.time()
                if wait <= 0:
                    message = heapq.heappop(self._heap)[2]
                    self._due.pop(message.task_id, None)
                    return message
                self.cond.wait(min(wait, sleep_time))
            else:
                self.cond.wait(sleep_time)
            return None

    def __len__(self) -> int:
        with self.cond:
            return len(self._heap)

    def drain(self) -> List[Message]:
        """Take every message left, in the order they would have run."""
        with self.cond:
            left = [entry[2] for entry in sorted(self._heap)]
            self._heap.clear()
            self._due.clear()
            return left


# --- the app ---------------------------------------------------------------------

_active_lock = threading.Lock()
_active: Dict[int, "Local"] = {}  # id(app) -> the executor whose app it is


def _on_published(sender=None, body=None, headers=None, exchange=None, routing_key=None, **_):
    """``after_task_publish``: a message of an executor's app goes to that executor's queue."""
    if not headers or "id" not in headers:
        return
    for local in list(_active.values()):
        if sender in local.names:
            args, kwargs = (body[0], body[1]) if isinstance(body, (tuple, list)) and len(body) >= 2 else ((), {})
            embed = body[2] if isinstance(body, (tuple, list)) and len(body) >= 3 else None
            local.queue.put(Message(sender, headers["id"], tuple(args), dict(kwargs or {}), dict(headers),
                                    embed or {}, exchange, routing_key))
            return


class Local:
    """An in-process app with ``config`` registered on it, and the queue of its messages.

    Args:
        config: the flow configuration.
        settings: more settings for the app.
    """

    def __init__(self, config, settings=None) -> None:
        self.queue = Queue()
        self.app = Celery("flowtrace-execute-%s" % uuid.uuid4().hex[:8], broker="memory://",
                          backend="%s:MemoryBackend" % __name__, set_as_current=False)
        self.app.flowtrace_executor_store = ({}, threading.Lock())
        self.app.conf.update(task_always_eager=False)
        self.app.conf.update(settings or {})
        self.app.conf[_nudge.SETTING] = False  # the loop nudges; no worker listens for broadcasts
        register(self.app, config)
        self.names = frozenset((_runtime.DISPATCHER_NAME,) + tuple(config.tasks))
        self.hostname = "execute@" + socket.gethostname()
        self._tracers: Dict[str, Any] = {}

    def trace(self, message: "Message"):
        """Run one message as a worker's pool process does: Celery's tracer, on a worker's request dict.

        Returns:
            The attempt's final state: SUCCESS, FAILURE, RETRY, ...
        """
        task = self.app.tasks[message.task_name]
        tracer = self._tracers.get(message.task_name)
        if tracer is None:
            tracer = self._tracers[message.task_name] = build_tracer(task.name, task, app=self.app,
                                                                     hostname=self.hostname)
        request = dict(message.headers)
        request.update({"args": list(message.args), "kwargs": message.kwargs, "hostname": self.hostname,
                        "is_eager": False, "delivery_info": {"exchange": message.exchange,
                                                             "routing_key": message.routing_key,
                                                             "priority": None, "redelivered": False}},
                       **(message.embed or {}))
        info = tracer(message.task_id, list(message.args), message.kwargs, request).info
        return states.SUCCESS if info is None else info.state

    def __enter__(self) -> "Local":
        signals.after_task_publish.connect(_on_published, weak=False, dispatch_uid="flowtrace.flow.executor")
        with _active_lock:
            if _active:
                raise RuntimeError("flowtrace.flow.execute.execute() is already running in this process; "
                                   "one run at a time")
            _active[id(self.app)] = self
        return self

    def __exit__(self, *exc_info) -> None:
        with _active_lock:
            _active.pop(id(self.app), None)
        if not _active:
            signals.after_task_publish.disconnect(dispatch_uid="flowtrace.flow.executor")
        self.app.close()


class Loop:
    """Runs the queue's messages, each when it is due, until the flow ``dispatcher_id`` has its outcome.

    Args:
        local: the :class:`Local` app.
        dispatcher_id: the top flow's dispatcher.
        concurrency: how many messages run at the same time (threads).
        sleep_time: the longest wait before looking at the queue again, in seconds.
        keep_going: once the flow has its outcome, run what is still queued too.
        timeout: stop after this many seconds, outcome or not; None: never.
    """

    def __init__(self, local: Local, dispatcher_id: str, concurrency: int, sleep_time: float,
                 keep_going: bool, timeout: Optional[float] = None) -> None:
        self.deadline = None if timeout is None else time.monotonic() + timeout
        self.local = local
        self.dispatcher_id = dispatcher_id
        self.concurrency = concurrency
        self.sleep_time = sleep_time
        self.keep_going = keep_going
        self.outcome: Any = None  # the top dispatcher's EagerResult once it succeeded or failed
        self.running = 0
        self.error: Optional[BaseException] = None

    def run(self) -> List[Message]:
        """Run until done; returns the messages left unrun."""
        if self.concurrency == 1:
            self._work()
        else:
            threads = [threading.Thread(target=self._work, name="flowtrace-execute-%d" % index, daemon=True)
                       for index in range(self.concurrency)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        if self.error is not None:
            raise self.error
        return self.local.queue.drain()

    def _done(self) -> bool:
        queue = self.local.queue
        with queue.cond:
            if self.error is not None or (self.deadline is not None and time.monotonic() >= self.deadline):
                return True
            if self.outcome is not None and not self.keep_going:
                return True
            return self.running == 0 and not len(queue)

    def _work(self) -> None:
        queue = self.local.queue
        while not self._done():
            message = queue.pop_due(self.sleep_time)
            if message is None:
                continue
            with queue.cond:
                self.running += 1
            try:
                self._run(message)
            except BaseException as exc:  # a bug here, or Ctrl-C: stop every thread
                with queue.cond:
                    self.error = exc
                    queue.cond.notify_all()
            finally:
                with queue.cond:
                    self.running -= 1
                    queue.cond.notify_all()

    def _run(self, message: Message) -> None:
        state = self.local.trace(message)
        if state not in _ENDED:
            return
        if message.task_id == self.dispatcher_id:
            with self.local.queue.cond:
                self.outcome = self.local.app.AsyncResult(message.task_id)
                self.local.queue.cond.notify_all()
            return
        target = message.kwargs.get("dispatcher_id") or message.kwargs.get("parent_dispatcher_id")
        if target:
            self.local.queue.nudge(target)
