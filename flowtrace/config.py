"""Sinks from configuration: Selinon's ``global: trace:`` list.

.. code-block:: yaml

    global:
      trace:
        - logging: true                 # or {logger: myapp.trace, min_level: warning}
        - json: true                    # or {path: /var/log/flow.jsonl}
        - structlog: true
        - sentry: {dsn: "{SENTRY_DSN}"}
        - otel: true                    # spans through the global TracerProvider
        - function: {import: myapp.tracing, name: on_event}

Every entry is checked before any sink is registered, so a bad entry leaves
the registry as it was.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from typing import TypeAlias

    from flowtrace.sinks import Sink
    from flowtrace.trace import Trace

    # A sink and the filter keyword arguments (``events``, ``min_level``) to register it with.
    BuiltSink: TypeAlias = tuple[Sink, dict[str, Any]]

_FILTER_KEYS = ("events", "min_level")
_KINDS: dict[str, tuple[str, ...] | None] = {
    "logging": ("logger",),
    "json": ("path", "max_line"),
    "structlog": (),
    "sentry": None,  # any sentry_sdk.init option
    "otel": (),
    "function": ("import", "name"),
}


def _kind_of(value: object) -> str:
    if isinstance(value, Mapping):
        return "a mapping with %d keys (%s)" % (len(value), ", ".join(sorted(map(str, value))))
    return "a %s" % type(value).__name__


def _entry_error(index: int, kind: str | None, problem: str) -> ValueError:
    label = "global.trace entry %d" % (index + 1)
    if kind:
        label += " (%s)" % kind
    return ValueError("%s: %s" % (label, problem))


def _options(index: int, kind: str, value: object) -> dict[str, Any]:
    if value is True:
        return {}
    if isinstance(value, Mapping):
        allowed = _KINDS[kind]
        if allowed is not None:
            unknown = sorted(set(value) - set(allowed) - set(_FILTER_KEYS))
            if unknown:
                expected = ", ".join(allowed + _FILTER_KEYS)
                raise _entry_error(index, kind, "unknown option %s; expected %s" % (", ".join(map(repr, unknown)), expected))
        return dict(value)
    # The type, not the value: a misplaced DSN or password must not reach the message.
    raise _entry_error(index, kind, "expected true, false or a mapping of options, got %s" % _kind_of(value))


def _build(index: int, kind: str, options: dict[str, Any]) -> BuiltSink:
    from flowtrace.trace import build_filter

    filters = {key: options.pop(key) for key in _FILTER_KEYS if key in options}
    sink: Sink
    try:
        build_filter(filters.get("events"), filters.get("min_level"))
        if kind == "logging":
            from flowtrace.sinks.logging import LoggingSink

            sink = LoggingSink(options.get("logger"))
        elif kind == "json":
            from flowtrace.sinks.json import DEFAULT_MAX_LINE, JsonSink

            sink = JsonSink(options.get("path"), max_line=options.get("max_line", DEFAULT_MAX_LINE))
        elif kind == "structlog":
            from flowtrace.sinks.structlog import StructlogSink

            sink = StructlogSink()
        elif kind == "otel":
            from flowtrace.sinks.otel import OtelSink

            sink = OtelSink()
        elif kind == "sentry":
            from flowtrace.sinks.sentry import SentrySink

            if "dsn" not in options:
                raise ValueError("a 'dsn' is required")
            sink = SentrySink(options.pop("dsn"), **options)
        else:
            from flowtrace.sinks.function import import_function

            missing = [key for key in ("import", "name") if key not in options]
            if missing:
                raise ValueError("missing %s" % " and ".join(repr(m) for m in missing))
            sink = import_function(options["import"], options["name"])
    except ImportError as exc:  # MissingDependency names the extra to install
        raise _entry_error(index, kind, str(exc)) from None
    except (ValueError, TypeError, OSError) as exc:
        raise _entry_error(index, kind, str(exc)) from None
    return sink, filters


def parse_trace_config(config: Sequence[Mapping[str, Any]] | Mapping[str, Any]) -> list[BuiltSink]:
    """Check a ``trace`` list and build its sinks without registering them.

    Returns:
        A list of ``(sink, filter_kwargs)`` pairs.

    Raises:
        ValueError: naming the first entry that is wrong.

    .. versionadded:: 0.1.0
    """
    if isinstance(config, Mapping):
        # Selinon's whole ``global`` section; its other keys belong to the flow loader.
        config = config.get("trace") or []
    if isinstance(config, (str, bytes)) or not isinstance(config, (list, tuple)):
        raise ValueError("global.trace must be a list of sink entries, got %s" % type(config).__name__)
    entries: list[tuple[int, str, dict[str, Any]]] = []
    for index, entry in enumerate(config):
        if not isinstance(entry, Mapping) or len(entry) != 1:
            raise _entry_error(index, None, "expected a mapping with one key (one of %s), got %s"
                               % (", ".join(_KINDS), _kind_of(entry)))
        (kind, value), = entry.items()
        if kind not in _KINDS:
            raise _entry_error(index, None, "unknown sink %r; expected one of %s" % (kind, ", ".join(_KINDS)))
        if value is False or value is None:
            continue
        entries.append((index, kind, _options(index, kind, value)))
    # Sentry sinks are built last: sentry_sdk.init replaces the process's
    # Sentry client, which must not happen for a configuration that another
    # entry makes fail.
    order = sorted(range(len(entries)), key=lambda i: entries[i][1] == "sentry")
    built: list[BuiltSink | None] = [None] * len(entries)
    try:
        for i in order:
            built[i] = _build(*entries[i])
    except ValueError:
        # Release what the valid entries opened (a JSON sink's file); nothing was registered.
        for pair in built:
            close = getattr(pair[0], "close", None) if pair is not None else None
            if callable(close):
                close()
        raise
    return cast("list[BuiltSink]", built)  # every entry is built by now


def apply_trace_config(trace_cls: type[Trace],
                       config: Sequence[Mapping[str, Any]] | Mapping[str, Any]) -> list[Sink]:
    """Build every sink of ``config`` and then register them all on ``trace_cls``."""
    built = parse_trace_config(config)
    return [trace_cls.add_sink(sink, **filters) for sink, filters in built]
