"""``Trace``: the event constants, the sink registry and ``Trace.log``."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar, Union, cast

from flowtrace import _redact, events
from flowtrace._report import FailureCounter

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

#: The ``events`` filter of :meth:`Trace.add_sink`: one event (a value or a
#: name), several, or None for every event.
EventFilter = Union[int, str, Iterable[Union[int, str]], None]

_SinkT = TypeVar("_SinkT", bound="Sink")


class _LogFunction(Protocol):
    """The signature of :meth:`Trace.log`."""

    def __call__(self, event: int, /, *msg_dicts: Mapping[str, Any], **kwargs: Any) -> None: ...


class _Entry:
    """One registered sink, its filter and its failure counter."""

    __slots__ = ("sink", "name", "accepts", "failures", "gate")

    def __init__(self, sink: Sink, name: str, accepts: frozenset[int] | None) -> None:
        self.sink = sink
        self.name = name
        self.accepts = accepts  # None: every event; else a frozenset of values
        self.failures = FailureCounter("sink " + name)
        # A sink may say cheaply that it would ignore an event (the logging
        # sink when its logger is off for that level): when every sink of an
        # event says so, Trace.log returns before merging and redacting.
        gate = getattr(sink, "enabled_for", None)
        self.gate: Callable[[int], object] | None = gate if callable(gate) else None


#: The sinks one event value reaches, and whether any of them has a gate.
_Route = tuple[tuple[_Entry, ...], bool]


class _Registry:
    """The one place where flowtrace keeps global state."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        # Readers take these without locking; writers replace them whole.
        self.entries: tuple[_Entry, ...] = ()
        # event value -> (entries that accept it, whether any of them has a
        # gate); the key None holds the route for values outside the catalogue.
        self.routes: dict[int | None, _Route] = {None: ((), False)}


_registry = _Registry()


# With no sink registered, Trace.log is bound to a C-level callable that
# accepts any positional and keyword arguments and does nothing with them:
# str.format ignores arguments its template does not use. This skips the
# Python frame a ``def`` would cost on every emit (bench/trace_bench.py).
# The cast only tells type checkers that its result is never used.
_noop_log = cast(_LogFunction, "".format)

_redact_top = _redact.redact_top

# Events Trace.log could not build a msg dict for; reported in stats() as "Trace.log".
_emit_failures = FailureCounter("Trace.log")


def _log(event: int, /, *msg_dicts: Mapping[str, Any], **kwargs: Any) -> None:
    try:
        entries, gated = _registry.routes[event]
    except (KeyError, TypeError):  # a value outside the catalogue
        entries, gated = _registry.routes[None]
    if not entries:
        return
    if gated:
        for entry in entries:
            gate = entry.gate
            if gate is None:
                break
            try:
                if gate(event):
                    break
            except Exception:  # the sink itself will fail, and be counted, if it must
                break
        else:
            return  # every sink would ignore this event
    try:
        if msg_dicts:
            if len(msg_dicts) == 1 and not kwargs:
                msg = dict(msg_dicts[0])
            elif len(msg_dicts) == 1:
                msg = {**msg_dicts[0], **kwargs}
            else:
                msg = {}
                for part in msg_dicts:
                    msg.update(part)
                msg.update(kwargs)
        else:
            msg = kwargs  # already a fresh dict owned by this call
        _redact_top(msg)
    except Exception as exc:
        # A msg argument that is not a mapping, or one changed by another
        # thread while it was read: the event is lost, so it is counted.
        _emit_failures.record(_event_label(event), exc)
        return
    for entry in entries:
        try:
            entry.sink(event, msg)
        except Exception as exc:  # a sink must never reach the emitter
            _record_failure(entry, event, exc)


def _build_routes(entries: tuple[_Entry, ...]) -> dict[int | None, _Route]:
    """Return the routes table for ``entries``: who receives each event value."""
    def route(accepting: Iterable[_Entry]) -> _Route:
        accepted = tuple(accepting)
        return accepted, any(entry.gate is not None for entry in accepted)

    routes: dict[int | None, _Route] = {
        value: route(e for e in entries if e.accepts is None or value in e.accepts) for value in events.BY_VALUE}
    routes[None] = route(e for e in entries if e.accepts is None)
    return routes


