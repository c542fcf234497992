"""Waking a dispatcher as soon as a node of its flow ends, instead of when its countdown runs out.

Between two wake-ups, a dispatcher is a message with an ETA: the worker that
received it keeps it in its timer until the countdown runs out (the safety
net, as in Selinon). When a node of the flow ends, the process that ran it
*nudges* the dispatcher: it broadcasts the remote-control command
``flowtrace_wakeup`` with the dispatcher's id, and the worker holding that
message in its timer takes it out and hands it to its pool at once. Nothing
changes in the message or its state, so a nudge that is lost (a worker with
remote control off, a broadcast that does not arrive) costs time, never
correctness: the countdown still fires.

A node can end before its dispatcher's next message has reached a worker
(the dispatcher is still running, or the message is on its way). Each worker
therefore remembers, for :data:`EARLY_TTL` seconds, the nudges it could not
place, and a dispatcher message that arrives with a remembered nudge runs
without waiting (:class:`DispatcherRequest`).

Only the worker's main process holds the timer: the nudge is sent from the
pool process that ran the node, after the node's state is stored in the result
backend and after its ``TASK_END`` (or ``TASK_FAILURE``) was emitted, so
the trace stays causal: the node ends, then its dispatcher wakes.

A nudge names the node that ended, and the worker hands the dispatcher the
nodes whose nudges woke it (the :data:`HINT` request attribute, set on the
request in the main process before it goes to the pool): such a wake-up
reads the outcome of those nodes only, not of every node of the flow, so its
cost follows what changed and not the flow's size. The hint is never trusted
for more than speed: a wake-up without one (its countdown ran out) reads
every running node, and so does the dispatcher at least once per first
countdown (see ``flowtrace.flow.dispatcher``), which is how a node whose
nudge was lost is still seen.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import OrderedDict
from typing import Any, Optional

from celery import signals, states
from celery.worker.control import control_command
from celery.worker.request import Request

from flowtrace._report import FailureCounter

__all__ = ["COMMAND", "HINT", "nudge", "wake", "DispatcherRequest", "connect", "EARLY_TTL"]

#: The remote-control command's name.
COMMAND = "flowtrace_wakeup"

#: The request attribute that lists the ids of the nodes whose nudges woke a dispatcher; absent
#: when its countdown woke it, or when a nudge did not say which node ended.
HINT = "flowtrace_nudged"

#: How long a worker remembers a nudge for a dispatcher whose message it does not hold, in seconds.
EARLY_TTL = 60.0
_EARLY_MAX = 20000

#: The task attribute naming the dispatcher to nudge when the task's attempt ends: a function
#: ``(task) -> dispatcher id or None``.
TARGET_ATTR = "flowtrace_nudge_target"

#: The app setting that turns nudges off (``app.conf.flowtrace_nudge = False``): dispatchers then
#: wake on their countdown only, as in Selinon.
SETTING = "flowtrace_nudge"

_early: OrderedDict = OrderedDict()  # dispatcher id -> [expiry (monotonic), node ids or None: unknown]
_early_lock = threading.Lock()
_ENDED = (states.SUCCESS, states.FAILURE)

failures = FailureCounter("flow wake-up")


# --- the sending side (a pool process, after a node ended) ---------------------

def nudge(app, dispatcher_id: str, node_id: Optional[str] = None) -> None:
    """Broadcast a nudge for ``dispatcher_id``, naming the node that ended (``node_id``); never raises.

    .. versionadded:: 0.1.0
    """
    arguments = {"dispatcher_id": dispatcher_id}
    if node_id is not None:
        arguments["node_id"] = node_id
    try:
        app.control.broadcast(COMMAND, arguments=arguments, reply=False)
    except Exception as exc:  # the countdown is the safety net
        failures.record("sending a nudge", exc)


def _on_postrun(sender=None, task=None, state=None, **_):
    """``task_postrun``: nudge the dispatcher of a flow node whose attempt ended for good."""
    try:
        target = getattr(task, TARGET_ATTR, None)
        if target is None or state not in _ENDED:
            return
        dispatcher_id = target(task)
        if dispatcher_id and task.app.conf.get(SETTING, True):
            nudge(task.app, dispatcher_id, task.request.id)
    except Exception as exc:
        failures.record("task_postrun", exc)


_UID = "flowtrace.flow.nudge.postrun"


def connect() -> None:
    """Connect the ``task_postrun`` receiver; idempotent.

    It must run after the Celery integration's receiver, which emits
    ``TASK_END``: :func:`ensure_last` moves it to the end of the list.
    """
    signals.task_postrun.connect(_on_postrun, weak=False, dispatch_uid=_UID)


def ensure_last() -> None:
    """Make the receiver the last one ``task_postrun`` calls in this process (called before each node runs).

    Receivers run in the order they were connected, and ``flowtrace.instrument``
    may well be called after the flows were registered.
    """
    receivers = signals.task_postrun.receivers
    if receivers and receivers[-1][0][0] == _UID:
        return
    signals.task_postrun.disconnect(dispatch_uid=_UID)
    connect()


# --- the receiving side (the worker's main process) -----------------------------

@control_command(args=[("dispatcher_id", str), ("node_id", str)], signature="<dispatcher_id> [node_id]")
def flowtrace_wakeup(state, dispatcher_id=None, node_id=None):
    """Run the dispatcher ``dispatcher_id`` now if this worker holds its message, else remember the nudge.

    ``node_id`` is the node whose end sent the nudge; None when the sender did not say.
    """
    try:
        if dispatcher_id and not wake(state.consumer.timer, dispatcher_id, node_id):
            _remember(dispatcher_id, node_id)
    except Exception as exc:
        failures.record("the wake-up command", exc)
    return {"ok": "nudged"}


def wake(timer, dispatcher_id: str, node_id: Optional[str] = None) -> bool:
    """Fire the timer entry of the dispatcher's message now; whether this timer held it.

    The entry is claimed under the timer's lock (the thread-based timer of
    non-event-loop transports pops entries under it), by cancelling it: the
    timer skips a cancelled entry, so it can never run twice. An entry already
    popped is running now anyway. The request is told which node ended
    (:data:`HINT`), unless ``node_id`` is None.
    """
    lock = getattr(timer, "mutex", None) or contextlib.nullcontext()
    with lock:
        for scheduled in timer.queue:  # a sorted copy of the heap
            entry = scheduled[2]
            args = entry.args
            if args and getattr(args[0], "id", None) == dispatcher_id and not entry.canceled:
                entry.cancel()
                break
        else:
            return False
    _hint(entry.args[0], None if node_id is None else [node_id])
    entry.fun(*entry.args, **entry.kwargs)
    return True


def _hint(request, node_ids) -> None:
    """Hand the dispatcher's request the ids of the nodes that ended; None leaves it without (read every node)."""
    data = getattr(request, "_request_dict", None)
    if node_ids is not None and isinstance(data, dict):
        data[HINT] = list(node_ids)


