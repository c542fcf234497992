"""W3C Trace Context headers: parse and format ``traceparent`` and ``tracestate``, and make new ids.

This follows Trace Context Level 1 (W3C Recommendation, 2021), the rules
flowtrace's propagation through Celery headers relies on:

- A header value must be a ``str``; anything else (``bytes`` included) is
  invalid. Celery headers arrive as ``str`` after deserialization.
- Surrounding optional whitespace is spaces and tabs only (RFC 7230 ``OWS``);
  a newline or any other character is part of the value and makes it invalid.
- An invalid ``traceparent`` gives ``None``: the caller then starts a new trace
  and must not use ``tracestate`` at all.
- An invalid ``tracestate`` gives ``None`` too, but that does not invalidate a
  valid ``traceparent``: the trace continues without the vendor entries.
- A ``traceparent`` of a future version is read by the version ``00`` layout
  and re-sent as version ``00`` (:func:`format_traceparent` always writes 00).
- Flags are returned as received. Level 2 adds :data:`RANDOM` beside
  :data:`SAMPLED`; the other bits are reserved, and the spec says to send them
  as zero, so a caller re-sending received flags masks them with
  ``SAMPLED | RANDOM``. :func:`new_trace_id` draws all 128 bits at random, so
  a trace it starts may set :data:`RANDOM`.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import os
import random
import re
from typing import NamedTuple, Optional, Tuple

__all__ = (
    "SAMPLED", "RANDOM", "TraceParent",
    "parse_traceparent", "parse_traceparent_header", "format_traceparent",
    "parse_tracestate", "parse_tracestate_header", "format_tracestate",
    "new_trace_id", "new_span_id",
)

#: The ``sampled`` bit of ``trace-flags``: the caller may have recorded trace data.
SAMPLED = 0x01
#: Level 2's ``random-trace-id`` bit: at least the right-most 7 bytes of the trace id are random.
RANDOM = 0x02

_OWS = " \t"
_LENGTH = 55  # version 00: 2 + 1 + 32 + 1 + 16 + 1 + 2
# Fixed width, so ``match`` reads exactly the first 55 characters. Explicit
# character classes, not int(x, 16): that also takes "_", "+", "0x" and non-ASCII digits.
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_TRACE_ID = re.compile(r"[0-9a-f]{32}")
_ZERO_TRACE_ID = "0" * 32
_ZERO_SPAN_ID = "0" * 16
# Two hex digits -> their value: a dict lookup is twice as fast as int(x, 16).
_BYTE = {"%02x" % number: number for number in range(256)}
# A NamedTuple's own constructor is a Python function; this skips it.
_new_tuple = tuple.__new__

# tracestate grammar (Level 1, section 3.3.1.3):
#   key = simple-key / multi-tenant-key
#   simple-key = lcalpha 0*255( lcalpha / DIGIT / "_" / "-"/ "*" / "/" )
#   multi-tenant-key = tenant-id "@" system-id
#   tenant-id = ( lcalpha / DIGIT ) 0*240( lcalpha / DIGIT / "_" / "-"/ "*" / "/" )
#   system-id = lcalpha 0*13( lcalpha / DIGIT / "_" / "-"/ "*" / "/" )
#   value = 0*255(chr) nblk-chr ; nblk-chr = %x21-2B / %x2D-3C / %x3E-7E ; chr = %x20 / nblk-chr
_KEY = re.compile(r"[a-z][a-z0-9_\-*/]{0,255}|[a-z0-9][a-z0-9_\-*/]{0,240}@[a-z][a-z0-9_\-*/]{0,13}")
_VALUE = re.compile(r"[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]")
_MAX_MEMBERS = 32

#: Key/value pairs of a ``tracestate``, in header order.
TraceState = Tuple[Tuple[str, str], ...]


class TraceParent(NamedTuple):
    """A parsed ``traceparent`` header.

    Attributes:
        version: the header's version, 0 to 254.
        trace_id: 32 lower-case hex digits, not all zero.
        parent_id: 16 lower-case hex digits, not all zero: the caller's span id.
        flags: the 8-bit ``trace-flags`` as received, unknown bits included.

    .. versionadded:: 0.1.0
    """

    version: int
    trace_id: str
    parent_id: str
    flags: int

    @property
    def sampled(self) -> bool:
        """Whether the :data:`SAMPLED` bit is set (the flags masked, as the spec asks).

        .. versionadded:: 0.1.0
        """
        return bool(self.flags & SAMPLED)


def parse_traceparent(value) -> Optional[TraceParent]:
    """Parse a ``traceparent`` header value, or return None if it is invalid.

    Version ``00`` must be exactly four fields, 55 characters after optional
    whitespace. A higher version is read by the same layout, needs at least 55
    characters, and anything after them must start with ``-``; what follows is
    ignored, as the spec's forward-compatibility rules ask. Version ``ff``,
    upper-case hex and all-zero ids are invalid.

    Args:
        value: the header value; anything but a ``str`` is invalid.

    Returns:
        The parsed header, or None, in which case the caller starts a new trace.

    .. versionadded:: 0.1.0
    """
    if not isinstance(value, str):
        return None
    value = value.strip(_OWS)
    size = len(value)
    if size != _LENGTH and (size < _LENGTH or value[_LENGTH] != "-"):
        return None
    match = _TRACEPARENT.match(value)
    if match is None:
        return None
    version, trace_id, parent_id, flags = match.groups()
    if (version == "ff" or (version == "00" and size != _LENGTH)
            or trace_id == _ZERO_TRACE_ID or parent_id == _ZERO_SPAN_ID):
        return None
    return _new_tuple(TraceParent, (_BYTE[version], trace_id, parent_id, _BYTE[flags]))


def parse_traceparent_header(value) -> Optional[TraceParent]:
    """Parse a ``traceparent`` that a carrier may hold as one value or as a list of them.

    A carrier that keeps repeated headers gives a list. Several different
    values are invalid, as the spec treats more than one ``traceparent``. The
    same value repeated (up to surrounding whitespace) is accepted, since
    flowtrace itself writes the trace headers to both a message's top-level
    and nested ``headers``, and a carrier merging the two sees it twice.

    Args:
        value: a ``str``, or a list or tuple of ``str``.

    Returns:
        The parsed header, or None when it is missing, invalid or ambiguous.

    .. versionadded:: 0.1.0
    """
    if isinstance(value, (list, tuple)):
        if not value or not all(isinstance(item, str) for item in value):
            return None
        distinct = {item.strip(_OWS) for item in value}
        if len(distinct) != 1:
            return None
        value = distinct.pop()
    return parse_traceparent(value)


def format_traceparent(trace_id: str, span_id: str, flags: int = SAMPLED) -> str:
    """Return the version ``00`` ``traceparent`` for ``trace_id``, ``span_id`` and ``flags``.

    Args:
        trace_id: 32 lower-case hex digits, not all zero.
        span_id: 16 lower-case hex digits, not all zero: the span that becomes
            the receiver's parent.
        flags: the 8-bit ``trace-flags``; :data:`SAMPLED` by default.

    Returns:
        ``00-{trace_id}-{span_id}-{flags:02x}``.

    Raises:
        ValueError: naming the argument that is not of that form.

    .. versionadded:: 0.1.0
    """
    if type(flags) is not int or not 0 <= flags <= 0xFF:
        raise ValueError("flags must be an int from 0 to 255; got %r" % (flags,))
    if isinstance(trace_id, str) and isinstance(span_id, str):
        header = "00-%s-%s-%02x" % (trace_id, span_id, flags)
        # One match of the whole header checks both ids: its fixed layout
        # leaves no way for a wrong trace_id to be made up for by span_id.
        if (_TRACEPARENT.fullmatch(header) is not None
                and trace_id != _ZERO_TRACE_ID and span_id != _ZERO_SPAN_ID):
            return header
    if not isinstance(trace_id, str) or not _TRACE_ID.fullmatch(trace_id) or trace_id == _ZERO_TRACE_ID:
        raise ValueError("trace_id must be 32 lower-case hex digits, not all zero; got %r" % (trace_id,))
    raise ValueError("span_id must be 16 lower-case hex digits, not all zero; got %r" % (span_id,))


def parse_tracestate(value) -> Optional[TraceState]:
    """Parse a ``tracestate`` header value, or return None if it is invalid.

    Members are ``key=value`` separated by commas, with optional spaces and
    tabs around each. Empty members are skipped and do not count towards the
    limit of 32 (they appear where several header fields were joined). Keys
    follow the spec's grammar; a value is 1 to 256 printable ASCII characters
    other than ``,`` and ``=``, not ending in a space. A key given twice makes
    the whole header invalid.

    Args:
        value: the header value; anything but a ``str`` is invalid.

    Returns:
        The ``(key, value)`` pairs in header order (an empty tuple for an empty
        header), or None. None drops the vendor entries only: a valid
        ``traceparent`` is still used.

    .. versionadded:: 0.1.0
    """
    if not isinstance(value, str):
        return None
    members = []
    seen = set()
    for member in value.split(","):
        member = member.strip(_OWS)
        if not member:
            continue
        key, equals, item = member.partition("=")
        if not equals or key in seen or not _KEY.fullmatch(key) or not _VALUE.fullmatch(item):
            return None
        seen.add(key)
        members.append((key, item))
        if len(members) > _MAX_MEMBERS:
            return None
    return tuple(members)


def parse_tracestate_header(value) -> Optional[TraceState]:
    """Parse a ``tracestate`` that a carrier may hold as one value or as a list of them.

    Several ``tracestate`` fields are one list joined by commas (RFC 7230
    section 3.2.2), so a key repeated across them is a duplicate.

    Args:
        value: a ``str``, or a list or tuple of ``str``.

    Returns:
        As :func:`parse_tracestate`.

    .. versionadded:: 0.1.0
    """
    if isinstance(value, (list, tuple)):
        if not all(isinstance(item, str) for item in value):
            return None
        value = ",".join(value)
    return parse_tracestate(value)


def format_tracestate(members) -> str:
    """Return the ``tracestate`` header value for ``members``.

    The spec asks not to send an empty ``tracestate``: when this returns
    ``""``, leave the header out.

    Args:
        members: ``(key, value)`` pairs in order, left-most first, or a mapping.

    Returns:
        ``key=value`` members joined by commas.

    Raises:
        ValueError: naming a key or value outside the grammar, a duplicate key,
            or more than 32 members.

    .. versionadded:: 0.1.0
    """
    if hasattr(members, "items"):
        members = members.items()
    parts = []
    seen = set()
    for key, item in members:
        if not isinstance(key, str) or not _KEY.fullmatch(key):
            raise ValueError("invalid tracestate key %r" % (key,))
        if not isinstance(item, str) or not _VALUE.fullmatch(item):
            raise ValueError("invalid tracestate value %r for key %r" % (item, key))
        if key in seen:
            raise ValueError("duplicate tracestate key %r" % (key,))
        seen.add(key)
        parts.append(key + "=" + item)
    if len(parts) > _MAX_MEMBERS:
        raise ValueError("a tracestate holds at most %d members; got %d" % (_MAX_MEMBERS, len(parts)))
    return ",".join(parts)


# A Mersenne Twister of our own, seeded from os.urandom: fast (no system call
# per id), unaffected by user code calling random.seed(), and reseeded in every
# fork child so that prefork workers never repeat each other's ids. The ids are
# unique, not secret: they travel in clear in headers and logs.
_rng = random.Random()
_getrandbits = _rng.getrandbits
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_rng.seed)


def new_trace_id() -> str:
    """Return a new random trace id: 32 lower-case hex digits, never all zero.

    All 128 bits are random, which meets Level 2's condition for the
    :data:`RANDOM` flag. Safe across threads and ``fork``.

    Returns:
        The trace id.

    .. versionadded:: 0.1.0
    """
    bits = _getrandbits(128)
    while not bits:
        bits = _getrandbits(128)
    return bits.to_bytes(16, "big").hex()


def new_span_id() -> str:
    """Return a new random span id: 16 lower-case hex digits, never all zero.

    Returns:
        The span id.

    .. versionadded:: 0.1.0
    """
    bits = _getrandbits(64)
    while not bits:
        bits = _getrandbits(64)
    return bits.to_bytes(8, "big").hex()
