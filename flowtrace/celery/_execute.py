"""The executing process's hooks: TASK_START, then exactly one terminal event per attempt.

``task_prerun`` opens an attempt and ``task_postrun`` closes it with the final
state that Celery's tracer (``build_tracer``) settled on, so the terminal
event follows that state and nothing else:

====================  ==================
postrun ``state``     event
====================  ==================
``SUCCESS``           ``TASK_END``
``RETRY``             ``TASK_RETRY``
``FAILURE``           ``TASK_FAILURE``
``IGNORED``           ``TASK_IGNORED``
``REJECTED``          ``TASK_REJECTED``
``None``              see below
====================  ==================

``task_failure`` and ``task_retry`` fire inside the attempt too; there they
only hand their ``einfo`` (a traceback formatted before Celery clears the
frames, celery #8882) to the postrun that follows. The same signals also fire
in the worker's main process for tasks whose process died; those go to
:mod:`flowtrace.celery._main`.

Postrun reports ``state=None`` when the error was outside the task body, or
when ``apply(throw=True)`` re-raises: Celery then reports the attempt through
``task_internal_error`` (and, outside eager mode, ``task_failure`` after it),
so the terminal event is emitted there, once.

From prerun to postrun the attempt's correlation fields are bound in the
context (:mod:`flowtrace.correlation` puts them on log records): set before
TASK_START, reset at postrun whatever its state, as postrun is sent from the
tracer's ``finally``. ``task_internal_error`` comes after postrun and binds
them again around its own event only.

The attempt's span (:mod:`flowtrace.celery._attempt`) is current over the
same stretch: chosen and attached at prerun, before TASK_START, detached at
postrun. Every event of the attempt carries its ``trace_id``, ``span_id`` and
``parent_span_id`` explicitly, the terminal ones included.
"""

from __future__ import annotations

import contextvars
import threading
import time
from time import monotonic
from typing import Any

from celery import states
from celery.exceptions import Ignore, Reject, Retry

from flowtrace import context
from flowtrace._clock import utc_iso
from flowtrace.celery import _attempt, _main, _msg, _order, _registry, _stamp
from flowtrace.trace import Trace

_TERMINAL = {
    states.SUCCESS: Trace.TASK_END,
    states.RETRY: Trace.TASK_RETRY,
    states.FAILURE: Trace.TASK_FAILURE,
    states.IGNORED: Trace.TASK_IGNORED,
    states.REJECTED: Trace.TASK_REJECTED,
}
_TASK_START = Trace.TASK_START
_FAILURE = Trace.TASK_FAILURE
_RETRY = Trace.TASK_RETRY
_REJECTED = Trace.TASK_REJECTED


class _Attempt:
    """One attempt running in this process, from prerun to postrun."""

    __slots__ = ("t0", "base", "einfo", "fields", "token", "span")

    def __init__(self, t0: float) -> None:
        self.t0 = t0
        self.base: dict[str, Any] | None = None  # the identity keys, built at prerun when a sink listens
        self.einfo: Any = None  # from task_failure / task_retry inside the attempt
        self.fields: dict[str, Any] | None = None  # the correlation fields bound at prerun
        self.token: contextvars.Token[dict[str, Any] | None] | None = None  # resets them at postrun
        # The attempt's span, current from prerun to postrun; None when it could not be made.
        self.span: _attempt.Entered | None = None


#: task_id -> _Attempt for the attempts running in this process. Kept even
#: without sinks (a clock read and a dict entry): it is how task_failure tells
#: the executing process from the main process.
_running: dict[str | None, _Attempt] = {}

# Per thread: the attempt that postrun closed with state None, waiting for
# task_internal_error; and the task id that task_internal_error reported, so
# that the task_failure Celery sends after it is not a second report.
_local = threading.local()


def on_prerun(sender=None, task_id=None, task=None, args=None, kwargs=None, **_):
    """``task_prerun`` receiver: TASK_START."""
    try:
        options = _registry.apps.get(sender.app)
        if options is None:
            return
        _order.check(_order.ATTEMPT)
        attempt = _running[task_id] = _Attempt(monotonic())
        request = task.request
        # Bound whether or not a sink listens: log correlation and
        # propagation to the tasks this one sends do not need one.
        try:
            attempt.span = _attempt.enter_attempt(request, task_id, request.retries or 0)
        except Exception as exc:  # the task runs, and its events, without a trace context
            _registry.failures.record("task_prerun (trace context)", exc)
        attempt.fields = fields = {"task_id": task_id, "task_name": task.name}
        _msg.flow_fields(fields, getattr(request, _msg.FLOW_HEADER, None), kwargs)
        attempt.token = context.enter_task(fields)
        if not Trace.enabled:
            return
        # Without a span (enter_attempt failed, and was counted) the events go
        # on without the trace ids.
        base = attempt.base = _base(request, task.name, attempt)
        msg = dict(base)
        msg["state"] = states.STARTED
        sent = getattr(request, _msg.SENT_HEADER, None)
        first = getattr(request, _msg.FIRST_SENT_HEADER, sent)
        msg["queue_latency"] = time.time() - sent if isinstance(sent, (int, float)) else None
        msg["first_sent"] = utc_iso(first) if isinstance(first, (int, float)) else None
        if options.include_args:
            _msg.arguments(msg, args, kwargs, getattr(request, "argsrepr", None),
                           getattr(request, "kwargsrepr", None), getattr(request, _msg.CUSTOM_REPR_HEADER, None))
        Trace.log(_TASK_START, msg)
    except Exception as exc:  # tracing must never break the task
        _registry.failures.record("task_prerun", exc)


