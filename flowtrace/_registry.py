"""The registered sinks: their names, filters and failure counts, and which sinks each event reaches.

The one place where flowtrace keeps global state. :class:`flowtrace.Trace`
changes it under :data:`lock`; :func:`install` then rebuilds the routes that
:func:`flowtrace._emit.log` reads without locking.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from flowtrace import _emit, _enrich, events
from flowtrace._report import FailureCounter

if TYPE_CHECKING:
    from flowtrace._emit import LogFunction, Route
    from flowtrace.sinks import Sink


class Entry:
    """One registered sink, its filter, its failure counter and what it asks of :meth:`flowtrace.Trace.log`."""

    __slots__ = ("sink", "name", "accepts", "failures", "gate", "enrich_parts", "enriched")

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
        self.enrich_parts = _enrich.parts_of(sink)
        self.enriched = bool(self.enrich_parts)


#: Taken by every change to :data:`entries`.
lock = threading.Lock()

#: The registered sinks, in call order. Read without locking; replaced whole.
entries: tuple[Entry, ...] = ()


def _route(accepting: Iterable[Entry]) -> Route:
    accepted = tuple(accepting)
    parts = 0
    for entry in accepted:
        parts |= entry.enrich_parts
    return accepted, any(entry.gate is not None for entry in accepted), _enrich.maker(parts) if parts else None


def install(new_entries: tuple[Entry, ...]) -> LogFunction:
    """Make ``new_entries`` the registered sinks and return what :meth:`flowtrace.Trace.log` is now.

    The caller holds :data:`lock`.
    """
    global entries
    routes: dict[int | None, Route] = {
        value: _route(e for e in new_entries if e.accepts is None or value in e.accepts) for value in events.BY_VALUE}
    routes[None] = _route(e for e in new_entries if e.accepts is None)
    _emit.routes = routes
    entries = new_entries
    return _emit.log if new_entries else _emit.noop_log


def unique_name(sink: object, name: str | None) -> str:
    """Return the name to register ``sink`` under: ``name`` or the sink's own, numbered if it is taken.

    The caller holds :data:`lock`.
    """
    taken = {entry.name for entry in entries}
    base = name or _sink_name(sink)
    unique, n = base, 1
    while unique in taken:
        n += 1
        unique = "%s#%d" % (base, n)
    return unique


def _sink_name(sink: object) -> str:
    name = getattr(sink, "name", None)
    if isinstance(name, str) and name:
        return name
    name = getattr(sink, "__qualname__", None) or type(sink).__name__
    module = getattr(sink, "__module__", None)
    return "%s.%s" % (module, name) if module else name


def stats() -> dict[str, dict[str, Any]]:
    """Return, per sink name, its ``errors``, ``dropped`` and ``last_error``; see :meth:`flowtrace.Trace.stats`."""
    result: dict[str, dict[str, Any]] = {}
    for entry in entries:
        row: dict[str, Any] = {"errors": entry.failures.count, "dropped": 0, "last_error": entry.failures.last_error}
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
    emit_failures = _emit.failures
    if emit_failures.count:
        result["Trace.log"] = {"errors": emit_failures.count, "dropped": 0, "last_error": emit_failures.last_error}
    return result


def call_optional(entry: Entry, method: str, *args: object) -> None:
    """Call ``entry``'s sink's ``method`` if it has one (without ``args`` if it takes none), counting a failure."""
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
