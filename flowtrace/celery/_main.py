"""The worker main process's hooks: receipt, and tasks that never ran or died mid-run.

The main process reads messages and hands them to the pool. It reports:

- ``task_received``: TASK_RECEIVED;
- ``task_revoked`` (revoked, expired, or terminated while running): TASK_REVOKED;
- ``task_unknown`` (no task of that name is registered): TASK_UNKNOWN;
- ``task_rejected`` (a message it could not validate, or of unknown format)
  and ``Consumer.on_decode_error`` (a body it could not decode; Celery sends
  no signal for it): TASK_REJECTED with a ``reason``;
- ``task_failure`` and ``task_retry`` sent here rather than in the process
  that ran the task: the child was killed (``WorkerLostError``), hit its hard
  time limit, was recycled by ``retry_on_worker_lost`` or cancelled when the
  broker connection was lost. These are terminal events for an attempt whose
  TASK_START the child emitted, so no TASK_START is left without an end.

Each attempt gets at most one terminal event from here: Celery reports a hard
time limit twice (``Request.on_timeout`` and the pool's error callback) and a
terminated task both as revoked and, sometimes, as a lost worker.

At receipt, the main process chooses the span id (and, for a message that
starts a trace, the trace id) of the attempt and hands it to the pool in the
request (:func:`flowtrace.celery._stamp.stamp`), so that its events about
the attempt carry the ids the attempt's own events will carry.

No task runs here, so each event is emitted with its task's ``task_id`` and
``task_name`` bound as correlation fields (:mod:`flowtrace.correlation`),
and its ``trace_id`` and ``span_id`` made current (:func:`flowtrace.context.set_ids`):
what a sink logs about a task in this process names it (django-structlog
#1043). ``Request.on_failure`` runs with them bound as a whole (see
:mod:`flowtrace.celery._patches`).
"""

from __future__ import annotations

import time
import weakref
from collections import OrderedDict
from typing import Any

from billiard.exceptions import TimeLimitExceeded, WorkerLostError
from celery import states
from celery.exceptions import Reject

from flowtrace import context
from flowtrace.celery import _msg, _registry, _stamp
from flowtrace.trace import Trace

_TASK_RECEIVED = Trace.TASK_RECEIVED
# How a pool child that died reaches Request.on_failure (billiard >= 4.3 may
# report the child's SystemExit before the process is gone).
_POOL_ERRORS = (WorkerLostError, TimeLimitExceeded, SystemExit, KeyboardInterrupt)

#: task_id -> Request, while Celery holds the request: the main-process
#: failure signals do not always pass it (Request.on_timeout does not push the
#: task's context), and it knows when the task started.
_requests: weakref.WeakValueDictionary[Any, Any] = weakref.WeakValueDictionary()

#: (task_id, retries) of the attempts this process reported as ended, for
#: reports that come without the Request (a task revoked before receipt).
_reported: OrderedDict = OrderedDict()
_REPORTED_MAX = 8192
_ENDED = "_flowtrace_ended"


def _first_report(msg, request) -> bool:
    """Whether this is the first terminal report of the attempt, and mark it reported.

    Marked on the Request when there is one: a redelivered message has the
    same task id and retries, but a new Request.
    """
    if request is not None:
        if getattr(request, _ENDED, False):
            return False
        setattr(request, _ENDED, True)
        return True
    key = (msg.get("task_id"), msg.get("retries"))
    if key in _reported:
        return False
    _reported[key] = None
    if len(_reported) > _REPORTED_MAX:
        _reported.popitem(last=False)
    return True


def log_about_task(event, msg, fields=None) -> None:
    """``Trace.log(event, msg)`` with the task's correlation fields and its attempt's ids bound around it.

    For an event about a task that does not run here (or no longer does), so
    that what a sink logs meanwhile names the task. ``fields`` are the
    correlation fields to bind; by default those ``msg`` names.
    """
    if fields is None:
        fields = {"task_id": msg.get("task_id"), "task_name": msg.get("task_name")}
        if "flow_name" in msg:
            fields["flow_name"] = msg["flow_name"]
            fields["dispatcher_id"] = msg.get("dispatcher_id")
    token = context.enter_task(fields)
    ids_token = context.set_ids(msg.get("trace_id"), msg.get("span_id")) if msg.get("trace_id") else None
    try:
        Trace.log(event, msg)
    finally:
        if ids_token is not None:
            context.reset_ids(ids_token)
        context.exit_task(token)


def _request_dict(request):
    headers = getattr(request, "request_dict", None) if request is not None else None
    return headers if isinstance(headers, dict) else None


