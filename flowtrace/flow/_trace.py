"""Checking one ``global: trace`` entry as :meth:`flowtrace.Trace.configure` would, without side effects.

Building a sink is the only complete check of its options, so each entry is
built and the sink closed again, unless building it would act on the world:
each kind's options check (:data:`flowtrace.sinks._kinds.KINDS`) first
makes the entry harmless to build, or checks it whole itself. The real sinks
are only built by :meth:`flowtrace.Trace.configure`, when the flows are
registered on an app.
"""

from __future__ import annotations

import re
from typing import Optional

from flowtrace.errors import MissingDependency
from flowtrace.sinks._config import parse_trace_config
from flowtrace.sinks._kinds import KINDS

_PREFIX = re.compile(r"^global\.trace entry \d+")


def _label(index: int, kind) -> str:
    return "global.trace entry %d (%s)" % (index + 1, kind)


def _dry(index: int, entry):
    """Return ``(entry to build, problem)``: the entry made harmless to build, or a problem found without building."""
    if not (isinstance(entry, dict) and len(entry) == 1):
        return entry, None
    (kind, value), = entry.items()
    if kind not in KINDS or not isinstance(value, dict):
        return entry, None
    try:
        options = KINDS[kind].check(value)
    except (ValueError, MissingDependency) as exc:
        return None, "%s: %s" % (_label(index, kind), exc)
    if options is None:
        return None, None
    return {kind: options or True}, None


def problem(index: int, entry) -> Optional[str]:
    """Return what is wrong with trace entry number ``index`` (from 0), or None.

    The message names the entry as :meth:`flowtrace.Trace.configure` does:
    ``global.trace entry 2 (json): ...``.
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
