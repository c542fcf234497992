"""Starting a flow: :func:`run_flow`."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from flowtrace.flow import _msg, _start
from flowtrace.trace import Trace

if TYPE_CHECKING:
    from celery import Celery
    from celery.result import AsyncResult

__all__ = ["run_flow"]


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
    from flowtrace.flow.dispatcher import send_dispatcher

    flow, options = _start.startable(app, flow_name, options)
    queue = options.pop("queue", flow.queue)
    dispatcher_id = str(uuid.uuid4())
    # Emitted before the message is sent, so that the log reads in causal order.
    Trace.log(Trace.FLOW_SCHEDULE, _msg.flow(flow_name, dispatcher_id, node_args, queue))
    return send_dispatcher(app, flow_name, dispatcher_id, node_args, None, queue, **options)
