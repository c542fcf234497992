"""The producer's share of the trace context: which span a message belongs under, written into its headers.

The producer (``before_task_publish``) decides the parent of each message and
writes it with OpenTelemetry's configured propagators (``traceparent`` and
``tracestate`` always, B3, baggage or any other the user configured), into the
message's top-level headers and into the nested ``headers`` dict
(:mod:`flowtrace.celery._headers`). User headers are merged, never dropped.
The parent is, in this order:

1. none, when the message asks for a new trace (``flowtrace_trace: new``
   or ``link`` in its headers, or :func:`flowtrace.context.new_trace`),
   unless it is a retry;
2. a ``traceparent`` already in the headers that names the current span,
   when that span is not a flowtrace attempt's: another instrumentation
   (OpenTelemetry's CeleryInstrumentor) made a producer span for this
   message, and it stays the parent;
3. for a retry sent by the attempt it retries, that attempt's own parent
   (or the attempt itself when it was the root of its trace), so that
   attempts are siblings and do not nest one level deeper each time;
4. a ``traceparent`` the caller put in the headers, as given, even a
   malformed one (the worker then starts a new trace);
5. the current span (:func:`flowtrace.context.current_span`);
6. none: the worker starts a new trace.
"""

from __future__ import annotations

from typing import Any, Optional

from celery.app.task import Context
from opentelemetry import baggage as _baggage
from opentelemetry import context as otel_context
from opentelemetry import propagate
from opentelemetry import trace as otel_trace

from flowtrace import _w3c, context
from flowtrace.celery._headers import (BAGGAGE, LINK_HEADER, MODE_HEADER, NESTED, TRACEPARENT, TRACESTATE,
                                       is_default_textmap, span_ref)
from flowtrace.context import SpanRef

# Headers that are Celery's own, not custom ones (as Context._get_custom_headers sees them).
_CELERY_KEYS = frozenset(Context.__dict__) | {"lang", "task", "argsrepr", "kwargsrepr", "compression", NESTED}


def _propagators_inject(carrier: dict, parent: Optional[SpanRef], base) -> None:
    """Write the headers of ``parent`` (None: no span) and of ``base``'s baggage into ``carrier``."""
    textmap = propagate.get_global_textmap()
    if is_default_textmap(textmap) and not _baggage.get_all(base):
        # What the default propagators would write, without building a Context.
        if parent is not None:
            carrier[TRACEPARENT] = parent.traceparent
            if parent.tracestate:
                carrier[TRACESTATE] = parent.tracestate
        return
    span = otel_trace.NonRecordingSpan(parent.span_context()) if parent is not None else otel_trace.INVALID_SPAN
    textmap.inject(carrier, context=otel_trace.set_span_in_context(span, base))
    # flowtrace's contract: the W3C headers ride along whatever else is configured.
    if parent is not None and TRACEPARENT not in carrier:
        carrier[TRACEPARENT] = parent.traceparent
        if parent.tracestate:
            carrier[TRACESTATE] = parent.tracestate


def _merge_baggage(existing, ours):
    """``existing`` baggage members, then those of ``ours`` whose key it lacks (sentry-sdk writes one too)."""
    if not isinstance(existing, str) or not existing.strip():
        return ours
    keys = {member.split("=", 1)[0].strip() for member in existing.split(",")}
    extra = [member for member in ours.split(",") if member.split("=", 1)[0].strip() not in keys]
    return ",".join([existing] + extra) if extra else existing