def _install(entries: tuple[_Entry, ...]) -> None:
    """Make ``entries`` the registered sinks; the caller holds the registry lock."""
    _registry.routes = _build_routes(entries)
    _registry.entries = entries
    Trace.log = _log if entries else _noop_log
    Trace.enabled = bool(entries)


def _record_failure(entry: _Entry, event: int, exc: Exception) -> None:
    entry.failures.record(_event_label(event), exc)


def _event_label(event: int) -> str:
    try:
        row = events.BY_VALUE.get(event)
    except TypeError:  # an unhashable value passed as the event
        row = None
    if row is not None:
        return row.name
    try:
        return "event %r" % (event,)
    except Exception:  # its repr raised: this runs inside an except block
        return "event of type %s" % type(event).__name__


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

    What :meth:`Trace.add_sink` does with its filter options, for code that
    checks a sink configuration before building the sink (the ``trace``
    settings, flow YAML); internal to the package.

    Args:
        event_filter: an event name or value, an iterable of them, or None for every event.
        min_level: the lowest level accepted, or None for every level.

    Returns:
        The accepted values, or None when both are None (every event).

    Raises:
        ValueError: for an unknown event name or value, or an unknown level.

    .. versionadded:: 0.1.0
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


def _sink_name(sink: object) -> str:
    name = getattr(sink, "name", None)
    if isinstance(name, str) and name:
        return name
    name = getattr(sink, "__qualname__", None) or type(sink).__name__
    module = getattr(sink, "__module__", None)
    return "%s.%s" % (module, name) if module else name


