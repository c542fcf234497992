"""The logging sink: each event is one record on a standard library logger."""

from __future__ import annotations

import logging
import sys
import types
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from types import FrameType

from flowtrace import _serialize, events

_LEVELS = {events.INFO: logging.INFO, events.WARNING: logging.WARNING, events.ERROR: logging.ERROR}
_LEVEL_OF = {row.value: _LEVELS[row.level] for row in events.EVENTS}
_NAMES = events.NAMES

# Attributes a LogRecord already has; a msg key with one of these names is
# passed as ``flowtrace_<key>`` so that ``extra`` never collides with them.
_RESERVED = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}
_OWN_KEYS = frozenset({"event", "event_id", "details"})

# Msg keys that go into ``extra`` as they are (str, neither reserved nor one of
# ours): when a msg dict has only such keys, ``extra`` is built in one step.
# Bounded so that data used as keys cannot grow it forever.
_plain_keys: set[str] = set()
_PLAIN_KEYS_MAX = 4096

_getframe = sys._getframe

# Logger.log -> _log -> findCaller -> makeRecord -> handle costs more than the
# rest of an event: findCaller walks the stack to find the frame that called
# logger.log, which is always LoggingSink.__call__, and makeRecord copies extra
# into the record one key at a time. For a logger whose class keeps those four
# methods as the standard library wrote them, the sink does the same steps
# itself, with the same results. Anything else (a Logger subclass overriding
# one of them, a patched or wrapped method, a LoggerAdapter) goes through
# logger.log as usual.
_SHORTCUT_METHODS = ("log", "_log", "findCaller", "makeRecord")
_STOCK = tuple(getattr(logging.Logger, name, None) for name in _SHORTCUT_METHODS)
_SHORTCUT = (
    all(type(fn) is types.FunctionType and fn.__module__ == "logging" for fn in _STOCK)
    and hasattr(logging, "_srcfile") and hasattr(logging, "_logRecordFactory")
)
_STOCK_LOG, _STOCK__LOG, _STOCK_FIND_CALLER, _STOCK_MAKE_RECORD = _STOCK
_SHORTCUT_METHOD_NAMES = frozenset(_SHORTCUT_METHODS)


class _Details:
    """The msg dict as JSON text, rendered only if a handler formats the record."""

    __slots__ = ("msg",)

    def __init__(self, msg: dict[str, Any]) -> None:
        self.msg = msg

    def __str__(self) -> str:
        return _serialize.dumps(self.msg).decode("utf-8")


def _extra(name: str, event: int, msg_dict: dict[str, Any]) -> dict[str, Any]:
    extra: dict[str, Any] = {"event": name, "event_id": event, "details": msg_dict}
    plain = True
    for key, value in msg_dict.items():
        if not isinstance(key, str) or key in _RESERVED or key in extra:
            key = "flowtrace_%s" % (key,)
            plain = False
        extra[key] = value
    if plain:
        if len(_plain_keys) >= _PLAIN_KEYS_MAX:
            _plain_keys.clear()
        _plain_keys.update(msg_dict)
    return extra


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

    def __init__(self, logger: logging.Logger | logging.LoggerAdapter[Any] | str | None = None) -> None:
        if logger is None:
            logger = logging.getLogger("flowtrace.trace")
        elif isinstance(logger, str):
            logger = logging.getLogger(logger)
        elif not (callable(getattr(logger, "isEnabledFor", None)) and callable(getattr(logger, "log", None))):
            raise ValueError("logger must be a logging.Logger or a logger name, got %r" % (logger,))
        # Typed as a Logger: __call__ takes the shortcut only for a stock
        # Logger and uses nothing but isEnabledFor and log on anything else.
        self.logger = cast(logging.Logger, logger)
        self.name = "logging:%s" % getattr(logger, "name", type(logger).__name__)

    def enabled_for(self, event: int) -> bool:
        """Return whether the logger would log ``event`` now.

        :meth:`flowtrace.Trace.log` asks this first, so that an event nobody
        logs costs neither a message merge nor redaction.

        Args:
            event: the event value.

        Returns:
            Whether the logger is enabled for the event's level.

        .. versionadded:: 0.1.0
        """
        return self.logger.isEnabledFor(_LEVEL_OF.get(event, logging.INFO))

    def __call__(self, event: int, msg_dict: dict[str, Any]) -> None:
        """Log one event, unless the logger is off for its level.

        Args:
            event: the event value.
            msg_dict: its msg dict.

        .. versionadded:: 0.1.0
        """
        level = _LEVEL_OF.get(event, logging.INFO)
        if level > logging.INFO and msg_dict.get(events.EXPECTED_KEY) is True:
            level = logging.INFO  # an exception listed in Task.throws, as Celery logs it
        logger = self.logger
        if not logger.isEnabledFor(level):
            return
        name = _NAMES.get(event) or str(event)
        # None: every msg key goes into the record as it is, after ours.
        extra = None if _plain_keys.issuperset(msg_dict) else _extra(name, event, msg_dict)
        cls = type(logger)
        if not (
            _SHORTCUT and cls.makeRecord is _STOCK_MAKE_RECORD and cls._log is _STOCK__LOG
            and cls.findCaller is _STOCK_FIND_CALLER and cls.log is _STOCK_LOG
            and logger.__dict__.keys().isdisjoint(_SHORTCUT_METHOD_NAMES)
        ):
            if extra is None:
                extra = {"event": name, "event_id": event, "details": msg_dict, **msg_dict}
            logger.log(level, "%s %s", name, _Details(msg_dict), extra=extra)
            return
        # What logger.log(level, "%s %s", name, details, extra=extra) does on a
        # standard Logger. findCaller would name this frame, at this line,
        # every time; the line is read once, as reading f_lineno decodes the
        # code's line table.
        if logging._srcfile:
            fn, lno, func = _THIS_FILE, _caller_line or _read_caller_line(_getframe()), "__call__"
        else:
            fn, lno, func = "(unknown file)", 0, "(unknown function)"
        factory = logging._logRecordFactory  # type: ignore[attr-defined]  # private, so not in typeshed
        record = factory(logger.name, level, fn, lno, "%s %s", (name, _Details(msg_dict)), None, func, None)
        attributes = record.__dict__
        if extra is None:
            # A plain key is no attribute of a standard LogRecord (_RESERVED);
            # a custom factory may add some, and then makeRecord's check applies.
            if factory is not logging.LogRecord and not (
                attributes.keys().isdisjoint(msg_dict) and attributes.keys().isdisjoint(_OWN_KEYS)
            ):
                _refuse_overwrite(attributes, ("event", "event_id", "details", *msg_dict))
            attributes["event"] = name
            attributes["event_id"] = event
            attributes["details"] = msg_dict
            attributes.update(msg_dict)
        else:
            if not attributes.keys().isdisjoint(extra):
                _refuse_overwrite(attributes, extra)
            attributes.update(extra)
        logger.handle(record)


def _refuse_overwrite(attributes: dict[str, Any], keys: Iterable[str]) -> None:
    for key in keys:
        if key in attributes:
            raise KeyError("Attempt to overwrite %r in LogRecord" % key)


_THIS_FILE = LoggingSink.__call__.__code__.co_filename
_caller_line = 0


def _read_caller_line(frame: FrameType) -> int:
    global _caller_line
    _caller_line = frame.f_lineno
    return _caller_line