def on_publish(headers: dict) -> Optional[SpanRef]:
    """Write the trace context into a message's headers; returns the span the message belongs under.

    The return value names the context of the TASK_PUBLISH event: the
    message's parent, or the caller's span when the message starts a new trace.
    """
    nested = headers.get(NESTED)
    if nested is None:
        nested = headers[NESTED] = {}
    elif not isinstance(nested, dict):
        nested = None  # someone else's value under that name: left alone
    attempt = context.attempt_var.get()
    caller = context.current_span()
    explicit = headers.get(TRACEPARENT)
    if explicit is None and nested is not None:
        explicit = nested.get(TRACEPARENT)
    link = None
    override = True
    # Task.retry() from inside the attempt (Celery copies the attempt's
    # headers, flowtrace_trace included, into the retry's message).
    retry = (attempt is not None and not attempt.ended and headers.get("id") == attempt.task_id
             and (headers.get("retries") or 0) > attempt.retries)
    mode = None if retry else _mode(headers, nested)
    if mode is not None:
        parent = None
        if mode == context.LINK and caller is not None:
            link = caller
    elif explicit is not None and _written_for(explicit, caller, attempt):
        # Another instrumentation (OpenTelemetry's CeleryInstrumentor) made a
        # producer span for this message and wrote it: it is the parent.
        parent = _explicit(headers, nested, explicit)
        override = False
    elif retry and attempt is not None:  # retry implies an attempt
        # A sibling of the attempt it retries, under the same parent.
        parent = attempt.parent if attempt.parent is not None else attempt.ref
    elif explicit is not None:
        parent = _explicit(headers, nested, explicit)
        override = False
    else:
        parent = caller
    carrier: dict[str, Any] = {}
    if parent is not None or link is not None or otel_context.get_current():
        _propagators_inject(carrier, parent, otel_context.get_current())
    if override:
        if parent is None:
            for key in (TRACEPARENT, TRACESTATE):
                headers.pop(key, None)
                if nested is not None:
                    nested.pop(key, None)
        _write(headers, nested, carrier, overwrite=True)
    else:
        # The caller's traceparent (and tracestate) stay as given; the
        # other propagators' headers are made to agree with it.
        carrier.pop(TRACEPARENT, None)
        carrier.pop(TRACESTATE, None)
        _write(headers, nested, carrier, overwrite=False)
        for key in (TRACEPARENT, TRACESTATE):
            if nested is not None and key in headers:
                nested[key] = headers[key]
            elif nested is not None and key in nested and key not in headers:
                headers[key] = nested[key]
    if link is not None:
        headers[LINK_HEADER] = link.traceparent
        if nested is not None:
            nested[LINK_HEADER] = headers[LINK_HEADER]
    return parent if parent is not None else caller


def _written_for(explicit, caller, attempt) -> bool:
    """Whether ``explicit`` names the current span, and that span is not a flowtrace attempt's."""
    if caller is None or (attempt is not None and caller == attempt.ref):
        return False
    parsed = _w3c.parse_traceparent_header(explicit)
    return parsed is not None and parsed.trace_id == caller.trace_id and parsed.parent_id == caller.span_id


def _mode(headers, nested):
    mode = headers.get(MODE_HEADER)
    if mode is None and nested is not None:
        mode = nested.get(MODE_HEADER)
    if mode is None:
        mode = context.trace_mode_var.get()
    return mode if mode in context.MODES else None


def _explicit(headers, nested, value) -> Optional[SpanRef]:
    parsed = _w3c.parse_traceparent_header(value)
    if parsed is None:
        return None
    state = headers.get(TRACESTATE)
    if state is None and nested is not None:
        state = nested.get(TRACESTATE)
    return span_ref(parsed, state)


def _write(headers, nested, carrier, overwrite):
    for key, value in carrier.items():
        if key == BAGGAGE:
            value = _merge_baggage(headers.get(BAGGAGE), value)
            headers[key] = value
        elif overwrite or key not in headers:
            headers[key] = value
        if nested is not None:
            nested[key] = headers[key]


def mirror(headers: dict) -> None:
    """Copy the custom headers into the nested dict, where a retry finds them (celery #4875).

    A key the nested dict already has keeps its value, except flowtrace's own
    ``flowtrace_*`` headers, which are set by the publish hook and must agree.
    """
    nested = headers.get(NESTED)
    if not isinstance(nested, dict):
        return
    for key, value in headers.items():
        if key in _CELERY_KEYS or not isinstance(key, str):
            continue
        if key.startswith("flowtrace_") or key not in nested:
            nested[key] = value
