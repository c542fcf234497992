"""What :func:`~flowtrace.celery.instrument` does: receivers on Celery's signals, in every process of the worker.

The receivers are plain functions connected once for all apps (Celery's
signals are global), with ``weak=False`` and a ``dispatch_uid`` so that
connecting them again is a no-op; which hook observes which state, and why,
is documented in ``docs/celery.rst``.

A prefork child inherits the signal receivers its parent had when it was
forked, and nothing later. When ``instrument()`` is called in the worker's
main process after the pool started (from ``worker_ready``, say), the children
that already run would never emit TASK_START or a terminal event: the same
gap that loses sentry-sdk's events when it is initialised late (sentry-python
#1512). The main process has no channel to its children except the jobs it
sends them, so it puts a token in each task's request dict
(:data:`~flowtrace.celery._registry.ACTIVATE_KEY`). The pool pickles the
request to send it to a child, and unpickling the token there calls
:func:`activate`, which instruments the child before the task runs. Once a
child is instrumented, :func:`activate` is a dictionary check.

Sinks are not carried over: register them before the pool forks (at import
of the app module) or in ``worker_process_init``.
"""

from __future__ import annotations

from collections.abc import Callable

from celery import Celery, signals

from flowtrace.celery import _execute, _main, _order, _patches, _publish, _registry

_RECEIVERS = (
    (signals.before_task_publish, _publish.on_before_publish, "publish"),
    (signals.task_received, _main.on_received, "received"),
    (signals.task_prerun, _execute.on_prerun, "prerun"),
    (signals.task_postrun, _execute.on_postrun, "postrun"),
    (signals.task_failure, _execute.on_failure, "failure"),
    (signals.task_retry, _execute.on_retry, "retry"),
    (signals.task_internal_error, _execute.on_internal_error, "internal_error"),
    (signals.task_revoked, _main.on_revoked, "revoked"),
    (signals.task_unknown, _main.on_unknown, "unknown"),
    (signals.task_rejected, _main.on_rejected, "rejected"),
    (signals.worker_process_shutdown, _execute.on_process_shutdown, "process_shutdown"),
    (signals.worker_shutdown, _execute.on_process_shutdown, "worker_shutdown"),
)


def _uid(name: str) -> str:
    return "flowtrace.celery." + name


def _app_object(app: object) -> Celery:
    # celery.current_app is a proxy; the signals' senders hold the real app.
    getter = getattr(app, "_get_current_object", None)
    if callable(getter):
        app = getter()
    if not isinstance(app, Celery):
        raise ValueError("instrument() needs a celery.Celery app, got %r" % (app,))
    return app


def instrument(app: Celery, *, include_args: bool = False) -> None:
    """Emit lifecycle events for every task of a Celery app.

    In the producer, each task message gets TASK_PUBLISH. In the worker, the
    main process emits TASK_RECEIVED, and the process that runs the task emits
    TASK_START and then exactly one of TASK_END, TASK_RETRY, TASK_FAILURE,
    TASK_IGNORED or TASK_REJECTED. Tasks that never run are reported by the
    main process (TASK_REVOKED, TASK_UNKNOWN, TASK_REJECTED), and so are
    attempts whose process died or hit its hard time limit.

    It may be called at any time: before the worker starts, from a worker
    signal once it runs, inside a prefork child (``worker_process_init``); the
    hooks keep working across broker reconnects. Pool children forked before
    the call are instrumented when they receive their next task. Calling it
    again for the same app changes nothing.

    :func:`flowtrace.load_flows` with an ``app`` calls it for you, with the
    defaults; your own call, before or after that one, sets the options.

    Events go to the sinks registered in each process (``Trace.trace_by_*``).
    Register them before the worker forks its pool, or in each child.

    Args:
        app: the :class:`celery.Celery` app (``current_app`` is accepted).
        include_args: put the task's ``args`` and ``kwargs`` in TASK_PUBLISH
            and TASK_START. A caller's ``argsrepr``/``kwargsrepr`` is used
            when one was given; otherwise the values, whose secret keys are
            redacted like any msg dict.

    Raises:
        ValueError: if ``app`` is not a Celery app, ``include_args`` is not a
            bool, or the app is already instrumented with other options.

    .. versionadded:: 0.1.0
    """
    app = _app_object(app)
    if not isinstance(include_args, bool):
        raise ValueError("include_args must be True or False, got %r" % (include_args,))
    _instrument(app, _registry.Options(include_args=include_args))


