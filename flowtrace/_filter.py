"""A sink's filter: the ``events`` and ``min_level`` of :meth:`flowtrace.Trace.add_sink` and of ``global: trace:``.

Both the registry and the sinks' configuration check a filter with
:func:`build_filter`, so that a configuration entry is refused with the same
message that ``add_sink`` would give.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Union

from flowtrace import events

#: The ``events`` filter of :meth:`flowtrace.Trace.add_sink`: one event (a
#: value or a name), several, or None for every event.
EventFilter = Union[int, str, Iterable[Union[int, str]], None]


def _validate_events(values: Iterable[int | str]) -> set[int]:
    accepted: set[int] = set()
    for value in values:
        if isinstance(value, str):
            if value not in events.BY_NAME:
                raise ValueError("unknown flowtrace event name %r" % (value,))
            value = events.BY_NAME[value].value
        elif value not in events.BY_VALUE:
            raise ValueError("unknown flowtrace event %r" % (value,))
        accepted.add(value)
    return accepted


def build_filter(event_filter: EventFilter, min_level: str | None) -> frozenset[int] | None:
    """Return the event values a sink registered with ``events`` and ``min_level`` accepts.

    Args:
        event_filter: an event name or value, an iterable of them, or None for every event.
        min_level: the lowest level accepted, or None for every level.

    Returns:
        The accepted values, or None when both are None (every event).

    Raises:
        ValueError: for an unknown event name or value, or an unknown level.
    """
    accepts: set[int] | frozenset[int] | None = None
    if event_filter is not None:
        if isinstance(event_filter, (str, int)):
            event_filter = (event_filter,)
        accepts = _validate_events(event_filter)
    if min_level is not None:
        at_or_above = events.events_at_or_above(min_level)
        accepts = set(at_or_above) if accepts is None else accepts & at_or_above
    return None if accepts is None else frozenset(accepts)
