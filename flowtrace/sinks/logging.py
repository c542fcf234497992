"""The logging sink: each event is one record on a standard library logger."""

from __future__ import annotations

import logging

from flowtrace import _serialize, events

_LEVELS = {events.INFO: logging.INFO, events.WARNING: logging.WARNING, events.ERROR: logging.ERROR}
_LEVEL_OF = {row.value: _LEVELS[row.level] for row in events.EVENTS}
_NAMES = {row.value: row.name for row in events.EVENTS}

# Attributes a LogRecord already has; a msg key with one of these names is
# passed as ``flowtrace_<key>`` so that ``extra`` never collides with them.
_RESERVED = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class _Details:
    """The msg dict as JSON text, rendered only if a handler formats the record."""

    __slots__ = ("msg",)

    def __init__(self, msg):
        self.msg = msg

    def __str__(self):
        return _serialize.dumps(self.msg).decode("utf-8")


class LoggingSink:
    """Log each event on a :class:`logging.Logger`.

    Levels follow Selinon: error for ``DISPATCHER_FAILURE`` (and any other
    event at error level), warning for :attr:`Trace.WARN_EVENTS`, info
    otherwise. When the logger does not log that level, the sink returns
    before doing any other work.

    The record's message is ``"<EVENT> <details as JSON>"``, rendered lazily.
    Its ``extra`` carries ``event`` (the name), ``event_id`` and every msg key
    as its own attribute, so structured formatters see them as fields; a key
    that clashes with a :class:`logging.LogRecord` attribute is prefixed with
    ``flowtrace_``. The whole msg dict is also there as ``details``.

    Args:
        logger: a logger or a logger name; ``flowtrace.trace`` by default.

    Raises:
        ValueError: if ``logger`` is neither.

    .. versionadded:: 0.1.0
    """

    def __init__(self, logger=None):
        if logger is None:
            logger = logging.getLogger("flowtrace.trace")
        elif isinstance(logger, str):
            logger = logging.getLogger(logger)
        elif not (callable(getattr(logger, "isEnabledFor", None)) and callable(getattr(logger, "log", None))):
            raise ValueError("logger must be a logging.Logger or a logger name, got %r" % (logger,))
        self.logger = logger
        self.name = "logging:%s" % getattr(logger, "name", type(logger).__name__)

    def __call__(self, event, msg_dict):
        level = _LEVEL_OF.get(event, logging.INFO)
        logger = self.logger
        if not logger.isEnabledFor(level):
            return
        name = _NAMES.get(event) or str(event)
        extra = {"event": name, "event_id": event, "details": msg_dict}
        for key, value in msg_dict.items():
            if not isinstance(key, str) or key in _RESERVED or key in extra:
                key = "flowtrace_%s" % (key,)
            extra[key] = value
        logger.log(level, "%s %s", name, _Details(msg_dict), extra=extra)
