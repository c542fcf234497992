"""The worker main process's share of the trace context: the ids of each attempt, chosen at receipt.

At ``task_received`` the main process chooses the span id (and, for a message
that starts a trace, the trace id) of the attempt and hands it to the pool in
the request, as the *stamp* (:func:`stamp`), so that its own events about the
attempt carry the ids the attempt's events will carry (:func:`main_ids`), and
the pool child does not parse the headers again.
"""

from __future__ import annotations

import re

from flowtrace import _w3c
from flowtrace.celery import _order
from flowtrace.celery._headers import (FLAG_MASK, LINK_HEADER, TRACEPARENT, TRACESTATE, Incoming, from_headers,
                                       lookup_dict, normal_tracestate)
from flowtrace.context import SpanRef

#: Set by the worker's main process in the request it hands to the pool
#: (see :func:`stamp`), so that the main process's events about the attempt
#: carry the ids the attempt will have.
SPAN_KEY = "flowtrace_span"


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
    value = lookup_dict(request_dict, TRACEPARENT)
    if value is not None:
        parsed = _w3c.parse_traceparent_header(value)
        if parsed is not None:
            trace_id = parsed.trace_id
            state = lookup_dict(request_dict, TRACESTATE)
            parent = [parsed.parent_id, parsed.flags & FLAG_MASK,
                      normal_tracestate(state) if state is not None else None]
    value = lookup_dict(request_dict, LINK_HEADER)
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
        parent = SpanRef(trace_id, parent[0], parent[1] & FLAG_MASK, parent[2])
    if link is not None:
        if not (type(link) is list and len(link) == 2 and isinstance(link[0], str) and isinstance(link[1], str)
                and _HEX32(link[0]) and _HEX16(link[1])):
            return None
        link = SpanRef(link[0], link[1])
    return span_id, trace_id, Incoming(parent, link, False)


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
