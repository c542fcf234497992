"""Starting a flow: :func:`run_flow`, and :func:`run_flow_selective` for the path to some of its tasks."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any, Sequence, Union

from flowtrace.errors import UnknownFlowError
from flowtrace.flow import _msg, _runtime
from flowtrace.trace import Trace

if TYPE_CHECKING:
    from celery import Celery
    from celery.result import AsyncResult

    from flowtrace.flow.model import FlowConfig

__all__ = ["run_flow", "run_flow_selective"]


def run_flow(app: Celery, flow_name: str, node_args: Any = None) -> AsyncResult:
    """Start the flow ``flow_name`` and return its dispatcher's :class:`~celery.result.AsyncResult`.

    The dispatcher's message is sent to the flow's queue, and ``FLOW_SCHEDULE``
    is emitted. The AsyncResult ends in ``SUCCESS`` when the flow ends, its
    result the flow's ``{"finished_nodes", "failed_nodes", "active_nodes"}``;
    and in ``FAILURE`` when it fails, its result a
    :exc:`~flowtrace.flow.dispatcher.FlowError` whose ``state`` is the flow's
    final state. Waiting on it (``.get()``) needs a result backend, which the
    dispatcher needs anyway to read the outcome of the flow's nodes.

    Args:
        app: the Celery app the flows were loaded on
            (``flowtrace.load_flows(..., app=app)``).
        flow_name: a flow of that configuration.
        node_args: the flow's arguments, handed to every task's ``run``; any
            JSON value.

    Returns:
        The dispatcher's :class:`celery.result.AsyncResult`; its id is the
        ``dispatcher_id`` of every event of the flow.

    Raises:
        flowtrace.errors.UnknownFlowError: if the app has no flow of that
            name (a :class:`ValueError`).
        ValueError: if the app has no flows, or no result backend.

    .. versionadded:: 0.1.0
    """
    _check(app, flow_name)
    return _send(app, flow_name, node_args, None)


def run_flow_selective(app: Celery, flow_name: str, task_names: Union[str, Sequence[str]], node_args: Any = None,
                       follow_subflows: bool = False, run_subsequent: Union[bool, Sequence[str]] = False
                       ) -> AsyncResult:
    """Run only the path to some tasks of the flow ``flow_name``, as Selinon's ``run_flow_selective`` does.

    The path is every edge that leads to a node the tasks need: the tasks,
    the ``from`` nodes of the edges into them, and so on back to the start.
    Only these edges fire, and they start only the nodes the path needs
    (``SELECTIVE_OMIT_EDGE`` and ``SELECTIVE_OMIT_NODE`` say what is left
    out). Before a task on the path that was not asked for starts, its
    ``selective_run_function`` is called (``SELECTIVE_RUN_FUNC``); when it
    returns the id of an earlier run of the task, that run's result is reused
    and the task does not run (``SELECTIVE_TASK_REUSE``). Every event of the
    run carries the selection in ``selective``.

    Args:
        app: the Celery app the flows were loaded on.
        flow_name: a flow of that configuration.
        task_names: the tasks to run (a name, or a list of names).
        node_args: the flow's arguments, as for :func:`run_flow`.
        follow_subflows: look for the tasks in the flow's sub-flows too, at
            any depth; a sub-flow on the path then runs only its own path.
            Without it, a sub-flow on the path runs whole.
        run_subsequent: also run what comes after the tasks: True in every
            flow of the run, or a list of the flows in which to do so.

    Returns:
        The dispatcher's :class:`celery.result.AsyncResult`, as :func:`run_flow` returns.

    Raises:
        flowtrace.errors.SelectiveNoPathError: if no path leads to one of the
            tasks (a :class:`ValueError`); nothing is sent.
        flowtrace.errors.UnknownFlowError: if the app has no flow of that name.
        ValueError: if the app has no flows, or no result backend.

    .. versionadded:: 0.1.0
    """
    from flowtrace.flow import _selective

    config = _check(app, flow_name)
    selective = _selective.compute(config, flow_name, task_names, follow_subflows, run_subsequent)
    return _send(app, flow_name, node_args, selective)


def _check(app: Celery, flow_name: str) -> FlowConfig:
    """The app's flow configuration, once it is known to have ``flow_name`` and a result backend."""
    config = _runtime.config_of(app)
    if flow_name not in config.flows:
        raise UnknownFlowError("there is no flow %r; the flows are %s" % (flow_name, ", ".join(config.flows) or "none"))
    if _no_backend(app):
        raise ValueError("flows need a Celery result backend: the dispatcher reads the state of each node there; "
                         "set result_backend on app %r" % (app.main,))
    return config


def _send(app: Celery, flow_name: str, node_args: Any, selective: Any) -> AsyncResult:
    """Emit FLOW_SCHEDULE and send the dispatcher's first message; ``selective`` is None for a whole run."""
    from flowtrace.flow.dispatcher import send_dispatcher

    queue = _runtime.config_of(app).flows[flow_name].queue
    dispatcher_id = str(uuid.uuid4())
    # Emitted before the message is sent, so that the log reads in causal order.
    Trace.log(Trace.FLOW_SCHEDULE, _msg.flow(flow_name, dispatcher_id, node_args, queue, selective or False))
    return send_dispatcher(app, flow_name, dispatcher_id, node_args, None, queue, selective=selective)


def _no_backend(app: Celery) -> bool:
    from celery.backends.base import DisabledBackend

    return isinstance(app.backend, DisabledBackend)
