"""Flows in Selinon's YAML format: loading, checking and drawing them.

- :func:`flowtrace.load_flows` reads and checks YAML files and folders and returns a
  :class:`~flowtrace.flow.config.FlowConfig` (the data model, in
  :mod:`flowtrace.flow.config`).
- :mod:`flowtrace.flow.check` finds every problem, as ``file:line: message``.
- :mod:`flowtrace.flow.predicates` holds the built-in predicates and evaluates
  edge conditions.
- :mod:`flowtrace.flow.plot` draws flows as Graphviz DOT.
- :func:`register` puts a loaded configuration on a Celery app.
"""

from __future__ import annotations

from flowtrace.flow.config import FlowConfig, FlowConfigError, Problem, load_flows

__all__ = ["load_flows", "register", "FlowConfig", "FlowConfigError", "Problem", "APP_SETTING"]

#: The ``app.conf`` key that :func:`register` stores the configuration under.
APP_SETTING = "flowtrace_flows"


def register(app, config: FlowConfig) -> FlowConfig:
    """Make ``config`` the flow configuration of a Celery app.

    Applies ``global: trace`` with :meth:`flowtrace.Trace.configure` and
    stores the configuration as ``app.conf.flowtrace_flows``. Registering the
    same configuration again changes nothing; the dispatcher task and the
    flow tasks will be registered here too.

    Args:
        app: the :class:`celery.Celery` app.
        config: what :func:`flowtrace.load_flows` returned.

    Returns:
        ``config``.

    Raises:
        ValueError: if the app already has a different flow configuration,
            or a trace sink cannot be built (a JSON ``path`` that cannot be
            opened, for instance).

    .. versionadded:: 0.1.0
    """
    from flowtrace.trace import Trace

    current = app.conf.get(APP_SETTING)
    if current is not None:
        if current == config:
            return config
        raise ValueError("app %r already has a flow configuration (from %s); load every file in one "
                         "load_flows() call" % (app.main, ", ".join(current.files) or "no file"))
    if config.settings.trace:
        Trace.configure(list(config.settings.trace))
    app.conf[APP_SETTING] = config
    # The dispatcher task and one Celery task per flow task are registered
    # here once flowtrace/flow/dispatcher.py exists.
    return config
