"""Which Celery apps are instrumented, with their options: the integration's global state.

Celery's signals are global (one receiver list per signal, for every app in
the process), so the receivers are connected once, while at least one app is
instrumented, and each receiver looks the app up here.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, NamedTuple, Optional

from flowtrace._report import FailureCounter


class Options(NamedTuple):
    """What :func:`flowtrace.instrument` was asked for, per app.

    ``implicit``: the app was instrumented by :func:`flowtrace.load_flows`, not
    by the user, whose own later ``instrument()`` call sets the options.
    """

    include_args: bool
    implicit: bool = False


#: app -> Options. Replaced whole on change, so receivers read it without a lock.
apps: dict[Any, Options] = {}

#: Whether any instrumented app opted in to arguments. The publish hook cannot
#: tell which app sends a message (Celery's publish signal carries only the
#: task name), so it follows this flag.
publish_args = False

#: Set when instrument() ran in a process that had already forked its pool
#: children: the worker's main process then asks each child to instrument
#: itself (see flowtrace.celery._instrument).
late = False

#: The request dict key under which the worker's main process hands a pool
#: child the token that instruments it.
ACTIVATE_KEY = "flowtrace_activate"

#: While :data:`late`: the function that returns that token for an app's
#: :class:`Options`. It comes from flowtrace.celery._instrument (through
#: :func:`set_late`), where the token's type lives, next to instrument(), which
#: unpickling the token calls.
late_token: Optional[Callable[[Options], Any]] = None

lock = threading.Lock()

#: Failures of flowtrace's own hooks: counted and logged, never raised into Celery.
failures = FailureCounter("celery integration")


def options_for(app: Any) -> Options | None:
    """Return the :class:`Options` of ``app``, or None when it is not instrumented."""
    return apps.get(app)


def set_apps(new: dict[Any, Options]) -> None:
    """Replace the registry and the flags derived from it (callers hold :data:`lock`)."""
    global apps, publish_args, late, late_token
    apps = new
    publish_args = any(options.include_args for options in new.values())
    if not new:
        late = False
        late_token = None


def set_late(token: Callable[[Options], Any]) -> None:
    """Remember that pool children were forked before instrument() ran, and how to make their token."""
    global late, late_token
    late_token = token
    late = True