def request_fields(request):
    """The correlation fields of a worker ``Request``, or None when its app is not instrumented."""
    task = getattr(request, "task", None)
    if task is None or _registry.apps.get(task.app) is None:
        return None
    headers = getattr(request, "request_dict", None) or {}
    return _msg.flow_fields({"task_id": request.id, "task_name": task.name}, headers.get(_msg.FLOW_HEADER),
                            getattr(request, "kwargs", None))


def request_ids(request):
    """The ``(trace_id, span_id)`` of a worker ``Request``'s attempt, as its events carry them, or None."""
    headers = _request_dict(request)
    if headers is None:
        return None
    msg = _stamp.main_ids({"retries": headers.get("retries") or 0}, headers)
    return (msg["trace_id"], msg["span_id"]) if msg.get("trace_id") else None


def _runtime(msg, request) -> None:
    started = getattr(request, "time_start", None) if request is not None else None
    if started:
        msg["runtime"] = max(0.0, time.time() - started)


def on_received(sender=None, request=None, **_):
    """``task_received`` receiver: TASK_RECEIVED."""
    try:
        options = _registry.apps.get(sender.app)
        if options is None:
            return
        token = _registry.late_token
        if token is not None:
            request.request_dict[_registry.ACTIVATE_KEY] = token(options)
        try:
            _stamp.stamp(request.request_dict)
        except Exception as exc:  # the attempt then chooses its ids itself
            _registry.failures.record("task_received (trace context)", exc)
        if not Trace.enabled:
            return
        _requests[request.id] = request
        msg = _stamp.main_ids(_msg.from_request(request), request.request_dict)
        msg["state"] = states.RECEIVED
        headers = request.request_dict
        if headers.get("eta"):
            msg["eta"] = headers["eta"]
        if headers.get("expires"):
            msg["expires"] = headers["expires"]
        log_about_task(_TASK_RECEIVED, msg)
    except Exception as exc:  # tracing must never lose a message
        _registry.failures.record("task_received", exc)


def on_revoked(sender=None, request=None, terminated=None, signum=None, expired=None, **_):
    """``task_revoked`` receiver: TASK_REVOKED."""
    try:
        if _registry.apps.get(sender.app) is None or not Trace.enabled:
            return
        msg = _msg.from_context(request, sender.name)
        held = _requests.get(msg["task_id"])
        if held is not None and (held.request_dict.get("retries") or 0) != msg["retries"]:
            held = None  # an earlier attempt's Request: a retry expired on receipt is not it
        if not _first_report(msg, held):
            return
        _stamp.main_ids(msg, _request_dict(held) or _context_headers(request, msg["task_id"]))
        msg["state"] = states.REVOKED
        _runtime(msg, held)
        msg["reason"] = "expired" if expired else "terminated" if terminated else "revoked"
        msg["expired"] = bool(expired)
        msg["terminated"] = bool(terminated)
        if terminated:
            msg["signum"] = signum
        log_about_task(Trace.TASK_REVOKED, msg)
    except Exception as exc:
        _registry.failures.record("task_revoked", exc)


def on_failure(task, task_id, exception, einfo) -> None:
    """A ``task_failure`` sent outside the attempt: the task's process died or hit its hard limit."""
    if _registry.apps.get(task.app) is None or not Trace.enabled:
        return
    if isinstance(exception, Reject):
        # Celery 5.7's Request.on_failure reports Reject(requeue=False) as a
        # failure after the child already reported task_postrun(REJECTED).
        return
    request = _requests.get(task_id)
    msg = _identity(task, task_id, request)
    if not _first_report(msg, request):
        return
    _stamp.main_ids(msg, _request_dict(request) or _context_headers(task.request, task_id))
    msg["state"] = states.FAILURE
    _runtime(msg, request)
    if exception is not None:
        _msg.exception(msg, exception, einfo)
    msg["expected"] = _msg.expected(task, exception)
    log_about_task(Trace.TASK_FAILURE, msg)


def on_retry(task, context, reason) -> None:
    """A ``task_retry`` sent outside the attempt: cancelled, or retried after its worker was lost."""
    if _registry.apps.get(task.app) is None or not Trace.enabled:
        return
    task_id = getattr(context, "id", None)
    request = _requests.get(task_id)
    msg = _identity(task, task_id, request)
    if not _first_report(msg, request):
        return
    _stamp.main_ids(msg, _request_dict(request) or _context_headers(context, task_id))
    msg["state"] = states.RETRY
    _runtime(msg, request)
    if reason is None:
        # Request._announce_cancelled sends no reason: the worker stopped the
        # task because its broker connection was lost, and Celery retries it.
        msg["reason"] = "cancelled by the worker"
    else:
        msg["reason"] = _msg.text(reason)
        _msg.cause(msg, getattr(reason, "exc", None))
        _msg.when(msg, getattr(reason, "when", None))
    log_about_task(Trace.TASK_RETRY, msg)


