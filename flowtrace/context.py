"""The trace context current in this thread or task: ids for every event.

flowtrace keeps its own context variable, set by the Celery integration while a
task runs, and falls back to OpenTelemetry's current span when the user has
one. Either way an event learns its ``trace_id`` and ``span_id`` here.
"""

from __future__ import annotations

import contextvars

from opentelemetry import context as _otel_context
from opentelemetry import trace as _otel_trace

#: (trace_id, span_id) as lower-case hex strings, or None.
_current: contextvars.ContextVar = contextvars.ContextVar("flowtrace_ids", default=None)

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
