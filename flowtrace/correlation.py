"""Log correlation: the running task's ids on every log record, third-party loggers included.

While a task attempt runs, the Celery integration binds its ``task_id`` and
``task_name`` (and ``flow_name`` and ``dispatcher_id`` for a flow's task) in a
context variable, from ``task_prerun`` until ``task_postrun``. Two plug-ins
read it, with ``trace_id`` and ``span_id`` from :func:`flowtrace.context.current_ids`:

- :class:`CorrelationFilter`, a :class:`logging.Filter` for the standard
  library. Put it on *handlers*: a filter on a logger sees only the records
  logged through that very logger, never those of its children or of a
  third-party library, while a handler's filter sees every record the handler
  writes. :func:`install` adds it to the handlers a logger has.
- :func:`structlog_processor`, a structlog processor.

Why a handler filter and not a log record factory
(:func:`logging.setLogRecordFactory`): a factory that adds ``task_id`` to
every record makes ``logger.info(..., extra={"task_id": ...})`` raise
``KeyError`` (``makeRecord`` refuses an ``extra`` key the record already
has), which breaks code that passes its own ``task_id``, flowtrace's logging
sink among it. Factories also chain by convention only: a library that sets
its own without calling the previous one drops ours silently. The filter
adds a field only when the record does not have it, so an explicit value wins,
and it runs in the thread that logs (``Handler.handle`` filters before
``emit``, even for a ``QueueHandler``), where the task's context is.
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any, TypeVar

from flowtrace.context import task_fields_var, current_ids

__all__ = ["FIELDS", "CorrelationFilter", "structlog_processor", "current_fields", "install"]

#: The fields, in this order, that :func:`current_fields` returns and
#: :class:`CorrelationFilter` sets on every record.
FIELDS = ("task_id", "task_name", "trace_id", "span_id", "flow_name", "dispatcher_id")

_NO_FIELDS: dict[str, Any] = {}

_EventDict = TypeVar("_EventDict", bound=MutableMapping[str, Any])


def current_fields() -> dict[str, Any]:
    """Return the correlation fields of this context: every key of :data:`FIELDS`, None when unknown.

    ``task_id``, ``task_name``, ``flow_name`` and ``dispatcher_id`` are those
    of the task attempt running in this thread (or greenlet, or asyncio task),
    and all None outside one. ``trace_id`` and ``span_id`` come from
    :func:`flowtrace.context.current_ids`, so they are known outside a task
    too when an OpenTelemetry span is current.

    .. versionadded:: 0.1.0
    """
    bound = task_fields_var.get() or _NO_FIELDS
    trace_id, span_id = current_ids()
    return {"task_id": bound.get("task_id"), "task_name": bound.get("task_name"), "trace_id": trace_id,
            "span_id": span_id, "flow_name": bound.get("flow_name"), "dispatcher_id": bound.get("dispatcher_id")}


def _from_celery_record(record: logging.LogRecord) -> dict[str, Any]:
    # Celery passes what a task line is about as ``extra={"data": {...}}`` on
    # its own loggers ("Task ... received" in the worker's main process, the
    # tracer's outcome lines), so those records name their task even where no
    # attempt runs.
    data = record.__dict__.get("data")
    if type(data) is dict and record.name.startswith("celery.") and "id" in data:
        return {"task_id": data.get("id"), "task_name": data.get("name")}
    return _NO_FIELDS


class CorrelationFilter(logging.Filter):
    """A logging filter that puts :data:`FIELDS` on every record as attributes.

    Every key is set on every record, None when unknown, so a format string
    such as ``"%(task_id)s %(message)s"`` works inside and outside tasks. A
    key the record already has (``extra={"task_id": ...}``, or a second
    handler's filter) is left as it is. Outside a task, a record of Celery's
    own loggers that says which task it is about (the main process's
    ``Task ... received``) gets that task's ``task_id`` and ``task_name``.
    The filter never drops a record.

    Add it to handlers, not loggers: see :mod:`flowtrace.correlation`. With
    :func:`logging.config.dictConfig`::

        "filters": {"correlation": {"()": "flowtrace.correlation.CorrelationFilter"}},
        "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["correlation"]}},

    .. versionadded:: 0.1.0
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Set each of :data:`FIELDS` on ``record`` that it does not have yet.

        Args:
            record: the record a handler is about to emit.

        Returns:
            Always true, as the filter never drops a record.

        .. versionadded:: 0.1.0
        """
        attributes = record.__dict__
        bound = task_fields_var.get()
        if bound is None:
            bound = _from_celery_record(record)
        trace_id, span_id = current_ids()
        if "task_id" not in attributes:
            attributes["task_id"] = bound.get("task_id")
        if "task_name" not in attributes:
            attributes["task_name"] = bound.get("task_name")
        if "trace_id" not in attributes:
            attributes["trace_id"] = trace_id
        if "span_id" not in attributes:
            attributes["span_id"] = span_id
        if "flow_name" not in attributes:
            attributes["flow_name"] = bound.get("flow_name")
        if "dispatcher_id" not in attributes:
            attributes["dispatcher_id"] = bound.get("dispatcher_id")
        return True


def structlog_processor(logger: Any, method_name: str, event_dict: _EventDict) -> _EventDict:
    """A structlog processor that adds the known correlation fields to ``event_dict``.

    Only fields with a value are added (inside a task: ``task_id``,
    ``task_name``, and the others when known), and a key the event already
    has is never overwritten. Put it in ``structlog.configure(processors=...)``
    before the renderer; for standard library records rendered by
    ``structlog.stdlib.ProcessorFormatter``, put it in ``foreign_pre_chain``
    too, where a record of Celery's naming its task outside one is read as
    :class:`CorrelationFilter` reads it.

    Args:
        logger: the wrapped logger (unused).
        method_name: the log method's name (unused).
        event_dict: the event; changed in place.

    Returns:
        ``event_dict``.

    .. versionadded:: 0.1.0
    """
    fields = current_fields()
    if fields["task_id"] is None:
        record = event_dict.get("_record")
        if isinstance(record, logging.LogRecord):
            fields.update(_from_celery_record(record))
    for key, value in fields.items():
        if value is not None and key not in event_dict:
            event_dict[key] = value
    return event_dict


def install(logger: logging.Logger | str | None = None) -> int:
    """Add a :class:`CorrelationFilter` to every handler of ``logger`` that has none yet.

    Handlers added to the logger later do not get it; in a Celery worker,
    whose logging is set up after the app module is imported, call this from
    the ``after_setup_logger`` signal (and ``after_setup_task_logger`` for the
    ``celery.task`` logger, which does not propagate to the root logger).
    Calling it again adds nothing to a handler that has the filter.

    Args:
        logger: a :class:`logging.Logger`, a logger name, or None for the
            root logger.

    Returns:
        How many handlers got the filter.

    Raises:
        ValueError: if ``logger`` is none of these.

    .. versionadded:: 0.1.0
    """
    if logger is None or isinstance(logger, str):
        logger = logging.getLogger(logger)
    elif not isinstance(logger, logging.Logger):
        raise ValueError("logger must be a logging.Logger, a logger name or None, got %r" % (logger,))
    added = 0
    for handler in logger.handlers:
        if not any(isinstance(existing, CorrelationFilter) for existing in handler.filters):
            handler.addFilter(_FILTER)
            added += 1
    return added


_FILTER = CorrelationFilter()