def _context_headers(context, task_id):
    """The headers a ``celery.app.task.Context`` of ``task_id`` was built from, as a dict."""
    attributes = getattr(context, "__dict__", None)
    if not isinstance(attributes, dict) or attributes.get("id") != task_id:
        return None
    return attributes


def _identity(task, task_id, request):
    if request is not None:
        return _msg.from_request(request)
    context = task.request
    if getattr(context, "id", None) == task_id:
        return _msg.from_context(context, task.name)
    return {"task_name": task.name, "task_id": task_id}


def on_unknown(sender=None, message=None, exc=None, name=None, id=None, **_):  # noqa: A002 (Celery's name)
    """``task_unknown`` receiver: TASK_UNKNOWN."""
    try:
        if _registry.apps.get(sender.app) is None or not Trace.enabled:
            return
        msg = _from_message(sender, message)
        msg["task_name"] = name
        msg["task_id"] = id
        # Celery stores NotRegistered as the task's result: its state is FAILURE.
        msg["state"] = states.FAILURE
        msg["reason"] = "not registered: %s" % (name,)
        log_about_task(Trace.TASK_UNKNOWN, msg)
    except Exception as error:
        _registry.failures.record("task_unknown", error)


def on_rejected(sender=None, message=None, exc=None, **_):
    """``task_rejected`` receiver: TASK_REJECTED for a message the worker could not use."""
    try:
        if _registry.apps.get(sender.app) is None or not Trace.enabled:
            return
        reason = "unknown message format" if exc is None else "%s: %s" % (_msg.type_name(exc), _msg.text(exc))
        _reject_message(sender, message, reason)
    except Exception as error:
        _registry.failures.record("task_rejected", error)


def on_decode_error(consumer, message, exc) -> None:
    """Called after ``Consumer.on_decode_error``: TASK_REJECTED for an undecodable message."""
    try:
        if _registry.apps.get(consumer.app) is None or not Trace.enabled:
            return
        _reject_message(consumer, message, "%s: %s" % (_msg.type_name(exc), _msg.text(exc)))
    except Exception as error:
        _registry.failures.record("on_decode_error", error)


def _reject_message(consumer, message, reason):
    msg = _from_message(consumer, message)
    msg["state"] = states.REJECTED
    msg["reason"] = reason
    msg["requeue"] = False
    log_about_task(Trace.TASK_REJECTED, msg)


def _from_message(consumer, message):
    headers = getattr(message, "headers", None)
    if not isinstance(headers, dict):
        headers = {}
    delivery_info = getattr(message, "delivery_info", None) or {}
    msg = _msg.from_headers(headers, delivery_info.get("routing_key"), getattr(consumer, "hostname", None))
    return _stamp.main_ids(msg, headers)


def after_request_failure(request, exc_info, return_ok) -> None:
    """Called after ``Request.on_failure``: the terminal event Celery sent no signal for.

    A pool child that died (WorkerLostError) or hit its hard time limit is
    reported through ``task_failure`` unless Celery put the message back on
    the queue: ``acks_late`` with ``reject_on_worker_lost``, or a hard time
    limit without ``acks_on_timeout``. The attempt then ends without any
    signal, and is reported here as TASK_REJECTED with ``requeue: True``.
    """
    try:
        if return_ok or _registry.apps.get(request.task.app) is None or not Trace.enabled:
            return
        exc = getattr(exc_info, "exception", None)
        exc = getattr(exc, "exc", exc)  # billiard's ExceptionWithTraceback
        if not isinstance(exc, _POOL_ERRORS) or getattr(request, _ENDED, False):
            return
        task = request.task
        if not task.acks_late:
            return
        lost = not isinstance(exc, TimeLimitExceeded)
        if lost and not task.reject_on_worker_lost:
            return
        if not lost and task.acks_on_timeout:
            return
        msg = _stamp.main_ids(_msg.from_request(request), request.request_dict)
        _first_report(msg, request)
        msg["state"] = states.REJECTED
        _runtime(msg, request)
        msg["reason"] = "%s: %s" % (_msg.type_name(exc), _msg.text(exc))
        msg["requeue"] = True
        log_about_task(Trace.TASK_REJECTED, msg)
    except Exception as error:
        _registry.failures.record("Request.on_failure", error)
