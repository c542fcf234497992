"""Putting a loaded flow configuration on a Celery app: :func:`register`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flowtrace.flow import _runtime
from flowtrace.sinks.storage import StorageSink
from flowtrace.trace import Trace

if TYPE_CHECKING:
    from celery import Celery

    from flowtrace.flow.model import FlowConfig

#: The ``app.conf`` key that, set to False, keeps :func:`register` from instrumenting the app.
INSTRUMENT_SETTING = "flowtrace_instrument"


def register(app: Celery, config: FlowConfig) -> FlowConfig:
    """Make ``config`` the flow configuration of a Celery app.

    Applies ``global: trace`` with :meth:`flowtrace.Trace.configure`, and
    registers a :class:`~flowtrace.sinks.storage.StorageSink` for each of
    its ``storage`` entries (named ``storage:NAME.METHOD`` in
    :meth:`flowtrace.Trace.stats`), stores
    the configuration as ``app.conf.flowtrace_flows``, and registers the
    dispatcher task (``flowtrace.dispatcher``) and one Celery task per flow
    task, named as the task. Workers of the app also get the
    ``flowtrace_wakeup`` remote-control command, through which a node that
    ends wakes its dispatcher at once. The app is instrumented
    (:func:`flowtrace.instrument`, with its defaults unless the app's own
    call sets others), so that the flow's tasks emit their task events;
    setting ``app.conf.flowtrace_instrument = False`` before leaves that to
    the user. Registering the same configuration again changes nothing.

    Args:
        app: the :class:`celery.Celery` app.
        config: what :func:`flowtrace.load_flows` returned.

    Returns:
        ``config``.

    Raises:
        ValueError: if the app already has a different flow configuration,
            a flow task's name is taken by another task of the app, or a
            trace sink cannot be built (a JSON ``path`` that cannot be
            opened, for instance), or a trace storage's class has not the method named.

    .. versionadded:: 0.1.0
    """
    current = app.conf.get(_runtime.APP_SETTING)
    if current is not None:
        if current == config:
            return config
        raise ValueError("app %r already has a flow configuration (from %s); load every file in one "
                         "load_flows() call" % (app.main, ", ".join(current.files) or "no file"))
    # Imported here, as they import Celery: loading and checking flows does without it.
    from flowtrace.flow import _nudge, _runner
    # Registers FlowSignature's type with Celery: a chain's next step that a worker reads is a flow again.
    from flowtrace.flow import canvas  # noqa: F401
    from flowtrace.flow.dispatcher import Dispatcher

    taken = [name for name in (_runtime.DISPATCHER_NAME,) + tuple(config.tasks) if name in app.tasks]
    if taken:
        raise ValueError("app %r already has a task named %s; flow tasks are registered under their names"
                         % (app.main, ", ".join(map(repr, taken))))
    storage_sinks = _storage_sinks(config)  # built first: a wrong entry registers no sink
    if config.settings.trace:
        Trace.configure(list(config.settings.trace))
    for sink in storage_sinks:
        Trace.add_sink(sink, name=sink.name)
    app.conf[_runtime.APP_SETTING] = config
    app.register_task(type("Dispatcher", (Dispatcher,), {"__module__": Dispatcher.__module__})())
    for entry in config.tasks.values():
        _runner.make_task(app, entry)
    _nudge.connect()
    if app.conf.get(INSTRUMENT_SETTING, True):
        # The Celery integration's public face, never its internals (docs/internals.rst).
        from flowtrace.celery import ensure_instrumented

        ensure_instrumented(app)
    return config


def _storage_sinks(config: FlowConfig) -> list[StorageSink]:
    """A sink for each ``global: trace`` entry ``storage``, on the storage's adapter class and configuration."""
    sinks = []
    for entry in config.settings.trace_storages:
        storage = config.storages[entry.storage]
        sinks.append(StorageSink(storage.load_class(), storage.configuration, entry.method, entry.storage))
    return sinks
