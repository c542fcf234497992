"""Starting a flow: :func:`run_flow`, and the path to some of its tasks: :func:`run_flow_selective`."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any, Sequence, Union

from flowtrace.flow import _msg, _runtime, _start
from flowtrace.trace import Trace

if TYPE_CHECKING:
    from celery import Celery
    from celery.result import AsyncResult

    from flowtrace.flow.model import Flow

__all__ = ["run_flow", "run_flow_selective"]


def run_flow(app: Celery, flow_name: str, node_args: Any = None, **options: Any) -> AsyncResult:
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
        **options: Celery's send options for the dispatcher's first message:
            ``queue`` (a string; the flow's queue by default), ``countdown``
            (seconds) or ``eta`` (a :class:`~datetime.datetime`), ``priority``
            (0 to 255), ``link`` and ``link_error`` (a signature or a list of
            them, called with the flow's result, or on its failure). Later
            wake-ups go to the flow's own queue.

    Returns:
        The dispatcher's :class:`celery.result.AsyncResult`; its id is the
        ``dispatcher_id`` of every event of the flow.

    Raises:
        flowtrace.errors.UnknownFlowError: if the app has no flow of that
            name (a :class:`ValueError`).
        ValueError: if the app has no flows, or no result backend, or a send
            option has a value out of range.
        TypeError: if a send option is unknown or of the wrong type.
        flowtrace.errors.ConfigurationError: under ``task_always_eager``
            without ``task_store_eager_result`` (a :class:`ValueError`).

    .. versionadded:: 0.1.0
    """
    flow, checked = _start.startable(app, flow_name, options)
    return _send(app, flow_name, node_args, None, flow, checked)


def run_flow_selective(app: Celery, flow_name: str, task_names: Union[str, Sequence[str]], node_args: Any = None,
                       follow_subflows: bool = False, run_subsequent: Union[bool, Sequence[str]] = False,
                       **options: Any) -> AsyncResult:
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
        **options: Celery's send options, as for :func:`run_flow`.

    Returns:
        The dispatcher's :class:`celery.result.AsyncResult`, as :func:`run_flow` returns.

    Raises:
        flowtrace.errors.SelectiveNoPathError: if no path leads to one of the
            tasks (a :class:`ValueError`); nothing is sent.
        flowtrace.errors.UnknownFlowError: if the app has no flow of that name.
        ValueError: if the app has no flows, or no result backend, or a send
            option has a value out of range.
        TypeError: if a send option is unknown or of the wrong type.

    .. versionadded:: 0.1.0
    """
    from flowtrace.flow import _selective

    flow, checked = _start.startable(app, flow_name, options)
    selective = _selective.compute(_runtime.config_of(app), flow_name, task_names, follow_subflows, run_subsequent)
    return _send(app, flow_name, node_args, selective, flow, checked)


def _send(app: Celery, flow_name: str, node_args: Any, selective: Any, flow: Flow, options: dict) -> AsyncResult:
    """Emit FLOW_SCHEDULE and send the dispatcher's first message; ``selective`` is None for a whole run."""
    from flowtrace.flow.dispatcher import send_dispatcher

    queue = options.pop("queue", flow.queue)
    dispatcher_id = str(uuid.uuid4())
    # Emitted before the message is sent, so that the log reads in causal order.
    Trace.log(Trace.FLOW_SCHEDULE, _msg.flow(flow_name, dispatcher_id, node_args, queue, selective or False))
    return send_dispatcher(app, flow_name, dispatcher_id, node_args, None, queue, selective=selective, **options)