def on_postrun(sender=None, task_id=None, task=None, retval=None, state=None, **_):
    """``task_postrun`` receiver: the terminal event for the tracer's final state."""
    try:
        attempt = _running.pop(task_id, None)
        if attempt is None:
            return
        if attempt.token is not None:
            context.exit_task(attempt.token)
        if attempt.span is not None:
            _attempt.exit_attempt(attempt.span)
        if state is None:
            _local.pending = (task_id, attempt)
            return
        event = _TERMINAL.get(state)
        if event is None or not Trace.enabled:
            return
        msg = dict(attempt.base or _base(task.request, task.name, attempt))
        msg["state"] = state
        msg["runtime"] = monotonic() - attempt.t0
        _outcome(msg, event, task, retval, attempt.einfo)
        Trace.log(event, msg)
    except Exception as exc:
        _registry.failures.record("task_postrun", exc)


def on_failure(sender=None, task_id=None, exception=None, einfo=None, **_):
    """``task_failure`` receiver, in whichever process Celery sends it."""
    try:
        attempt = _running.get(task_id)
        if attempt is not None:
            attempt.einfo = einfo
            return
        if getattr(_local, "reported", None) == task_id:
            _local.reported = None
            return
        _main.on_failure(sender, task_id, exception, einfo)
    except Exception as exc:
        _registry.failures.record("task_failure", exc)


def on_retry(sender=None, request=None, reason=None, einfo=None, **_):
    """``task_retry`` receiver, in whichever process Celery sends it."""
    try:
        attempt = _running.get(getattr(request, "id", None))
        if attempt is not None:
            attempt.einfo = einfo
            return
        _main.on_retry(sender, request, reason)
    except Exception as exc:
        _registry.failures.record("task_retry", exc)


def on_internal_error(sender=None, task_id=None, request=None, exception=None, einfo=None, **_):
    """``task_internal_error`` receiver: the terminal event when postrun had no state."""
    try:
        if _registry.apps.get(sender.app) is None:
            return
        pending = getattr(_local, "pending", None)
        attempt = None
        if pending is not None and pending[0] == task_id:
            attempt = pending[1]
            _local.pending = None
        _local.reported = task_id
        if not Trace.enabled:
            return
        if attempt is not None and attempt.base is not None:
            msg = dict(attempt.base)
        elif attempt is not None and attempt.span is not None:
            msg = _attempt.ids(_msg.from_request_dict(request, sender.name), attempt.span.span)
        else:
            msg = _stamp.main_ids(_msg.from_request_dict(request, sender.name), request)
        event, state = _classify(exception)
        msg["state"] = state
        if attempt is not None:
            msg["runtime"] = monotonic() - attempt.t0
        _outcome(msg, event, sender, exception, einfo)
        # Postrun already ended the attempt's fields; this event is still about it.
        _main.log_about_task(event, msg, attempt.fields if attempt is not None else None)
    except Exception as exc:
        _registry.failures.record("task_internal_error", exc)


#: How long a process that exits waits for its sinks (spans in a batch
#: processor's queue, Sentry envelopes) to be sent.
SHUTDOWN_FLUSH_TIMEOUT = 5.0


def on_process_shutdown(**_):
    """``worker_process_shutdown`` / ``worker_shutdown`` receiver: flush every sink before the process exits.

    A prefork child exits with ``os._exit`` (after ``worker_max_tasks_per_child``
    tasks, say), so no ``atexit`` handler runs: what a batch processor still
    holds would be lost (opentelemetry-python-contrib #4916).
    """
    try:
        Trace.flush(SHUTDOWN_FLUSH_TIMEOUT)
    except Exception as exc:
        _registry.failures.record("worker_process_shutdown", exc)


def _base(request, task_name, attempt):
    msg = _msg.from_context(request, task_name)
    return _attempt.ids(msg, attempt.span.span) if attempt.span is not None else msg


def _classify(exc):
    # apply(throw=True) re-raises control-flow exceptions through here too.
    if isinstance(exc, Retry):
        return _RETRY, states.RETRY
    if isinstance(exc, Reject):
        return _REJECTED, states.REJECTED
    if isinstance(exc, Ignore):
        return Trace.TASK_IGNORED, states.IGNORED
    return _FAILURE, states.FAILURE


def _outcome(msg, event, task, retval, einfo):
    """Add what the terminal event says about how the attempt ended."""
    if event == _FAILURE:
        exc = retval if isinstance(retval, BaseException) else getattr(einfo, "exception", None)
        if exc is not None:
            _msg.exception(msg, exc, einfo)
        msg["expected"] = _msg.expected(task, exc)
    elif event == _RETRY:
        if isinstance(retval, Retry):
            msg["reason"] = _msg.text(retval)
            _msg.cause(msg, retval.exc)
            _msg.when(msg, retval.when)
    elif event == _REJECTED:
        if isinstance(retval, Reject):
            msg["reason"] = _msg.text(retval.reason) if retval.reason is not None else None
            msg["requeue"] = bool(retval.requeue)

