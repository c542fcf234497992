"""The trace-context headers of a Celery message, and reading them back, in any process.

A message carries ``traceparent`` and ``tracestate`` (and whatever other
propagators the user configured) in its top-level headers and in the nested
``headers`` dict, which is what ``task.request.headers`` shows and what a
retry copies (celery #4875). A reader looks at the top-level headers first
(Celery's request attributes) and at the nested dict when they lack one, and
validates ``traceparent`` and ``tracestate`` by the W3C rules of
``flowtrace._w3c``: anything malformed starts a new trace and nothing else
happens to the task.
"""

from __future__ import annotations

from typing import NamedTuple, Optional

from opentelemetry.propagators.textmap import Getter

from flowtrace import _w3c
from flowtrace.context import SpanRef

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
BAGGAGE = "baggage"
#: The nested dict of custom headers that ``task.request.headers`` shows (celery #4875).
NESTED = "headers"
#: Per-call trace control in a message's headers: ``"new"`` or ``"link"``.
MODE_HEADER = "flowtrace_trace"
#: The ``traceparent`` of the span a ``link`` message was sent from.
LINK_HEADER = "flowtrace_link"
#: The trace flags flowtrace sends on: sampled and Level 2's random bit; the others are reserved.
FLAG_MASK = _w3c.SAMPLED | _w3c.RANDOM


class Incoming(NamedTuple):
    """What a message says about its trace."""

    parent: Optional[SpanRef]
    link: Optional[SpanRef]
    #: Whether it carried a traceparent that was invalid (the trace starts anew).
    malformed: bool


# --- the propagators ----------------------------------------------------------


_default_textmap = (None, False)  # (textmap object, whether it is OpenTelemetry's default)


def is_default_textmap(textmap) -> bool:
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


# --- reading ------------------------------------------------------------------


def lookup_context(request, key):
    """A header of a worker ``Context`` (``task.request``): top-level first, then the nested dict."""
    return lookup_dict(request.__dict__, key)


def lookup_dict(request_dict, key):
    """A header of a message's header dict (the main process's ``request_dict``)."""
    value = request_dict.get(key)
    if value is None:
        nested = request_dict.get(NESTED)
        if type(nested) is dict:
            value = nested.get(key)
    return value


class RequestGetter(Getter):
    """OpenTelemetry's view of a worker ``Context``: top-level headers, then the nested dict."""

    def get(self, carrier, key):
        value = lookup_context(carrier, key)
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


getter = RequestGetter()


def normal_tracestate(value):
    """A received ``tracestate`` as it is sent on: validated and normalised, or None."""
    state = _w3c.parse_tracestate_header(value)
    return _w3c.format_tracestate(state) if state else None


def span_ref(parsed, state_value) -> SpanRef:
    """The :class:`~flowtrace.context.SpanRef` of a parsed ``traceparent`` and the ``tracestate`` beside it."""
    return SpanRef(parsed.trace_id, parsed.parent_id, parsed.flags & FLAG_MASK,
                   normal_tracestate(state_value) if state_value is not None else None)


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
            parent = span_ref(parsed, lookup(carrier, TRACESTATE))
    link = None
    value = lookup(carrier, LINK_HEADER)
    if value is not None:
        parsed = _w3c.parse_traceparent_header(value)
        if parsed is not None:
            link = SpanRef(parsed.trace_id, parsed.parent_id, parsed.flags & FLAG_MASK)
    return Incoming(parent, link, malformed)


def from_headers(headers) -> Incoming:
    """:func:`incoming` for a message's header dict."""
    if not isinstance(headers, dict):
        return Incoming(None, None, False)
    return incoming(lookup_dict, headers)
