"""The structlog sink: the event name as structlog's event, the msg keys as key-values."""

from __future__ import annotations

from typing import Any

from flowtrace import _deps, events

_METHOD = {events.INFO: "info", events.WARNING: "warning", events.ERROR: "error"}
_METHOD_OF = {row.value: _METHOD[row.level] for row in events.EVENTS}
_NAMES = events.NAMES


class StructlogSink:
    """Log each event through a structlog logger.

    The event name (``"TASK_START"``) is structlog's ``event``; ``event_id``
    and every msg key follow as key-values, at the event's level. A msg key
    named ``event`` is passed as ``flowtrace_event``.

    Args:
        logger: a structlog bound logger; ``structlog.get_logger("flowtrace.trace")`` by default.

    Raises:
        flowtrace.MissingDependency: if structlog is not installed.

    .. versionadded:: 0.1.0
    """

    def __init__(self, logger: Any = None) -> None:
        structlog = _deps.require("structlog", "structlog", "trace_by_structlog")
        if logger is None:
            logger = structlog.get_logger("flowtrace.trace")
        self.logger = logger
        self.name = "structlog"

    def __call__(self, event: int, msg_dict: dict[str, Any]) -> None:
        """Log one event at its level.

        Args:
            event: the event value.
            msg_dict: its msg dict.

        .. versionadded:: 0.1.0
        """
        name = _NAMES.get(event) or str(event)
        if "event" in msg_dict or "event_id" in msg_dict:
            fields = {("flowtrace_" + k if k in ("event", "event_id") else k): v for k, v in msg_dict.items()}
        else:
            fields = msg_dict
        method = "info" if msg_dict.get(events.EXPECTED_KEY) is True else _METHOD_OF.get(event, "info")
        getattr(self.logger, method)(name, event_id=event, **fields)
