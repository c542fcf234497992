"""The trace context current in this thread or task: ids for every event.

flowtrace keeps its own context variable, set by the Celery integration while a
task runs, and falls back to OpenTelemetry's current span when the user has
one. Either way an event learns its ``trace_id`` and ``span_id`` here.

A second context variable holds the task attempt running here (its
``task_id``, ``task_name``, and ``flow_name`` / ``dispatcher_id`` for a flow's
task), which :mod:`flowtrace.correlation` puts on log records.
"""

from __future__ import annotations

import contextvars

from opentelemetry import context as _otel_context
from opentelemetry import trace as _otel_trace

#: (trace_id, span_id) as lower-case hex strings, or None.
_current: contextvars.ContextVar = contextvars.ContextVar("flowtrace_ids", default=None)

#: The correlation fields of the task attempt running in this context, as a
#: dict, or None outside any attempt. The Celery integration sets it at
#: task_prerun and resets it at task_postrun, one set and one reset per attempt.
_task_fields: contextvars.ContextVar = contextvars.ContextVar("flowtrace_task_fields", default=None)

#: The fields :func:`bind_fields` accepts; trace_id and span_id are read from
#: the trace context each time instead.
BINDABLE_FIELDS = ("task_id", "task_name", "flow_name", "dispatcher_id")

_get_current_span = _otel_trace.get_current_span
_STOCK_GET_CURRENT_SPAN = _get_current_span
_get_otel_context = _otel_context.get_current


def current_ids():
    """Return ``(trace_id, span_id)`` as hex strings, or ``(None, None)`` outside any trace.

    .. versionadded:: 0.1.0
    """
    ids = _current.get()
    if ids is not None:
        return ids
    # The JSON sink asks on every event. An empty OpenTelemetry context holds
    # no span, so the span lookup (several calls deep) would only return
    # INVALID_SPAN; one look at the context is enough.
    if _get_current_span is _STOCK_GET_CURRENT_SPAN and not _get_otel_context():
        return None, None
    ctx = _get_current_span().get_span_context()
    if ctx.is_valid:
        return "%032x" % ctx.trace_id, "%016x" % ctx.span_id
    return None, None


def set_ids(trace_id, span_id):
    """Make ``(trace_id, span_id)`` current; returns a token for :func:`reset_ids`.

    .. versionadded:: 0.1.0
    """
    return _current.set((trace_id, span_id))


def reset_ids(token) -> None:
    """Undo :func:`set_ids`.

    .. versionadded:: 0.1.0
    """
    _current.reset(token)


def bind_fields(**fields) -> bool:
    """Add correlation fields to the task attempt running in this context.

    The Celery integration binds ``task_id`` and ``task_name`` when an attempt
    starts, and ``flow_name`` and ``dispatcher_id`` when the message's flow
    header or the task's kwargs name them. Code that learns more while it
    runs adds it here. The fields end with the attempt.

    Args:
        **fields: values for any of ``task_id``, ``task_name``,
            ``flow_name`` and ``dispatcher_id``.

    Returns:
        Whether an attempt is running here. Outside one nothing is bound,
        as fields with no attempt to end them would stay on every later record.

    Raises:
        ValueError: for a field not in that list.

    .. versionadded:: 0.1.0
    """
    for key in fields:
        if key not in BINDABLE_FIELDS:
            raise ValueError("cannot bind %r; the fields are %s" % (key, ", ".join(BINDABLE_FIELDS)))
    current = _task_fields.get()
    if current is None:
        return False
    _task_fields.set({**current, **fields})
    return True


def _enter_task(fields: dict):
    """Make ``fields`` the current attempt's fields; returns the token for :func:`_exit_task`."""
    return _task_fields.set(fields)


def _exit_task(token) -> None:
    """End the attempt's fields: back to what was current before :func:`_enter_task`."""
    try:
        _task_fields.reset(token)
    except (ValueError, RuntimeError):
        # A token from another context, or used twice: nothing of this
        # attempt may stay bound, whatever happened in between.
        _task_fields.set(None)
