"""An event's enrichment: when it was emitted, and in which trace.

A sink that writes these beside the msg dict says which parts it reads in a
``wants_enrichment`` attribute (see :class:`flowtrace.sinks.Sink`). :meth:`flowtrace.Trace.log`
then makes one enrichment per event for all such sinks the event reaches, with
the parts one of them asked for, and passes it to them as a third argument.
An event that reaches no such sink costs nothing more.

The host and the process id are not part of it: :mod:`flowtrace._host`
reads them once per process (again after a fork), for every sink.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any, Optional

from flowtrace._clock import utc_iso

#: ``(time, (trace_id, span_id))``: the time as fixed-width ISO-8601 UTC,
#: and the W3C ids (hex strings, or None). A part no sink of the event asked
#: for is None, or ``(None, None)``. Plain tuples: they are made and unpacked
#: at every event.
Enrichment = tuple[Optional[str], tuple[Any, Any]]

#: The parts a sink may ask for, as bits: the time, and the trace ids.
TIME = 1
IDS = 2
ALL = TIME | IDS
_PARTS = {"time": TIME, "ids": IDS}
_NO_IDS = (None, None)


def parts_of(sink: object) -> int:
    """Return the parts of an enrichment that ``sink`` asks for, as bits: 0 when it asks for none.

    Raises:
        ValueError: if its ``wants_enrichment`` attribute names an unknown part.
    """
    wanted = getattr(sink, "wants_enrichment", None)
    if not wanted:
        return 0
    if isinstance(wanted, str) or not isinstance(wanted, Collection) or not set(wanted) <= _PARTS.keys():
        raise ValueError("a sink's wants_enrichment names parts among %s, got %r" % (", ".join(_PARTS), wanted))
    return sum({_PARTS[part] for part in wanted})


def maker(parts: int) -> Callable[[Mapping[str, Any]], Enrichment]:
    """Return the function that makes the enrichment of an event from its msg dict, with these parts.

    The trace ids are the msg dict's own when it has a ``trace_id`` key (an
    emitter that knows the ids of the attempt an event is about puts them
    there), and otherwise, if they were asked for, those current where the
    event is emitted (:func:`flowtrace.context.current_ids`).
    """
    global _current_ids
    if parts & IDS and _current_ids is None:
        # Here rather than at the top: OpenTelemetry is imported once a sink
        # asks for the trace ids, never by ``import flowtrace`` alone.
        from flowtrace.context import current_ids as _current_ids
    return _MAKERS[parts]


_current_ids: Callable[[], tuple[Any, Any]] | None = None

# One function per combination of parts, so that none tests at each event
# which parts it makes.


def _time_and_ids(msg: Mapping[str, Any]) -> Enrichment:
    if "trace_id" in msg:
        return utc_iso(), (msg["trace_id"], msg.get("span_id"))
    return utc_iso(), _current_ids()  # type: ignore[misc]  # set by maker()


def _ids(msg: Mapping[str, Any]) -> Enrichment:
    if "trace_id" in msg:
        return None, (msg["trace_id"], msg.get("span_id"))
    return None, _current_ids()  # type: ignore[misc]  # set by maker()


def _time(msg: Mapping[str, Any]) -> Enrichment:
    if "trace_id" in msg:
        return utc_iso(), (msg["trace_id"], msg.get("span_id"))
    return utc_iso(), _NO_IDS


_MAKERS: dict[int, Callable[[Mapping[str, Any]], Enrichment]] = {ALL: _time_and_ids, IDS: _ids, TIME: _time}
