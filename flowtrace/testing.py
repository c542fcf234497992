"""Helpers for users' tests: capture the events code emits."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from flowtrace.trace import EventFilter, Trace


class EventCapture(list[tuple[int, dict[str, Any]]]):
    """The list :func:`capture_events` yields: ``(event, msg_dict)`` pairs, in order.

    .. versionadded:: 0.1.0
    """

    name = "capture_events"

    def __call__(self, event: int, msg_dict: dict[str, Any]) -> None:
        self.append((event, msg_dict))

    def names(self) -> list[str]:
        """Return the event names captured, in order."""
        return [Trace.event2str(event) for event, _ in self]


@contextlib.contextmanager
def capture_events(*, events: EventFilter = None, min_level: str | None = None) -> Iterator[EventCapture]:
    """Collect the events emitted inside the ``with`` block.

    The msg dicts are as sinks see them, after redaction. Sinks already
    registered keep receiving events.

    Example::

        with capture_events() as captured:
            Trace.log(Trace.TASK_START, task_name="add")
        assert captured == [(Trace.TASK_START, {"task_name": "add"})]

    Args:
        events: capture only these events.
        min_level: capture only events at this level or above.

    .. versionadded:: 0.1.0
    """
    captured = EventCapture()
    Trace.add_sink(captured, events=events, min_level=min_level)
    try:
        yield captured
    finally:
        Trace.remove_sink(captured)
