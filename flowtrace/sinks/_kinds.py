"""The kinds of built-in sink: for each, its factory and the options its ``global: trace:`` entry takes.

:data:`KINDS` is the one table behind :meth:`flowtrace.Trace.configure`,
the ``Trace.trace_by_*`` methods and ``flowtrace check``. A sink's module is
imported the first time its kind is used: several need a package that is
installed only with their extra.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from flowtrace import _deps
from flowtrace._filter import build_filter

if TYPE_CHECKING:
    from flowtrace.sinks.json import JsonSink
    from flowtrace.sinks.logging import LoggingSink
    from flowtrace.sinks.otel import OtelSink
    from flowtrace.sinks.sentry import SentrySink
    from flowtrace.sinks.structlog import StructlogSink

_S = TypeVar("_S")


def _as_given(options: dict[str, Any]) -> dict[str, Any]:
    return options


@dataclass(frozen=True)
class Kind(Generic[_S]):
    """One kind of sink.

    Attributes:
        name: the key of its ``global: trace:`` entry.
        factory: returns what makes the sink (its class), importing its module.
        options: the keys its entry may have besides ``events`` and
            ``min_level``; None for any key.
        build: makes the sink of an entry from the entry's options (without
            the filters).
        check: checks an entry's options without acting on the world; returns
            the options the sink may be built with to check the rest, or None
            when it has checked them all. Raises ValueError or
            :exc:`~flowtrace.MissingDependency` naming what is wrong.
        build_last: whether :meth:`flowtrace.Trace.configure` builds it after
            every other entry, as building it changes the process.
    """

    name: str
    factory: Callable[[], Callable[..., _S]]
    options: tuple[str, ...] | None
    build: Callable[[dict[str, Any]], _S]
    check: Callable[[dict[str, Any]], dict[str, Any] | None] = _as_given
    build_last: bool = False


# --- logging ------------------------------------------------------------------


def _logging_sink() -> type[LoggingSink]:
    from flowtrace.sinks.logging import LoggingSink

    return LoggingSink


def _build_logging(options: dict[str, Any]) -> LoggingSink:
    return _logging_sink()(options.get("logger"))


# --- json ----------------------------------------------------------------------


def _json_sink() -> type[JsonSink]:
    from flowtrace.sinks.json import JsonSink

    return JsonSink


def _build_json(options: dict[str, Any]) -> JsonSink:
    limit = {"max_line": options["max_line"]} if "max_line" in options else {}
    return _json_sink()(options.get("path"), **limit)


def _check_json(options: dict[str, Any]) -> dict[str, Any]:
    # A sink with a path opens, and creates, the file: the path is checked here
    # and the sink is built without it.
    if "path" not in options:
        return options
    path = options["path"]
    if not isinstance(path, str) or not path:
        raise ValueError("'path' must be a non-empty string, got %r" % (path,))
    return {key: option for key, option in options.items() if key != "path"}


# --- structlog -----------------------------------------------------------------


def _structlog_sink() -> type[StructlogSink]:
    from flowtrace.sinks.structlog import StructlogSink

    return StructlogSink


def _build_structlog(options: dict[str, Any]) -> StructlogSink:
    return _structlog_sink()()


# --- sentry --------------------------------------------------------------------


def _sentry_sink() -> type[SentrySink]:
    from flowtrace.sinks.sentry import SentrySink

    return SentrySink


def _build_sentry(options: dict[str, Any]) -> SentrySink:
    if "dsn" not in options:
        raise ValueError("a 'dsn' is required")
    init_options = dict(options)
    return _sentry_sink()(init_options.pop("dsn"), **init_options)


def _check_sentry(options: dict[str, Any]) -> None:
    # Building the sink would call sentry_sdk.init, which replaces the
    # process's Sentry client: everything is checked here instead.
    _deps.require("sentry_sdk", "sentry", "trace_by_sentry")
    dsn = options.get("dsn")
    if not isinstance(dsn, str):
        raise ValueError("a 'dsn' string is required, got %r" % (dsn,))
    build_filter(options.get("events"), options.get("min_level"))
    return None


# --- otel ------------------------------------------------------------------------


def _otel_sink() -> type[OtelSink]:
    from flowtrace.sinks.otel import OtelSink

    return OtelSink


def _build_otel(options: dict[str, Any]) -> OtelSink:
    return _otel_sink()()


# --- function --------------------------------------------------------------------


def _function_importer() -> Callable[[str, str], Callable[..., Any]]:
    from flowtrace.sinks.function import import_function

    return import_function


def _build_function(options: dict[str, Any]) -> Callable[..., Any]:
    missing = [key for key in ("import", "name") if key not in options]
    if missing:
        raise ValueError("missing %s" % " and ".join(repr(m) for m in missing))
    return _function_importer()(options["import"], options["name"])


LOGGING = Kind("logging", _logging_sink, ("logger",), _build_logging)
JSON = Kind("json", _json_sink, ("path", "max_line"), _build_json, _check_json)
STRUCTLOG = Kind("structlog", _structlog_sink, (), _build_structlog)
# Any sentry_sdk.init option. Built last: sentry_sdk.init replaces the
# process's Sentry client, which must not happen for a configuration that
# another entry makes fail.
SENTRY = Kind("sentry", _sentry_sink, None, _build_sentry, _check_sentry, build_last=True)
OTEL = Kind("otel", _otel_sink, (), _build_otel)
FUNCTION = Kind("function", _function_importer, ("import", "name"), _build_function)

#: Every kind by its name, in the order error messages list them.
KINDS: dict[str, Kind[Any]] = {kind.name: kind for kind in (LOGGING, JSON, STRUCTLOG, SENTRY, OTEL, FUNCTION)}
