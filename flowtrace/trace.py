"""``Trace``: the class emitters log to and sinks are registered on.

The sinks are kept by :mod:`flowtrace._registry`; ``Trace.log`` is :func:`flowtrace._emit.log`.
"""

from __future__ import annotations

from typing import IO, TYPE_CHECKING, Any, ClassVar, TypeVar

from flowtrace import _emit, _redact, _registry, events
from flowtrace._constants import EventConstants
from flowtrace._emit import LogFunction  # at run time too: typing.get_type_hints(Trace) reads it
from flowtrace._filter import EventFilter, build_filter
from flowtrace.sinks import _kinds
from flowtrace.sinks._config import TraceConfig, parse_trace_config

if TYPE_CHECKING:
    import logging
    import os

    from opentelemetry.trace import TracerProvider

    from flowtrace.sinks import Sink
    from flowtrace.sinks.json import JsonSink
    from flowtrace.sinks.logging import LoggingSink
    from flowtrace.sinks.otel import OtelSink
    from flowtrace.sinks.sentry import SentrySink
    from flowtrace.sinks.structlog import StructlogSink

__all__ = ["Trace"]

_SinkT = TypeVar("_SinkT", bound="Sink")


def _install(entries: tuple[_registry.Entry, ...]) -> None:
    """Make ``entries`` the registered sinks; the caller holds the registry lock."""
    Trace.log = _registry.install(entries)
    Trace.enabled = bool(entries)


