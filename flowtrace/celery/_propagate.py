"""Trace context through Celery messages: the producer writes it, the worker reads it.

The producer (``before_task_publish``) decides the parent of each message and
writes it with OpenTelemetry's configured propagators (``traceparent`` and
``tracestate`` always, B3, baggage or any other the user configured), into the
message's top-level headers and into the nested ``headers`` dict, which is
what ``task.request.headers`` shows and what a retry copies (celery #4875).
User headers are merged, never dropped. The parent is, in this order:

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

The worker reads the top-level headers first (Celery's request attributes)
and the nested ``headers`` dict when they lack one, and validates
``traceparent`` and ``tracestate`` by the W3C rules of ``flowtrace._w3c``:
anything malformed starts a new trace and nothing else happens to the task.
"""

from __future__ import annotations

import contextvars
import re
import threading
from typing import Any, NamedTuple, Optional

from celery.app.task import Context
from opentelemetry import baggage as _baggage
from opentelemetry import context as otel_context
from opentelemetry import propagate
from opentelemetry import trace as otel_trace
from opentelemetry.propagators.textmap import Getter

from flowtrace import _w3c, context
from flowtrace.context import AttemptSpan, SpanRef

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
BAGGAGE = "baggage"
#: The nested dict of custom headers that ``task.request.headers`` shows (celery #4875).
NESTED = "headers"
#: Per-call trace control in a message's headers: ``"new"`` or ``"link"``.
MODE_HEADER = "flowtrace_trace"
#: The ``traceparent`` of the span a ``link`` message was sent from.
LINK_HEADER = "flowtrace_link"
#: Set by the worker's main process in the request it hands to the pool
#: (see :func:`stamp`), so that the main process's events about the attempt
#: carry the ids the attempt will have.
SPAN_KEY = "flowtrace_span"

# Headers that are Celery's own, not custom ones (as Context._get_custom_headers sees them).
_CELERY_KEYS = frozenset(Context.__dict__) | {"lang", "task", "argsrepr", "kwargsrepr", "compression", NESTED}
_OWN_KEYS = (TRACEPARENT, TRACESTATE, LINK_HEADER)
_NEW_TRACE_FLAGS = _w3c.SAMPLED | _w3c.RANDOM
_FLAG_MASK = _w3c.SAMPLED | _w3c.RANDOM


class Incoming(NamedTuple):
    """What a message says about its trace."""

    parent: Optional[SpanRef]
    link: Optional[SpanRef]
    #: Whether it carried a traceparent that was invalid (the trace starts anew).
    malformed: bool


# --- the propagators ----------------------------------------------------------

_default_textmap = (None, False)  # (textmap object, whether it is OpenTelemetry's default)


def _is_default_textmap(textmap) -> bool:
    """Whether ``textmap`` is OpenTelemetry's default: W3C trace context, then W3C baggage."""
    global _default_textmap
    known, default = _default_textmap
    if known is textmap:
        return default
    from opentelemetry.baggage.propagation import W3CBaggagePropagator
    from opentelemetry.propagators.composite import CompositePropagator
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    inner = getattr(textmap, "_propagators", None)
    default = (type(textmap) is CompositePropagator and isinstance(inner, list)
               and [type(p) for p in inner] == [TraceContextTextMapPropagator, W3CBaggagePropagator])
    _default_textmap = (textmap, default)
    return default


def _inject(carrier: dict, parent: Optional[SpanRef], base) -> None:
    """Write the headers of ``parent`` (None: no span) and of ``base``'s baggage into ``carrier``."""
    textmap = propagate.get_global_textmap()
    if _is_default_textmap(textmap) and not _baggage.get_all(base):
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


# --- the producer -----------------------------------------------------------------

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
        _inject(carrier, parent, otel_context.get_current())
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
    return _ref(parsed, state)


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


# --- the worker ---------------------------------------------------------------------

def _lookup_context(request, key):
    """A header of a worker ``Context`` (``task.request``): top-level first, then the nested dict."""
    return _lookup_dict(request.__dict__, key)


def _lookup_dict(request_dict, key):
    """A header of a message's header dict (the main process's ``request_dict``)."""
    value = request_dict.get(key)
    if value is None:
        nested = request_dict.get(NESTED)
        if type(nested) is dict:
            value = nested.get(key)
    return value


class _RequestGetter(Getter):
    """OpenTelemetry's view of a worker ``Context``: top-level headers, then the nested dict."""

    def get(self, carrier, key):
        value = _lookup_context(carrier, key)
        if value is None:
            return None
        if isinstance(value, str):
            return [value]
        if isinstance(value, (list, tuple)):
            return [item if isinstance(item, str) else str(item) for item in value]
        return [str(value)]

    def keys(self, carrier):
        keys = [key for key in carrier.__dict__ if isinstance(key, str)]
        nested = carrier.__dict__.get(NESTED)
        if type(nested) is dict:
            keys.extend(key for key in nested if isinstance(key, str) and key not in carrier.__dict__)
        return keys


_getter = _RequestGetter()


def _tracestate(value):
    """A received ``tracestate`` as it is sent on: validated and normalised, or None."""
    state = _w3c.parse_tracestate_header(value)
    return _w3c.format_tracestate(state) if state else None


def _ref(parsed, state_value) -> SpanRef:
    return SpanRef(parsed.trace_id, parsed.parent_id, parsed.flags & _FLAG_MASK,
                   _tracestate(state_value) if state_value is not None else None)


