"""Instrumenting prefork children that were forked before ``instrument()`` ran.

A child inherits the signal receivers its parent had when it was forked, and
nothing later. When ``instrument()`` is called in the worker's main process
after the pool started (from ``worker_ready``, say), the children that
already run would never emit TASK_START or a terminal event: the same gap
that loses sentry-sdk's events when it is initialised late (sentry-python
#1512). The main process has no channel to its children except the jobs it
sends them, so it puts a token in each task's request dict. The pool pickles
the request to send it to a child, and unpickling the token there calls
:func:`activate`, which instruments the child before the task runs. Once a
child is instrumented, :func:`activate` is a dictionary check.

Sinks are not carried over: register them before the pool forks (at import
of the app module) or in ``worker_process_init``.
"""

from __future__ import annotations

from collections.abc import Callable

from flowtrace.celery import _registry

#: The request dict key that carries the token.
KEY = "flowtrace_activate"


class _Token(int):
    """Unpickles as a call to :func:`activate` in the receiving process.

    It is the int 1 to anything else: Celery copies the request's custom keys
    into the headers of a retry it sends from the main process
    (``retry_on_worker_lost``), and there it must serialise like any header.
    """

    include_args: bool

    def __new__(cls, include_args: bool) -> _Token:
        token = super().__new__(cls, 1)
        token.include_args = include_args
        return token

    def __reduce__(self) -> tuple[Callable[[bool], bool], tuple[bool]]:
        return activate, (self.include_args,)


_TOKENS = {False: _Token(False), True: _Token(True)}


def token(options: _registry.Options) -> _Token:
    """The token for an app instrumented with ``options``."""
    return _TOKENS[bool(options.include_args)]


def activate(include_args: bool) -> bool:
    """Instrument this pool child's app if nothing is instrumented here yet; never raises."""
    try:
        if not _registry.apps:
            from celery import current_app

            from flowtrace.celery import instrument

            # A pool child's current app is the worker's app (Celery's
            # process_initializer sets it before the child takes jobs).
            instrument(current_app._get_current_object(), include_args=include_args)
    except Exception as exc:  # a failure here would fail the job's unpickling
        _registry.failures.record("activation of a pool child", exc)
    return True
