"""The producer's hook: stamp each task message and emit TASK_PUBLISH.

It runs on ``before_task_publish`` for every message any code in the process
sends, so it does as little as possible: the trace context
(:mod:`flowtrace.celery._inject`) and two timestamps go into the message
headers whether or not a sink is registered here (the worker needs them for
``queue_latency`` even when the producer does not trace), and the msg dict is
built only when ``Trace.enabled``.
"""

from __future__ import annotations

import time

from celery._state import get_current_task
from celery.utils.saferepr import saferepr

from flowtrace.celery import _inject, _msg, _order, _registry
from flowtrace.trace import Trace

_TASK_PUBLISH = Trace.TASK_PUBLISH


def on_before_publish(sender=None, body=None, routing_key=None, headers=None, declare=None, **_):
    """``before_task_publish`` receiver."""
    try:
        # Protocol 1 messages carry their fields in the body; Celery 5 sends protocol 2.
        if headers is None or "id" not in headers:
            return
        _order.check(_order.PUBLISH)
        ref = _inject.on_publish(headers)
        now = time.time()
        if _msg.FIRST_SENT_HEADER not in headers:
            # Celery copies the request's custom headers into a retry's message,
            # so a retry normally has it already; a first attempt needs no lookup.
            headers[_msg.FIRST_SENT_HEADER] = _first_sent(headers, now) if headers.get("retries") else now
        headers[_msg.SENT_HEADER] = now
        include_args = _registry.publish_args
        if include_args:
            headers[_msg.CUSTOM_REPR_HEADER] = _custom_repr(headers, body)
        _inject.mirror(headers)
        if not Trace.enabled:
            return
        msg = _msg.from_headers(headers, _queue_name(declare, routing_key), headers.get("origin"))
        msg["state"] = "PENDING"
        # The span the message goes under (or, for a new trace, the one it was sent from).
        if ref is not None:
            msg["trace_id"], msg["span_id"] = ref.trace_id, ref.span_id
        else:
            msg["trace_id"] = msg["span_id"] = None
        if headers.get("eta"):
            msg["eta"] = headers["eta"]
        if headers.get("expires"):
            msg["expires"] = headers["expires"]
        if include_args and isinstance(body, (tuple, list)) and len(body) >= 2:
            _msg.arguments(msg, body[0], body[1], headers.get("argsrepr"), headers.get("kwargsrepr"),
                           headers.get(_msg.CUSTOM_REPR_HEADER))
        Trace.log(_TASK_PUBLISH, msg)
    except Exception as exc:  # tracing must never stop a message from being sent
        _registry.failures.record("before_task_publish", exc)


def _first_sent(headers, now):
    # A retry without the header: custom headers were not carried over (the
    # celery #4875 family of bugs). It is sent from inside the attempt it
    # replaces, under the same task id (Task.retry -> signature_from_request),
    # so the first enqueue time is taken from the running request.
    task = get_current_task()
    if task is not None:
        request = task.request
        if request.id == headers.get("id"):
            first = getattr(request, _msg.FIRST_SENT_HEADER, None)
            if isinstance(first, (int, float)):
                return first
    return now


def _queue_name(declare, routing_key):
    # With Celery's default routing the routing key is the queue name; a queue
    # to declare names it directly when a custom exchange is used.
    if declare:
        name = getattr(declare[0], "name", None)
        if name:
            return name
    return routing_key


def _custom_repr(headers, body):
    """Tell the worker whether argsrepr / kwargsrepr were supplied by the caller.

    Celery fills them with ``saferepr`` of the values when the caller did not;
    only here, before serialisation, can the two be told apart exactly.
    """
    if not isinstance(body, (tuple, list)) or len(body) < 2:
        return [True, True]
    from celery import current_app

    # task_repr_maxlevels is new in Celery 5.7; before it, saferepr's default
    # of 3 levels applied, which is also the setting's default.
    levels = current_app.conf.get("task_repr_maxlevels", 3)
    amqp = current_app.amqp
    args_default = saferepr(body[0], amqp.argsrepr_maxsize, maxlevels=levels)
    kwargs_default = saferepr(body[1], amqp.kwargsrepr_maxsize, maxlevels=levels)
    return [headers.get("argsrepr") != args_default, headers.get("kwargsrepr") != kwargs_default]