def _remember(dispatcher_id: str, node_id: Optional[str] = None) -> None:
    now = time.monotonic()
    with _early_lock:
        held = _early.pop(dispatcher_id, None)
        if held is None or held[0] < now:
            held = [now, []]
        held[0] = now + EARLY_TTL
        if node_id is None:
            held[1] = None  # a nudge that does not name its node: the wake-up reads every node
        elif held[1] is not None:
            held[1].append(node_id)
        _early[dispatcher_id] = held
        while _early and (len(_early) > _EARLY_MAX or next(iter(_early.values()))[0] < now):
            _early.popitem(last=False)


def _take(dispatcher_id: str):
    """``(True, node ids or None)`` if nudges for ``dispatcher_id`` arrived before its message, else
    ``(False, None)``; forgets them."""
    if not _early:
        return False, None
    with _early_lock:
        held = _early.pop(dispatcher_id, None)
    if held is None or held[0] < time.monotonic():
        return False, None
    return True, held[1]


def take_early(dispatcher_id: str) -> bool:
    """Whether a nudge for ``dispatcher_id`` arrived before its message; forgets it."""
    return _take(dispatcher_id)[0]


class DispatcherRequest(Request):
    """The worker's request class for dispatcher messages: one that was nudged early has no ETA.

    Celery reads ``eta`` when the message arrives, before it decides between
    the timer and the pool; this is the hook that sends a nudged dispatcher
    straight to the pool.

    .. versionadded:: 0.1.0
    """

    _eta: Any  # Celery's Request sets it in __init__

    @property
    def eta(self) -> Any:
        if self._eta is not None:
            early, node_ids = _take(self.id)
            if early:
                self._eta = None
                _hint(self, node_ids)
        return self._eta
