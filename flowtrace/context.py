"""The trace context current in this thread or task: ids for every event.

While a Celery task attempt runs, the Celery integration makes the attempt's
span current in OpenTelemetry's context, as an :class:`AttemptSpan`: code in
the task that starts spans (with the OpenTelemetry SDK) makes children of it,
and tasks it sends become its children. flowtrace needs only
``opentelemetry-api`` for this; the ids are its own (``flowtrace._w3c``).
Outside a task, the user's current OpenTelemetry span, if any, is the context.
Either way an event learns its ``trace_id`` and ``span_id`` here. The two
span types, :class:`SpanRef` and :class:`AttemptSpan`, are defined in
``flowtrace._spans`` and imported from here.

A second context variable holds the task attempt running here (its
``task_id``, ``task_name``, and ``flow_name`` / ``dispatcher_id`` for a flow's
task), which :mod:`flowtrace.correlation` puts on log records.

Besides the public functions, the module has an emitter API: names the
emitters (``flowtrace.celery``, ``flowtrace.flow``) and
:mod:`flowtrace.correlation` use from other modules, internal to the package
and not for applications, which may change without notice. It is the three
context variables ``attempt_var``, ``trace_mode_var`` and ``task_fields_var``,
read and set directly on the hot paths (a function around them would cost a
call per message and per attempt), and ``enter_task`` / ``exit_task``, which
bind and end an attempt's correlation fields.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from typing import Any, Optional

from opentelemetry import context as _otel_context
from opentelemetry import trace as _otel_trace

from flowtrace._spans import AttemptSpan, SpanRef

__all__ = ["Ids", "SpanRef", "AttemptSpan", "current_ids", "current_span", "current_attempt", "set_ids", "reset_ids",
           "new_trace", "bind_fields", "BINDABLE_FIELDS", "NEW", "LINK", "MODES"]

#: A trace id and a span id as hex strings; ``(None, None)`` outside any trace.
Ids = tuple[Optional[str], Optional[str]]

#: (trace_id, span_id) set by :func:`set_ids`, which wins over any span; or None.
_current: contextvars.ContextVar[Ids | None] = contextvars.ContextVar("flowtrace_ids", default=None)

#: The AttemptSpan of the task attempt running in this context, or None.
#: Emitter API (internal to the package): the Celery integration sets and
#: resets it around each attempt; :func:`current_attempt` reads it.
attempt_var: contextvars.ContextVar[AttemptSpan | None] = contextvars.ContextVar("flowtrace_attempt", default=None)

#: Per-call trace control for the messages sent in this context (see :func:`new_trace`):
#: :data:`NEW`, :data:`LINK` or None. Emitter API (internal to the package):
#: the Celery integration's publish hook reads it.
trace_mode_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("flowtrace_trace_mode", default=None)

#: The correlation fields of the task attempt running in this context, as a
#: dict, or None outside any attempt. The Celery integration sets it at
#: task_prerun and resets it at task_postrun, one set and one reset per attempt.
#: Emitter API (internal to the package): set through :func:`enter_task` and
#: :func:`exit_task`; :mod:`flowtrace.correlation` reads it.
task_fields_var: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("flowtrace_task_fields",
                                                                                       default=None)

#: The fields :func:`bind_fields` accepts; trace_id and span_id are read from
#: the trace context each time instead.
BINDABLE_FIELDS = ("task_id", "task_name", "flow_name", "dispatcher_id")

#: The values :func:`new_trace` and the ``flowtrace_trace`` message header accept.
NEW = "new"
LINK = "link"
MODES = (NEW, LINK)

_get_current_span = _otel_trace.get_current_span
_STOCK_GET_CURRENT_SPAN = _get_current_span
_get_otel_context = _otel_context.get_current
_NO_IDS: Ids = (None, None)
def current_ids() -> Ids:
    """Return ``(trace_id, span_id)`` as hex strings, or ``(None, None)`` outside any trace.

    In order: ids made current by :func:`set_ids`; the current OpenTelemetry
    span (inside a task attempt, the attempt's span or a span the task
    started); nothing.

    .. versionadded:: 0.1.0
    """
    ids = _current.get()
    if ids is not None:
        return ids
    # The JSON sink asks on every event. An empty OpenTelemetry context holds
    # no span, so the span lookup (several calls deep) would only return
    # INVALID_SPAN; one look at the context is enough.
    if _get_current_span is _STOCK_GET_CURRENT_SPAN and not _get_otel_context():
        return _NO_IDS
    span = _get_current_span()
    if type(span) is AttemptSpan:
        # An attempt that has ended is only still current where another
        # instrumentation restored it out of order; it names nothing now.
        return _NO_IDS if span.ended else span.ids
    ctx = span.get_span_context()
    if ctx.is_valid:
        return "%032x" % ctx.trace_id, "%016x" % ctx.span_id
    return _NO_IDS


def current_span() -> Optional[SpanRef]:
    """Return the :class:`SpanRef` of the current span, or None outside any trace.

    This is the span a message sent here becomes the child of: the one of
    :func:`set_ids` (sampled, no ``tracestate``), or OpenTelemetry's current
    span, which inside a task attempt is the attempt's span or a span the
    task started.

    .. versionadded:: 0.1.0
    """
    ids = _current.get()
    if ids is not None:
        trace_id, span_id = ids
        return SpanRef(trace_id, span_id) if trace_id and span_id else None
    if not _get_otel_context():
        return None
    span = _get_current_span()
    if type(span) is AttemptSpan:
        return None if span.ended else span.ref
    return SpanRef.from_span_context(span.get_span_context())


def current_attempt() -> Optional[AttemptSpan]:
    """Return the :class:`AttemptSpan` of the task attempt running in this context, or None.

    .. versionadded:: 0.1.0
    """
    return attempt_var.get()


def set_ids(trace_id: str | None, span_id: str | None) -> contextvars.Token[Ids | None]:
    """Make ``(trace_id, span_id)`` current; returns a token for :func:`reset_ids`.

    They win over any OpenTelemetry span until :func:`reset_ids`, for events,
    log records and the parent of the messages sent meanwhile.

    Args:
        trace_id: 32 lower-case hex digits, or None.
        span_id: 16 lower-case hex digits, or None.

    Returns:
        The token to give :func:`reset_ids`.

    .. versionadded:: 0.1.0
    """
    return _current.set((trace_id, span_id))


def reset_ids(token: contextvars.Token[Ids | None]) -> None:
    """Undo :func:`set_ids`.

    Args:
        token: what :func:`set_ids` returned.

    .. versionadded:: 0.1.0
    """
    _current.reset(token)


@contextlib.contextmanager
def new_trace(link: bool = False) -> Iterator[None]:
    """Make the tasks sent inside this block start new traces.

    For a fan-out too large to read as one trace (thousands of tasks under
    one request): each task sent in the block becomes the root of a trace of
    its own. With ``link=True`` its span also carries a link to the span that
    sent it, so a trace viewer can go from one to the other. Retries of those
    tasks stay in their new trace. The same is asked of one message with the
    ``flowtrace_trace`` header: ``apply_async(headers={"flowtrace_trace": "link"})``.

    Args:
        link: link each new trace to the sending span instead of leaving them unrelated.

    Raises:
        ValueError: if ``link`` is not a bool.

    .. versionadded:: 0.1.0
    """
    if not isinstance(link, bool):
        raise ValueError("link must be True or False, got %r" % (link,))
    token = trace_mode_var.set(LINK if link else NEW)
    try:
        yield
    finally:
        trace_mode_var.reset(token)


def bind_fields(**fields: Any) -> bool:
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
    current = task_fields_var.get()
    if current is None:
        return False
    task_fields_var.set({**current, **fields})
    return True


def enter_task(fields: dict[str, Any]) -> contextvars.Token[dict[str, Any] | None]:
    """Make ``fields`` the current attempt's correlation fields.

    Emitter API, internal to the package: an emitter calls it when an attempt
    starts (or around an event about a task that does not run here), and
    :func:`exit_task` with the token when it ends.

    Args:
        fields: the correlation fields, keys among :data:`BINDABLE_FIELDS`;
            the dict is kept, not copied.

    Returns:
        The token for :func:`exit_task`.

    .. versionadded:: 0.1.0
    """
    return task_fields_var.set(fields)


def exit_task(token: contextvars.Token[dict[str, Any] | None]) -> None:
    """End the attempt's correlation fields: back to what was current before :func:`enter_task`.

    Emitter API, internal to the package. It never raises: a token from
    another context, or one used already, clears the fields instead.

    Args:
        token: what :func:`enter_task` returned.

    .. versionadded:: 0.1.0
    """
    try:
        task_fields_var.reset(token)
    except (ValueError, RuntimeError):
        # A token from another context, or used twice: nothing of this
        # attempt may stay bound, whatever happened in between.
        task_fields_var.set(None)