def ensure_instrumented(app: Celery) -> None:
    """Instrument ``app`` with :func:`instrument`'s defaults, unless it already is; what :func:`flowtrace.load_flows` does.

    An :func:`instrument` call, before or after this one, still decides the
    options: this never overrides them, and they replace its defaults
    without the ``ValueError`` that conflicting options raise.

    Args:
        app: the :class:`celery.Celery` app.

    Raises:
        ValueError: if ``app`` is not a Celery app.

    .. versionadded:: 0.1.0
    """
    _instrument(_app_object(app), _registry.Options(include_args=False, implicit=True))


def _instrument(app: Celery, options: _registry.Options) -> None:
    with _registry.lock:
        current = _registry.apps.get(app)
        if current is not None:
            if current == options or options.implicit:
                return
            if not current.implicit:
                raise ValueError("%r is already instrumented with include_args=%r; call uninstrument() first"
                                 % (app, current.include_args))
            # The user's call after load_flows(app=...): their options replace the defaults.
            _registry.set_apps({**_registry.apps, app: options})
            if _pool_forked():
                _registry.set_late(token)
            return
        if not _registry.apps:
            for signal, receiver, name in _RECEIVERS:
                signal.connect(receiver, weak=False, dispatch_uid=_uid(name))
            _patches.patch_worker()
        _registry.set_apps({**_registry.apps, app: options})
        _order.check()
        if _pool_forked():
            _registry.set_late(token)


def uninstrument(app: Celery) -> bool:
    """Stop emitting events for a Celery app instrumented by :func:`instrument`.

    When no instrumented app is left, the signal receivers are disconnected.
    This acts in the calling process only: pool children forked while the app
    was instrumented keep their hooks until they exit.

    Args:
        app: the app given to :func:`instrument`.

    Returns:
        Whether the app was instrumented.

    .. versionadded:: 0.1.0
    """
    app = _app_object(app)
    with _registry.lock:
        if app not in _registry.apps:
            return False
        remaining = {key: value for key, value in _registry.apps.items() if key is not app}
        _registry.set_apps(remaining)
        if not remaining:
            for signal, receiver, name in _RECEIVERS:
                signal.disconnect(receiver, dispatch_uid=_uid(name))
            _patches.unpatch_worker()
            _order.reset()
    return True


def is_instrumented(app: Celery) -> bool:
    """Return whether :func:`instrument` is in effect for ``app`` in this process.

    Args:
        app: a :class:`celery.Celery` app (``current_app`` is accepted).

    Returns:
        Whether it is instrumented here.

    Raises:
        ValueError: if ``app`` is not a Celery app.

    .. versionadded:: 0.1.0
    """
    return _app_object(app) in _registry.apps


def _pool_forked() -> bool:
    # Only billiard's children count: they are the prefork pool's processes.
    try:
        from billiard.process import active_children

        return bool(active_children())
    except Exception:
        return False


# --- pool children forked before instrument() -----------------------------------


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
    """The token for an app instrumented with ``options``: what the main process puts in each request."""
    return _TOKENS[bool(options.include_args)]


def activate(include_args: bool) -> bool:
    """Instrument this pool child's app unless the user instrumented something here already; never raises."""
    try:
        if all(options.implicit for options in _registry.apps.values()):
            from celery import current_app

            # A pool child's current app is the worker's app (Celery's
            # process_initializer sets it before the child takes jobs).
            instrument(current_app._get_current_object(), include_args=include_args)
    except Exception as exc:  # a failure here would fail the job's unpickling
        _registry.failures.record("activation of a pool child", exc)
    return True