def incoming(lookup, carrier) -> Incoming:
    """Read a message's parent and link through ``lookup(carrier, key)``; never raises on bad input."""
    value = lookup(carrier, TRACEPARENT)
    malformed = False
    parent = None
    if value is not None:
        parsed = _w3c.parse_traceparent_header(value)
        if parsed is None:
            malformed = True
        else:
            parent = _ref(parsed, lookup(carrier, TRACESTATE))
    link = None
    value = lookup(carrier, LINK_HEADER)
    if value is not None:
        parsed = _w3c.parse_traceparent_header(value)
        if parsed is not None:
            link = SpanRef(parsed.trace_id, parsed.parent_id, parsed.flags & _FLAG_MASK)
    return Incoming(parent, link, malformed)


def from_headers(headers) -> Incoming:
    """:func:`incoming` for a message's header dict."""
    if not isinstance(headers, dict):
        return Incoming(None, None, False)
    return incoming(_lookup_dict, headers)


class _Stamp(list):
    """The stamp: a list, which a prefork child unpickles through :func:`_unpickle_stamp`.

    That runs in the child when it receives the task, before ``task_prerun``:
    the first chance, after ``worker_process_init`` (where OpenTelemetry is
    usually instrumented), to put flowtrace's receivers in order for this
    very task (:mod:`flowtrace.celery._order`).
    """

    def __reduce__(self):
        return _unpickle_stamp, tuple(self)


def _unpickle_stamp(*value):
    try:
        from flowtrace.celery import _order

        _order.check()
    except Exception:  # unpickling must never fail the job
        pass
    return list(value)


def stamp(request_dict: dict) -> list:
    """Choose the ids of the attempt a worker's main process hands to the pool; returns the stamp.

    ``[span_id, retries, trace_id, parent, link]``: the attempt's span id and
    trace id (the parent's, or a new one when the message starts a trace),
    and what the message says, already validated, so that the pool child
    does not parse it again: ``parent`` is ``[span_id, flags, tracestate]``
    or None, ``link`` is ``[trace_id, span_id]`` or None.
    """
    parent = link = None
    trace_id = None
    value = _lookup_dict(request_dict, TRACEPARENT)
    if value is not None:
        parsed = _w3c.parse_traceparent_header(value)
        if parsed is not None:
            trace_id = parsed.trace_id
            state = _lookup_dict(request_dict, TRACESTATE)
            parent = [parsed.parent_id, parsed.flags & _FLAG_MASK, _tracestate(state) if state is not None else None]
    value = _lookup_dict(request_dict, LINK_HEADER)
    if value is not None:
        parsed = _w3c.parse_traceparent_header(value)
        if parsed is not None:
            link = [parsed.trace_id, parsed.parent_id]
    value = request_dict[SPAN_KEY] = _Stamp((_w3c.new_span_id(), request_dict.get("retries") or 0,
                                             trace_id or _w3c.new_trace_id(), parent, link))
    return value


_HEX16 = re.compile(r"[0-9a-f]{16}").fullmatch
_HEX32 = re.compile(r"[0-9a-f]{32}").fullmatch


def stamped(value, retries):
    """The ``(span_id, Incoming)`` of a valid stamp for this attempt (same ``retries``), or None."""
    if type(value) not in (list, _Stamp) or len(value) != 5 or value[1] != retries:
        return None
    span_id, _, trace_id, parent, link = value
    if not (isinstance(span_id, str) and isinstance(trace_id, str) and _HEX16(span_id) and _HEX32(trace_id)):
        return None
    if parent is not None:
        if not (type(parent) is list and len(parent) == 3 and isinstance(parent[0], str) and _HEX16(parent[0])
                and type(parent[1]) is int and (parent[2] is None or isinstance(parent[2], str))):
            return None
        parent = SpanRef(trace_id, parent[0], parent[1] & _FLAG_MASK, parent[2])
    if link is not None:
        if not (type(link) is list and len(link) == 2 and isinstance(link[0], str) and isinstance(link[1], str)
                and _HEX32(link[0]) and _HEX16(link[1])):
            return None
        link = SpanRef(link[0], link[1])
    return span_id, trace_id, Incoming(parent, link, False)


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
        span_id, trace_id, found = _w3c.new_span_id(), None, incoming(_lookup_context, request)
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
    if _lookup_context(request, BAGGAGE) is not None or not _is_default_textmap(propagate.get_global_textmap()):
        # Baggage (and what other propagators carry) is current in the task too.
        base = propagate.extract(request, context=current, getter=_getter)
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


def main_ids(msg: dict, request_dict) -> dict:
    """Add the ids of a message's attempt to a main-process event about it.

    With the stamp of :func:`stamp` they are the attempt's own; without one
    (a message that never reached the pool) the span is the message's parent.
    """
    chosen = stamped(request_dict.get(SPAN_KEY), msg.get("retries") or 0) if isinstance(request_dict, dict) else None
    if chosen is not None:
        span_id, trace_id, found = chosen
        msg["trace_id"], msg["span_id"] = trace_id, span_id
        msg["parent_span_id"] = found.parent.span_id if found.parent is not None else None
        return msg
    parent = from_headers(request_dict).parent
    if parent is not None:
        msg["trace_id"], msg["span_id"] = parent.trace_id, parent.span_id
    else:
        msg["trace_id"] = msg["span_id"] = None
    return msg