class Trace(EventConstants):
    """Flow events and where they go.

    Every event has an integer constant on this class (``Trace.TASK_START``,
    ``Trace.FLOW_END``, ...), with the values of Selinon's ``selinon.trace``.
    Emitters call :meth:`log`; each registered sink is then called with
    ``(event, msg_dict)``. ``Trace`` is used through the class and never
    instantiated.

    .. versionadded:: 0.1.0
    """

    #: Events reported at warning level; Selinon's tuple first, in its order.
    WARN_EVENTS: ClassVar[tuple[int, ...]] = events.WARN_EVENTS

    # Trace.log(event, *msg_dicts, **kwargs) merges the dicts left to right,
    # then the kwargs, redacts, and calls each sink. It is swapped between
    # _emit.log and _emit.noop_log as sinks come and go (documented in docs/api.rst).
    # Both are stored bare, not wrapped in staticmethod: Trace is never
    # instantiated, so reading them through the class gives the function
    # itself, and CPython then caches the lookup at each call site
    # (LOAD_METHOD_CLASS). A metaclass would defeat that cache, which is why
    # ``enabled`` is a plain attribute and not a metaclass property.
    log: ClassVar[LogFunction] = _emit.noop_log

    # True when at least one sink is registered, so that a hot call site can
    # skip building its msg dict: ``if Trace.enabled: Trace.log(...)``. Kept
    # up to date by _install(); documented in docs/api.rst.
    enabled: ClassVar[bool] = False

    def __init__(self) -> None:
        raise TypeError("Trace is used through the class; it is never instantiated")

    # --- the catalogue ---------------------------------------------------

    @classmethod
    def event2str(cls, event: int) -> str:
        """Return the name of an event value.

        Args:
            event: an event value, such as ``Trace.TASK_START``.

        Returns:
            The name, such as ``'TASK_START'``.

        Raises:
            ValueError: if the value is not in the catalogue.

        .. versionadded:: 0.1.0
        """
        try:
            return events.BY_VALUE[event].name
        except (KeyError, TypeError):
            raise ValueError("unknown flowtrace event %r" % (event,)) from None

    @classmethod
    def level_of(cls, event: int) -> str:
        """Return ``'info'``, ``'warning'`` or ``'error'`` for an event value.

        Args:
            event: an event value, such as ``Trace.TASK_START``.

        Returns:
            The level of the event.

        Raises:
            ValueError: if the value is not in the catalogue.

        .. versionadded:: 0.1.0
        """
        return events.level_of(event)

    # --- sinks -------------------------------------------------------------

    @classmethod
    def add_sink(cls, sink: _SinkT, *, events: EventFilter = None, min_level: str | None = None,
                 name: str | None = None) -> _SinkT:
        """Register any callable ``sink(event, msg_dict)``.

        Args:
            sink: the callable. If it has ``flush()`` or ``close()``, they are
                called by :meth:`flush` and :meth:`reset`. If it has
                ``enabled_for(event)``, :meth:`log` asks it first, and an
                event that every sink it would reach answers false for costs
                no merge and no redaction; the sink itself is then not called.
            events: only these events reach the sink (values or names).
            min_level: only events at this level or above reach the sink
                (``'info'``, ``'warning'`` or ``'error'``).
            name: the name used in :meth:`stats` and in failure reports.

        Returns:
            The sink, so that it can be passed to :meth:`remove_sink`.

        Raises:
            ValueError: if ``sink`` is not callable, the filter names an
                unknown event or level, or its ``wants_enrichment`` an unknown part
                (see :class:`flowtrace.sinks.Sink`).

        .. versionadded:: 0.1.0
        """
        if not callable(sink):
            raise ValueError("a sink must be callable as sink(event, msg_dict), got %r" % (sink,))
        accepts = build_filter(events, min_level)
        with _registry.lock:
            entry = _registry.Entry(sink, _registry.unique_name(sink, name), accepts)
            _install(_registry.entries + (entry,))
        return sink

    @classmethod
    def remove_sink(cls, sink: Sink) -> bool:
        """Unregister a sink.

        Args:
            sink: the sink, as :meth:`add_sink` returned it.

        Returns:
            Whether it was registered.

        .. versionadded:: 0.1.0
        """
        with _registry.lock:
            kept = tuple(entry for entry in _registry.entries if entry.sink is not sink)
            found = len(kept) != len(_registry.entries)
            _install(kept)
        return found

    @classmethod
    def sinks(cls) -> list[Sink]:
        """Return the registered sinks.

        Returns:
            The sinks, in the order they are called.

        .. versionadded:: 0.1.0
        """
        return [entry.sink for entry in _registry.entries]

    @classmethod
    def trace_by_func(cls, func: _SinkT, *, events: EventFilter = None, min_level: str | None = None) -> _SinkT:
        """Register a function called as ``func(event, msg_dict)`` for every event.

        Args:
            func: the function.
            events, min_level: the filter, as for :meth:`add_sink`.

        Returns:
            ``func``, so that it can be passed to :meth:`remove_sink`.

        Raises:
            ValueError: if ``func`` is not callable or the filter is wrong.

        .. versionadded:: 0.1.0
        """
        return cls.add_sink(func, events=events, min_level=min_level)

    @classmethod
    def trace_by_logging(cls, logger: logging.Logger | str | None = None, *, events: EventFilter = None,
                         min_level: str | None = None) -> LoggingSink:
        """Log every event through :mod:`logging`; see :class:`flowtrace.sinks.logging.LoggingSink`.

        Args:
            logger: a :class:`logging.Logger` or a logger name; the default is
                ``flowtrace.trace``. Each call makes its own sink, so a second
                call with another logger leaves the first one working.
            events, min_level: the filter, as for :meth:`add_sink`.

        Returns:
            The sink registered.

        Raises:
            ValueError: if ``logger`` is not a logger or the filter is wrong.

        .. versionadded:: 0.1.0
        """
        return cls.add_sink(_kinds.LOGGING.factory()(logger), events=events, min_level=min_level)

    @classmethod
    def trace_by_json(cls, stream: str | os.PathLike[str] | int | IO[str] | IO[bytes] | None = None, *,
                      events: EventFilter = None, min_level: str | None = None,
                      max_line: int | None = None) -> JsonSink:
        """Write every event as one JSON line; see :class:`flowtrace.sinks.json.JsonSink`.

        Args:
            stream: a writable text or binary stream, a file descriptor or a
                path to append to; standard output by default.
            events, min_level: the filter, as for :meth:`add_sink`.
            max_line: the longest line written, in bytes.

        Returns:
            The sink registered.

        Raises:
            ValueError: if ``max_line`` or ``stream`` is not one the sink
                takes, or the filter is wrong.
            OSError: if the file at the path cannot be opened.

        .. versionadded:: 0.1.0
        """
        kwargs: dict[str, int] = {} if max_line is None else {"max_line": max_line}
        return cls.add_sink(_kinds.JSON.factory()(stream, **kwargs), events=events, min_level=min_level)

    @classmethod
    def trace_by_structlog(cls, logger: Any = None, *, events: EventFilter = None,
                           min_level: str | None = None) -> StructlogSink:
        """Send every event to structlog; see :class:`flowtrace.sinks.structlog.StructlogSink`.

        Args:
            logger: a structlog bound logger; ``structlog.get_logger("flowtrace.trace")`` by default.
            events, min_level: the filter, as for :meth:`add_sink`.

        Returns:
            The sink registered.

        Raises:
            flowtrace.MissingDependency: if structlog is not installed.
            ValueError: if the filter is wrong.

        .. versionadded:: 0.1.0
        """
        return cls.add_sink(_kinds.STRUCTLOG.factory()(logger), events=events, min_level=min_level)

    @classmethod
    def trace_by_sentry(cls, dsn: str | None = None, *, events: EventFilter = None, min_level: str | None = None,
                        **options: Any) -> SentrySink:
        """Send events to Sentry; see :class:`flowtrace.sinks.sentry.SentrySink`.

        Args:
            dsn: the DSN; ``{NAME}`` is replaced by the environment variable
                ``NAME``. ``None`` uses the client sentry-sdk already has.
            events, min_level: the filter, as for :meth:`add_sink`.
            options: passed to ``sentry_sdk.init`` with the DSN.

        Returns:
            The sink registered.

        Raises:
            flowtrace.MissingDependency: if sentry-sdk is not installed.
            ValueError: if the DSN is not a string or names an unset
                variable, if it is ``None`` while no Sentry client is active,
                or if the filter is wrong.

        .. versionadded:: 0.1.0
        """
        return cls.add_sink(_kinds.SENTRY.factory()(dsn, **options), events=events, min_level=min_level)

    @classmethod
    def trace_by_otel(cls, tracer_provider: TracerProvider | None = None, *, events: EventFilter = None,
                      min_level: str | None = None) -> OtelSink:
        """Report events to OpenTelemetry as spans; see :class:`flowtrace.sinks.otel.OtelSink`.

        A task attempt becomes a span from ``TASK_START`` to its terminal
        event, with the ids its events carry; a flow a span from
        ``FLOW_START`` to ``FLOW_END`` or ``FLOW_FAILURE``; every other event
        a span event.

        Args:
            tracer_provider: the OpenTelemetry ``TracerProvider`` to use; the
                global one by default, looked up until it is set.
            events, min_level: the filter, as for :meth:`add_sink`.

        Returns:
            The sink registered.

        Raises:
            ValueError: if ``tracer_provider`` is not a tracer provider, or the
                filter is wrong.

        .. versionadded:: 0.1.0
        """
        return cls.add_sink(_kinds.OTEL.factory()(tracer_provider), events=events, min_level=min_level)

    # --- configuration, stats, lifecycle -----------------------------------

    @classmethod
    def configure(cls, config: TraceConfig) -> list[Sink]:
        """Register sinks from a Selinon-style ``global: trace:`` list.

        Every entry is checked, and every sink built, before any of them is
        registered, so a wrong entry registers nothing. The kinds and their
        options are in :doc:`configuration`.

        Args:
            config: the list itself, or a mapping holding it under ``trace``
                (as ``global`` does; its other keys are left alone).

        Returns:
            The sinks registered.

        Raises:
            ValueError: naming the entry that is wrong.

        .. versionadded:: 0.1.0
        """
        return [cls.add_sink(sink, **filters) for sink, filters in parse_trace_config(config)]

    @classmethod
    def redact_keys(cls, *fragments: str) -> tuple[str, ...]:
        """Add key fragments whose values are replaced by ``'[redacted]'``.

        Args:
            fragments: the fragments to add; none to only read the list.

        Returns:
            Every fragment redacted now.

        .. versionadded:: 0.1.0
        """
        if fragments:
            _redact.add_keys(*fragments)
        return _redact.keys()

    @classmethod
    def stats(cls) -> dict[str, dict[str, Any]]:
        """Return, per sink name, its ``errors``, ``dropped`` and ``last_error``.

        ``errors`` counts every failure of the sink: the exceptions it raised
        into :meth:`log`, and those it caught and counted itself.

        ``dropped`` counts events a sink with a queue had to discard; it is
        read from the sink's own ``stats()`` when it has one. Events that
        :meth:`log` could not turn into a msg dict at all (an argument that is
        not a mapping) are counted under the name ``"Trace.log"``, which
        appears once there is one.

        Returns:
            A row per sink name, with what the sink's own ``stats()`` adds.

        .. versionadded:: 0.1.0
        """
        return _registry.stats()

    @classmethod
    def flush(cls, timeout: float = 5.0) -> None:
        """Call ``flush(timeout)`` on every sink that has one.

        Args:
            timeout: passed to each sink's ``flush``, in seconds.

        .. versionadded:: 0.1.0
        """
        for entry in _registry.entries:
            _registry.call_optional(entry, "flush", timeout)

    @classmethod
    def reset(cls) -> None:
        """Close and remove every sink and restore the default redaction list; for tests.

        .. versionadded:: 0.1.0
        """
        with _registry.lock:
            entries = _registry.entries
            _install(())
        _redact.reset()
        _emit.reset_failures()
        for entry in entries:
            _registry.call_optional(entry, "close")