class Trace:
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

    # The event constants, declared for type checkers in catalogue order; the
    # loop after the class sets their values from flowtrace.events.
    DISPATCHER_WAKEUP: ClassVar[int]
    FLOW_START: ClassVar[int]
    TASK_SCHEDULE: ClassVar[int]
    TASK_START: ClassVar[int]
    SUBFLOW_SCHEDULE: ClassVar[int]
    TASK_END: ClassVar[int]
    NODE_SUCCESSFUL: ClassVar[int]
    TASK_DISCARD_RESULT: ClassVar[int]
    TASK_FAILURE: ClassVar[int]
    TASK_RETRY: ClassVar[int]
    FLOW_FAILURE: ClassVar[int]
    DISPATCHER_FAILURE: ClassVar[int]
    NODE_FAILURE: ClassVar[int]
    FALLBACK_START: ClassVar[int]
    DISPATCHER_RETRY: ClassVar[int]
    FLOW_END: ClassVar[int]
    STORAGE_CONNECT: ClassVar[int]
    STORAGE_DISCONNECT: ClassVar[int]
    STORAGE_RETRIEVE: ClassVar[int]
    STORAGE_RETRIEVED: ClassVar[int]
    STORAGE_STORE: ClassVar[int]
    STORAGE_STORED: ClassVar[int]
    EDGE_COND_FALSE: ClassVar[int]
    FOREACH_RESULT: ClassVar[int]
    NODE_STATE_CACHE_GET: ClassVar[int]
    NODE_STATE_CACHE_ADD: ClassVar[int]
    NODE_STATE_CACHE_MISS: ClassVar[int]
    NODE_STATE_CACHE_HIT: ClassVar[int]
    TASK_RESULT_CACHE_GET: ClassVar[int]
    TASK_RESULT_CACHE_ADD: ClassVar[int]
    TASK_RESULT_CACHE_MISS: ClassVar[int]
    TASK_RESULT_CACHE_HIT: ClassVar[int]
    SELECTIVE_OMIT_EDGE: ClassVar[int]
    SELECTIVE_OMIT_NODE: ClassVar[int]
    SELECTIVE_RUN_FUNC: ClassVar[int]
    SELECTIVE_TASK_REUSE: ClassVar[int]
    STORAGE_STORE_ERROR: ClassVar[int]
    STORAGE_OMIT_STORE_ERROR: ClassVar[int]
    FALLBACK_COND_FALSE: ClassVar[int]
    FALLBACK_COND_TRUE: ClassVar[int]
    NODE_STATE_CACHE_ISSUE: ClassVar[int]
    TASK_RESULT_CACHE_ISSUE: ClassVar[int]
    STORAGE_ISSUE: ClassVar[int]
    RESULT_BACKEND_ISSUE: ClassVar[int]
    FLOW_RETRY: ClassVar[int]
    MIGRATION: ClassVar[int]
    MIGRATION_SKEW: ClassVar[int]
    MIGRATION_TAINTED_FLOW: ClassVar[int]
    MIGRATION_ERROR: ClassVar[int]
    EAGER_FAILURE: ClassVar[int]
    FLOW_SCHEDULE: ClassVar[int]
    STORAGE_DELETE: ClassVar[int]
    STORAGE_DELETED: ClassVar[int]
    TASK_PUBLISH: ClassVar[int]
    TASK_RECEIVED: ClassVar[int]
    TASK_IGNORED: ClassVar[int]
    TASK_REJECTED: ClassVar[int]
    TASK_REVOKED: ClassVar[int]
    TASK_UNKNOWN: ClassVar[int]

    # Trace.log(event, *msg_dicts, **kwargs) merges the dicts left to right,
    # then the kwargs, redacts, and calls each sink. It is swapped between
    # _log and _noop_log as sinks come and go (documented in docs/api.rst).
    # Both are stored bare, not wrapped in staticmethod: Trace is never
    # instantiated, so reading them through the class gives the function
    # itself, and CPython then caches the lookup at each call site
    # (LOAD_METHOD_CLASS). A metaclass would defeat that cache, which is why
    # ``enabled`` is a plain attribute and not a metaclass property.
    log: ClassVar[_LogFunction] = _noop_log

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
            ValueError: if ``sink`` is not callable, or the filter names an
                unknown event or level.

        .. versionadded:: 0.1.0
        """
        if not callable(sink):
            raise ValueError("a sink must be callable as sink(event, msg_dict), got %r" % (sink,))
        accepts = build_filter(events, min_level)
        with _registry.lock:
            taken = {entry.name for entry in _registry.entries}
            base = name or _sink_name(sink)
            unique, n = base, 1
            while unique in taken:
                n += 1
                unique = "%s#%d" % (base, n)
            _install(_registry.entries + (_Entry(sink, unique, accepts),))
        return sink

    @classmethod
    def remove_sink(cls, sink: Sink) -> bool:
        """Unregister a sink; returns whether it was registered.

        .. versionadded:: 0.1.0
        """
        with _registry.lock:
            kept = tuple(entry for entry in _registry.entries if entry.sink is not sink)
            found = len(kept) != len(_registry.entries)
            _install(kept)
        return found

    @classmethod
    def sinks(cls) -> list[Sink]:
        """Return the registered sinks, in call order.

        .. versionadded:: 0.1.0
        """
        return [entry.sink for entry in _registry.entries]

    @classmethod
    def trace_by_func(cls, func: _SinkT, *, events: EventFilter = None, min_level: str | None = None) -> _SinkT:
        """Register a function called as ``func(event, msg_dict)`` for every event.

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

        .. versionadded:: 0.1.0
        """
        from flowtrace.sinks.logging import LoggingSink

        return cls.add_sink(LoggingSink(logger), events=events, min_level=min_level)

    @classmethod
    def trace_by_json(cls, stream: str | os.PathLike[str] | int | IO[str] | IO[bytes] | None = None, *,
                      events: EventFilter = None, min_level: str | None = None,
                      max_line: int | None = None) -> JsonSink:
        """Write every event as one JSON line; see :class:`flowtrace.sinks.json.JsonSink`.

        Args:
            stream: a writable text or binary stream, a file descriptor or a
                path to append to; standard output by default.
            max_line: the longest line written, in bytes.

        .. versionadded:: 0.1.0
        """
        from flowtrace.sinks.json import JsonSink

        kwargs: dict[str, int] = {} if max_line is None else {"max_line": max_line}
        return cls.add_sink(JsonSink(stream, **kwargs), events=events, min_level=min_level)

    @classmethod
    def trace_by_structlog(cls, logger: Any = None, *, events: EventFilter = None,
                           min_level: str | None = None) -> StructlogSink:
        """Send every event to structlog; see :class:`flowtrace.sinks.structlog.StructlogSink`.

        Raises:
            flowtrace.MissingDependency: if structlog is not installed.

        .. versionadded:: 0.1.0
        """
        from flowtrace.sinks.structlog import StructlogSink

        return cls.add_sink(StructlogSink(logger), events=events, min_level=min_level)

    @classmethod
    def trace_by_sentry(cls, dsn: str | None = None, *, events: EventFilter = None, min_level: str | None = None,
                        **options: Any) -> SentrySink:
        """Send events to Sentry; see :class:`flowtrace.sinks.sentry.SentrySink`.

        Args:
            dsn: the DSN; ``{NAME}`` is replaced by the environment variable
                ``NAME``. ``None`` uses the client sentry-sdk already has.
            options: passed to ``sentry_sdk.init`` with the DSN.

        Raises:
            flowtrace.MissingDependency: if sentry-sdk is not installed.

        .. versionadded:: 0.1.0
        """
        from flowtrace.sinks.sentry import SentrySink

        return cls.add_sink(SentrySink(dsn, **options), events=events, min_level=min_level)

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

        Raises:
            ValueError: if ``tracer_provider`` is not a tracer provider.

        .. versionadded:: 0.1.0
        """
        from flowtrace.sinks.otel import OtelSink

        return cls.add_sink(OtelSink(tracer_provider), events=events, min_level=min_level)

    # --- configuration, stats, lifecycle -----------------------------------

    @classmethod
    def configure(cls, config: Sequence[Mapping[str, Any]] | Mapping[str, Any]) -> list[Sink]:
        """Register sinks from a Selinon-style ``global: trace:`` list.

        Args:
            config: the list itself, or a mapping holding it under ``trace``
                (as ``global`` does). See :mod:`flowtrace.config`.

        Returns:
            The sinks registered.

        Raises:
            ValueError: naming the entry that is wrong.

        .. versionadded:: 0.1.0
        """
        from flowtrace.config import apply_trace_config

        return apply_trace_config(cls, config)

    @classmethod
    def redact_keys(cls, *fragments: str) -> tuple[str, ...]:
        """Add key fragments whose values are replaced by ``'[redacted]'``; return the full list.

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

        .. versionadded:: 0.1.0
        """
        result: dict[str, dict[str, Any]] = {}
        for entry in _registry.entries:
            row: dict[str, Any] = {"errors": entry.failures.count, "dropped": 0,
                                   "last_error": entry.failures.last_error}
            inner = getattr(entry.sink, "failures", None)
            if isinstance(inner, FailureCounter) and inner.count:
                # A sink that catches its own failures (the JSON sink's writes,
                # the OpenTelemetry sink's span calls) counts them there.
                row["errors"] += inner.count
                row["last_error"] = inner.last_error
            own = getattr(entry.sink, "stats", None)
            if callable(own):
                try:
                    extra = own()
                except Exception as exc:
                    extra = {"stats_error": "%s: %s" % (type(exc).__name__, exc)}
                if isinstance(extra, dict):
                    row.update(extra)
            result[entry.name] = row
        if _emit_failures.count:
            result["Trace.log"] = {"errors": _emit_failures.count, "dropped": 0,
                                   "last_error": _emit_failures.last_error}
        return result

    @classmethod
    def flush(cls, timeout: float = 5.0) -> None:
        """Call ``flush(timeout)`` on every sink that has one.

        .. versionadded:: 0.1.0
        """
        for entry in _registry.entries:
            _call_optional(entry, "flush", timeout)

    @classmethod
    def reset(cls) -> None:
        """Close and remove every sink and restore the default redaction list; for tests.

        .. versionadded:: 0.1.0
        """
        global _emit_failures
        with _registry.lock:
            entries = _registry.entries
            _install(())
        _redact.reset()
        _emit_failures = FailureCounter("Trace.log")
        for entry in entries:
            _call_optional(entry, "close")


def _call_optional(entry: _Entry, method: str, *args: object) -> None:
    fn = getattr(entry.sink, method, None)
    if not callable(fn):
        return
    try:
        fn(*args)
    except TypeError:
        try:
            fn()
        except Exception as exc:
            entry.failures.record(method, exc)
    except Exception as exc:
        entry.failures.record(method, exc)


for _row in events.EVENTS:
    setattr(Trace, _row.name, _row.value)
del _row
