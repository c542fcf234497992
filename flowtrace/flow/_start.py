"""What every way of starting a flow checks before the dispatcher's first message is sent.

:func:`flowtrace.run_flow`, :func:`flowtrace.run_flow_selective` and
:func:`flowtrace.flow_signature` share it: :func:`check_options` validates
Celery's send options, and :func:`startable` checks that the app can run the
flow at all (the flow exists, there is a result backend, eager mode stores
results) and returns the flow with the validated options.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from flowtrace.errors import ConfigurationError, UnknownFlowError
from flowtrace.flow import _runtime

if TYPE_CHECKING:
    from celery import Celery

    from flowtrace.flow.model import Flow

#: The send options a flow accepts for its dispatcher's first message, as Celery's ``apply_async`` takes them.
SEND_OPTIONS = ("queue", "countdown", "eta", "priority", "link", "link_error")

#: The app settings eager mode needs: Celery's ``task_store_eager_result``, so that the dispatcher can read
#: the outcome of the nodes that ran in-line.
EAGER_SETTING = "task_store_eager_result"


def check_options(options: Mapping[str, Any]) -> dict:
    """Validate send options; returns them as a new dict, None values left out (Celery's own rule).

    Raises:
        TypeError: an option name not in :data:`SEND_OPTIONS`, or a value of the wrong type.
        ValueError: a negative ``countdown``, a ``priority`` out of 0..255, or both ``countdown`` and ``eta``.
    """
    unknown = sorted(set(options) - set(SEND_OPTIONS))
    if unknown:
        raise TypeError("unknown send option%s %s; a flow accepts %s" % (
            "s" if len(unknown) > 1 else "", ", ".join(map(repr, unknown)), ", ".join(SEND_OPTIONS)))
    checked = {name: value for name, value in options.items() if value is not None}
    queue = checked.get("queue")
    if queue is not None and (not isinstance(queue, str) or not queue):
        raise TypeError("send option 'queue' must be a non-empty string, not %r" % (queue,))
    countdown = checked.get("countdown")
    if countdown is not None:
        if isinstance(countdown, bool) or not isinstance(countdown, (int, float)):
            raise TypeError("send option 'countdown' must be a number of seconds, not %r" % (countdown,))
        if countdown < 0:
            raise ValueError("send option 'countdown' must not be negative, not %r" % (countdown,))
    eta = checked.get("eta")
    if eta is not None and not isinstance(eta, datetime.datetime):
        raise TypeError("send option 'eta' must be a datetime.datetime, not %r" % (eta,))
    if countdown is not None and eta is not None:
        raise ValueError("give send option 'countdown' or 'eta', not both (Celery would silently drop 'eta')")
    priority = checked.get("priority")
    if priority is not None:
        if isinstance(priority, bool) or not isinstance(priority, int):
            raise TypeError("send option 'priority' must be an int, not %r" % (priority,))
        if not 0 <= priority <= 255:
            raise ValueError("send option 'priority' must be within 0..255, not %r" % (priority,))
    for name in ("link", "link_error"):
        if name in checked:
            checked[name] = _signatures(name, checked[name])
    return checked


def _signatures(name: str, value: Any) -> list:
    from celery.canvas import Signature

    items = list(value) if isinstance(value, (list, tuple)) else [value]
    for item in items:
        if not isinstance(item, Signature):
            raise TypeError("send option %r must be a Celery signature or a list of them, not %r" % (name, item))
    return items


def check_eager(app: Celery, apply: bool = False) -> None:
    """Raise :exc:`~flowtrace.errors.ConfigurationError` if the dispatcher would run in-line and never see its nodes.

    A dispatcher that runs eagerly (``task_always_eager``, or ``apply=True``
    for a signature's ``apply()``) sends its nodes, which run in-line too, and
    then reads their outcome from the result backend: without
    ``task_store_eager_result`` nothing is stored there, and each wake-up
    retries in-line, one level deeper, until ``RecursionError``. ``apply()``
    also needs ``task_always_eager``: otherwise the nodes go to the broker
    while the dispatcher polls for them in-line.
    """
    eager = bool(app.conf.task_always_eager)
    if not (eager or apply):
        return
    missing = [] if eager else ["task_always_eager"]
    if not app.conf.get(EAGER_SETTING):
        missing.append(EAGER_SETTING)
    if missing:
        how = "apply()" if apply else "task_always_eager"
        raise ConfigurationError(
            "a flow run in-line (%s) needs %s = True on app %r: its dispatcher reads the outcome of the nodes, "
            "which run in-line too, from the result backend" % (how, " and ".join(missing), app.main))


def startable(app: Celery, flow_name: str, options: Mapping[str, Any]) -> tuple[Flow, dict]:
    """The flow ``flow_name`` of ``app`` and the validated send options, once the app can start it.

    Raises:
        UnknownFlowError: no flow of that name.
        ValueError: the app has no flows or no result backend.
        ConfigurationError: eager mode without ``task_store_eager_result`` (:func:`check_eager`).
        TypeError: see :func:`check_options`.
    """
    checked = check_options(options)
    config = _runtime.config_of(app)
    if flow_name not in config.flows:
        raise UnknownFlowError("there is no flow %r; the flows are %s" % (flow_name, ", ".join(config.flows) or "none"))
    if _no_backend(app):
        raise ValueError("flows need a Celery result backend: the dispatcher reads the state of each node there; "
                         "set result_backend on app %r" % (app.main,))
    check_eager(app)
    return config.flows[flow_name], checked


def _no_backend(app: Celery) -> bool:
    from celery.backends.base import DisabledBackend

    return isinstance(app.backend, DisabledBackend)
