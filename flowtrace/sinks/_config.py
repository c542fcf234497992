"""Sinks from configuration: Selinon's ``global: trace:`` list, behind :meth:`flowtrace.Trace.configure`.

.. code-block:: yaml

    global:
      trace:
        - logging: true                 # or {logger: myapp.trace, min_level: warning}
        - json: true                    # or {path: /var/log/flow.jsonl}
        - structlog: true
        - sentry: {dsn: "{SENTRY_DSN}"}
        - otel: true                    # spans through the global TracerProvider
        - function: {import: myapp.tracing, name: on_event}

Every entry is checked, and every sink built, before any sink is registered,
so a bad entry leaves the registry as it was. What each kind takes is in
:data:`flowtrace.sinks._kinds.KINDS`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from flowtrace._filter import build_filter
from flowtrace.sinks._kinds import KINDS

if TYPE_CHECKING:
    from typing import TypeAlias

    from flowtrace.sinks import Sink

    # A sink and the filter keyword arguments (``events``, ``min_level``) to register it with.
    BuiltSink: TypeAlias = tuple[Sink, dict[str, Any]]

#: What ``global: trace:`` may be: the list itself, or Selinon's whole
#: ``global`` section holding it under ``trace``.
TraceConfig = Sequence[Mapping[str, Any]] | Mapping[str, Any]

_FILTER_KEYS = ("events", "min_level")


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
        allowed = KINDS[kind].options
        if allowed is not None:
            unknown = sorted(set(value) - set(allowed) - set(_FILTER_KEYS))
            if unknown:
                expected = ", ".join(allowed + _FILTER_KEYS)
                raise _entry_error(index, kind, "unknown option %s; expected %s" % (", ".join(map(repr, unknown)), expected))
        return dict(value)
    # The type, not the value: a misplaced DSN or password must not reach the message.
    raise _entry_error(index, kind, "expected true, false or a mapping of options, got %s" % _kind_of(value))


def _build(index: int, kind: str, options: dict[str, Any]) -> BuiltSink:
    filters = {key: options.pop(key) for key in _FILTER_KEYS if key in options}
    try:
        build_filter(filters.get("events"), filters.get("min_level"))
        sink: Sink = KINDS[kind].build(options)
    except ImportError as exc:  # MissingDependency names the extra to install
        raise _entry_error(index, kind, str(exc)) from None
    except (ValueError, TypeError, OSError) as exc:
        raise _entry_error(index, kind, str(exc)) from None
    return sink, filters


def parse_trace_config(config: TraceConfig) -> list[BuiltSink]:
    """Check a ``trace`` list and build its sinks without registering them.

    Args:
        config: the list, or a mapping holding it under ``trace`` (Selinon's
            ``global`` section, whose other keys are left to the flow loader).

    Returns:
        A list of ``(sink, filter_kwargs)`` pairs, in the order of the entries.

    Raises:
        ValueError: naming the first entry that is wrong.
    """
    if isinstance(config, Mapping):
        config = config.get("trace") or []
    if isinstance(config, (str, bytes)) or not isinstance(config, (list, tuple)):
        raise ValueError("global.trace must be a list of sink entries, got %s" % type(config).__name__)
    entries: list[tuple[int, str, dict[str, Any]]] = []
    for index, entry in enumerate(config):
        if not isinstance(entry, Mapping) or len(entry) != 1:
            raise _entry_error(index, None, "expected a mapping with one key (one of %s), got %s"
                               % (", ".join(KINDS), _kind_of(entry)))
        (kind, value), = entry.items()
        if kind not in KINDS:
            raise _entry_error(index, None, "unknown sink %r; expected one of %s" % (kind, ", ".join(KINDS)))
        if value is False or value is None:
            continue
        entries.append((index, kind, _options(index, kind, value)))
    order = sorted(range(len(entries)), key=lambda i: KINDS[entries[i][1]].build_last)
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
