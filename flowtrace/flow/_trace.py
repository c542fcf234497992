"""Checking one ``global: trace`` entry with :func:`flowtrace.config.parse_trace_config`, without side effects.

Building a sink is the only complete check of its options, so each entry is
built and the sink closed again. Two sinks would act on the world while being
built: a JSON sink with a ``path`` opens (and creates) the file, and a Sentry
sink with a ``dsn`` initialises the Sentry client. For those, the entry is
checked without the path, and the Sentry options are checked here; the real
sinks are only built by :meth:`flowtrace.Trace.configure`, when the flows are
registered on an app.
"""

from __future__ import annotations

import re
from typing import Optional

from flowtrace import _deps
from flowtrace.config import parse_trace_config

_PREFIX = re.compile(r"^global\.trace entry \d+")


def _label(index: int, kind) -> str:
    return "global.trace entry %d (%s)" % (index + 1, kind)


def _dry(index: int, entry):
    """Return ``(entry to build, problem)``: the entry made harmless to build, or a problem found without building."""
    if not (isinstance(entry, dict) and len(entry) == 1):
        return entry, None
    (kind, value), = entry.items()
    if not isinstance(value, dict):
        return entry, None
    if kind == "json" and "path" in value:
        path = value["path"]
        if not isinstance(path, str) or not path:
            return None, "%s: 'path' must be a non-empty string, got %r" % (_label(index, kind), path)
        options = {key: option for key, option in value.items() if key != "path"}
        return {kind: options or True}, None
    if kind == "sentry":
        try:
            _deps.require("sentry_sdk", "sentry", "trace_by_sentry")
        except _deps.MissingDependency as exc:
            return None, "%s: %s" % (_label(index, kind), exc)
        dsn = value.get("dsn")
        if not isinstance(dsn, str):
            return None, "%s: a 'dsn' string is required, got %r" % (_label(index, kind), dsn)
        from flowtrace.trace import build_filter

        try:
            build_filter(value.get("events"), value.get("min_level"))
        except ValueError as exc:
            return None, "%s: %s" % (_label(index, kind), exc)
        return None, None
    return entry, None


def problem(index: int, entry) -> Optional[str]:
    """Return what is wrong with trace entry number ``index`` (from 0), or None.

    The message names the entry as :func:`~flowtrace.config.parse_trace_config`
    does: ``global.trace entry 2 (json): ...``.
    """
    entry, found = _dry(index, entry)
    if found is not None or entry is None:
        return found
    try:
        built = parse_trace_config([entry])
    except ValueError as exc:
        return _PREFIX.sub("global.trace entry %d" % (index + 1), str(exc), count=1)
    except Exception as exc:  # a sink whose constructor fails in a way parse_trace_config does not expect
        return "global.trace entry %d: %s: %s" % (index + 1, type(exc).__name__, exc)
    for sink, _ in built:
        close = getattr(sink, "close", None)
        if callable(close):
            close()
    return None
