"""The msg dicts of task events, built from what each Celery hook is given.

Every task event carries the same identity keys, in this order: ``task_name``,
``task_id``, ``parent_id``, ``root_id``, ``group_id`` (only when the task is
in a group), ``retries`` (the attempt, 0 for the first), ``queue``,
``hostname`` and ``state``. The hooks see a task through three different
objects, one builder each: the producer's message headers, the worker main
process's ``Request`` and the executing process's ``Context``.

A task of a flow (and a flow's dispatcher) carries the flow's identity in the
:data:`FLOW_HEADER` message header; every builder copies its keys
(:data:`FLOW_KEYS`) after the identity keys.
"""

from __future__ import annotations

import traceback as _traceback
from typing import Any

from flowtrace._flowheader import FLOW_HEADER, FLOW_KEYS

#: Message headers set by the publish hook: when this attempt was sent and when
#: the first attempt was, as Unix timestamps.
SENT_HEADER = "flowtrace_sent"
FIRST_SENT_HEADER = "flowtrace_first_sent"
#: Whether the producer saw a caller-supplied argsrepr / kwargsrepr: [bool, bool].
CUSTOM_REPR_HEADER = "flowtrace_custom_repr"


def _flow(msg, value):
    if isinstance(value, dict):
        for key in FLOW_KEYS:
            if key in value:
                msg[key] = value[key]
    return msg


def flow_fields(fields, header, kwargs) -> dict:
    """Add ``flow_name`` and ``dispatcher_id`` to a task's correlation fields when it belongs to a flow.

    The :data:`FLOW_HEADER` says so; without it, keyword arguments holding
    both (a flow task's, as Selinon passes them) do.
    """
    if isinstance(header, dict) and "flow_name" in header:
        fields["flow_name"] = header.get("flow_name")
        fields["dispatcher_id"] = header.get("dispatcher_id")
    elif type(kwargs) is dict and "dispatcher_id" in kwargs and "flow_name" in kwargs:
        fields["flow_name"] = kwargs["flow_name"]
        fields["dispatcher_id"] = kwargs["dispatcher_id"]
    return fields


def _identity(msg, name, task_id, parent_id, root_id, group_id, retries, queue, hostname):
    msg["task_name"] = name
    msg["task_id"] = task_id
    msg["parent_id"] = parent_id
    msg["root_id"] = root_id
    if group_id:
        msg["group_id"] = group_id
    msg["retries"] = retries or 0
    msg["queue"] = queue
    msg["hostname"] = hostname
    return msg


def from_headers(headers, queue, hostname) -> dict:
    """Identity keys from protocol 2 message headers (producer, undecodable messages)."""
    get = headers.get
    return _flow(_identity({}, get("task"), get("id"), get("parent_id"), get("root_id"), get("group"),
                           get("retries"), queue, hostname), get(FLOW_HEADER))


def from_request(request) -> dict:
    """Identity keys from the worker main process's ``celery.worker.request.Request``."""
    headers = request.request_dict
    delivery_info = request.delivery_info or {}
    # request.type is the registered name; request.name is the shadow name when one is set.
    return _flow(_identity({}, request.type, request.id, headers.get("parent_id"), headers.get("root_id"),
                           headers.get("group"), headers.get("retries"), delivery_info.get("routing_key"),
                           request.hostname), headers.get(FLOW_HEADER))


def from_context(context, task_name) -> dict:
    """Identity keys from a ``celery.app.task.Context`` (``task.request``)."""
    delivery_info = getattr(context, "delivery_info", None) or {}
    return _flow(_identity({}, task_name, context.id, context.parent_id, context.root_id, context.group,
                           context.retries, delivery_info.get("routing_key"), context.hostname),
                 getattr(context, FLOW_HEADER, None))


def from_request_dict(request, task_name) -> dict:
    """Identity keys from the raw request dict the tracer is called with."""
    request = request or {}
    get = request.get
    delivery_info = get("delivery_info") or {}
    return _flow(_identity({}, task_name, get("id"), get("parent_id"), get("root_id"), get("group"),
                           get("retries"), delivery_info.get("routing_key"), get("hostname")), get(FLOW_HEADER))


