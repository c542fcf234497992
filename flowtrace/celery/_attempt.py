"""The executing process's share of the trace context: the attempt's span, current while the attempt runs.

At ``task_prerun`` the attempt's ids are those of the stamp the main process
chose (:mod:`flowtrace.celery._stamp`), or are chosen here from the message's
headers (:mod:`flowtrace.celery._headers`) when it has none. The attempt's
:class:`~flowtrace.context.AttemptSpan` is then current in OpenTelemetry's
context, and in :data:`flowtrace.context.attempt_var`, until ``task_postrun``.
"""

from __future__ import annotations

import contextvars
import threading
from typing import NamedTuple, Optional

from opentelemetry import context as otel_context
from opentelemetry import propagate
from opentelemetry import trace as otel_trace

from flowtrace import _w3c, context
from flowtrace.celery._headers import BAGGAGE, getter, incoming, is_default_textmap, lookup_context
from flowtrace.celery._stamp import SPAN_KEY, stamped
from flowtrace.context import AttemptSpan, SpanRef

_NEW_TRACE_FLAGS = _w3c.SAMPLED | _w3c.RANDOM


class Entered(NamedTuple):
    """An attempt's span, made current until :func:`exit_attempt`."""

    span: AttemptSpan
    otel_ctx: otel_context.Context
    otel_token: contextvars.Token[otel_context.Context]
    attempt_token: contextvars.Token[Optional[AttemptSpan]]


_local = threading.local()


def _release_stale() -> None:
    """Detach attempt contexts that another instrumentation restored after their attempt ended.

    When a tool that attached its own context after flowtrace's detaches it
    after flowtrace's postrun (receivers in that order), the context it
    restores is flowtrace's, of an attempt that is over: it is detached here,
    at the next attempt, once it is on top again.
    """
    pending = getattr(_local, "pending", None)
    if not pending:
        return
    for ctx, token in reversed(pending):
        # Only a context on top can be detached without undoing someone
        # else's; one that is not was already replaced, and is forgotten.
        if otel_context.get_current() is ctx:
            otel_context.detach(token)
    _local.pending = []


def enter_attempt(request, task_id, retries) -> Entered:
    """Choose the attempt's ids and make its span current; at ``task_prerun``."""
    if getattr(_local, "pending", None):
        _release_stale()
    chosen = stamped(request.__dict__.get(SPAN_KEY), retries)
    if chosen is not None:
        span_id, trace_id, found = chosen
    else:
        span_id, trace_id, found = _w3c.new_span_id(), None, incoming(lookup_context, request)
    parent = found.parent
    current = otel_context.get_current()
    if current:
        # A span current here already (eager apply() called from a span or a
        # task; OpenTelemetry's CeleryInstrumentor's run span for this very
        # message) is the closer parent, as long as it is in the message's trace.
        local = otel_trace.get_current_span(current)
        if not (type(local) is AttemptSpan and local.ended):
            ref = SpanRef.from_span_context(local.get_span_context())
            if ref is not None and (parent is None or ref.trace_id == parent.trace_id):
                parent = ref
    if parent is not None:
        ref = SpanRef(parent.trace_id, span_id, parent.flags, parent.tracestate)
    else:
        ref = SpanRef(trace_id or _w3c.new_trace_id(), span_id, _NEW_TRACE_FLAGS)
    span = AttemptSpan(ref, parent, found.link, task_id, retries)
    base = current
    if lookup_context(request, BAGGAGE) is not None or not is_default_textmap(propagate.get_global_textmap()):
        # Baggage (and what other propagators carry) is current in the task too.
        base = propagate.extract(request, context=current, getter=getter)
    ctx = otel_trace.set_span_in_context(span, base)
    return Entered(span, ctx, otel_context.attach(ctx), context.attempt_var.set(span))


def exit_attempt(entered: Entered) -> None:
    """End the attempt's span context; at ``task_postrun`` (or after ``task_internal_error``)."""
    entered.span.ended = True
    try:
        context.attempt_var.reset(entered.attempt_token)
    except (ValueError, RuntimeError):
        context.attempt_var.set(None)
    if otel_context.get_current() is entered.otel_ctx:
        otel_context.detach(entered.otel_token)
    else:
        pending = getattr(_local, "pending", None)
        if pending is None:
            pending = _local.pending = []
        if len(pending) < 64:
            pending.append((entered.otel_ctx, entered.otel_token))


def ids(msg: dict, span: AttemptSpan) -> dict:
    """Add the attempt's ``trace_id``, ``span_id`` and ``parent_span_id`` (and its link) to ``msg``."""
    msg["trace_id"], msg["span_id"] = span.ids
    msg["parent_span_id"] = span.parent.span_id if span.parent is not None else None
    if span.link is not None:
        msg["link_trace_id"] = span.link.trace_id
        msg["link_span_id"] = span.link.span_id
    return msg