def type_name(exc) -> str:
    """``ValueError`` for built-in exceptions, ``package.module.Name`` for the rest."""
    kind = type(exc)
    module = kind.__module__
    if module == "builtins":
        return kind.__qualname__
    return "%s.%s" % (module, kind.__qualname__)


def text(value) -> str:
    """``str(value)``, or a placeholder when that raises."""
    try:
        return str(value)
    except Exception:
        return "<unprintable %s>" % type(value).__name__


def exception(msg, exc, einfo=None) -> dict:
    """Add ``exc_type``, ``exc_message``, ``traceback`` and ``exc_info`` (the object) to ``msg``.

    ``einfo`` is billiard's ``ExceptionInfo``, whose ``traceback`` text was
    formatted before Celery cleared the frames (celery #8882); without it the
    traceback is formatted from the exception.
    """
    msg["exc_type"] = type_name(exc)
    msg["exc_message"] = text(exc)
    tb_text = getattr(einfo, "traceback", None)
    if not isinstance(tb_text, str):
        try:
            tb_text = "".join(_traceback.format_exception(type(exc), exc, exc.__traceback__))
        except Exception:
            tb_text = None
    msg["traceback"] = tb_text
    msg["exc_info"] = exc
    return msg


def expected(task, exc) -> bool:
    """Whether ``exc`` is listed in ``task.throws``; Celery logs those at info, without traceback."""
    throws: Any = getattr(task, "throws", None)
    return bool(throws) and exc is not None and isinstance(exc, throws)


def cause(msg, exc) -> dict:
    """Add ``exc_type`` and ``exc_message`` of a retry's cause, when there is one."""
    if exc is not None:
        msg["exc_type"] = type_name(exc)
        msg["exc_message"] = text(exc)
    return msg


def when(msg, value) -> dict:
    """Add ``countdown`` (seconds) or ``eta`` (ISO-8601) from a ``Retry.when`` value."""
    if value is None:
        return msg
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        msg["countdown"] = value
    else:
        isoformat = getattr(value, "isoformat", None)
        msg["eta"] = isoformat() if callable(isoformat) else text(value)
    return msg


def arguments(msg, args, kwargs, argsrepr, kwargsrepr, custom) -> dict:
    """Add ``args`` and ``kwargs`` for a user who opted in.

    A repr the caller supplied (``apply_async(argsrepr=...)``) is what the
    caller wants shown, so it is used. Otherwise the values themselves go in,
    so that Trace.log's redaction finds secret keys at any depth; Celery's
    default repr is a string, where redaction could not see them.

    Args:
        custom: ``[args_custom, kwargs_custom]`` from the publish hook's
            header, or None when the producer did not say (it is not
            instrumented): then a repr that is not Celery's default one is
            taken as the caller's, and, since it may hide a secret the values
            hold, nothing is shown for that part.
    """
    if isinstance(custom, (list, tuple)) and len(custom) == 2:
        args_custom, kwargs_custom = custom
        msg["args"] = argsrepr if args_custom and argsrepr is not None else _plain(args)
        msg["kwargs"] = kwargsrepr if kwargs_custom and kwargsrepr is not None else _plain(kwargs)
        return msg
    msg["args"] = _plain(args) if _is_default_repr(argsrepr, args) else NOT_SHOWN
    msg["kwargs"] = _plain(kwargs) if _is_default_repr(kwargsrepr, kwargs) else NOT_SHOWN
    return msg


#: Shown for arguments whose repr the caller replaced in a producer flowtrace does not instrument.
NOT_SHOWN = "[not shown: a custom repr was given]"


def _is_default_repr(given, value) -> bool:
    if given is None:
        return True
    from celery.utils.saferepr import saferepr

    # Celery's default: saferepr with the default 1024-character limit (app.amqp.argsrepr_maxsize).
    return given == saferepr(value, 1024)


def _plain(value):
    # Celery passes tuples; a list serialises the same and redaction copies it on write.
    return list(value) if isinstance(value, tuple) else value
