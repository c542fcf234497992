"""Sampling strategies: how long a waiting dispatcher sleeps before it looks at its flow again.

A flow's ``sampling`` names one of these functions, with Selinon's names,
arguments and answers (``selinon.strategies`` in Selinon 1.4), so a Selinon
project's ``sampling`` keeps its meaning::

    flow-definitions:
      - name: order_flow
        sampling:
          name: constant            # without 'import': one of the functions here
          args: {retry: 5}
        edges: ...

A strategy is any function called as ``strategy(status, **args)``, where
``args`` are the YAML ``args`` and ``status`` is a dict with Selinon's keys:

- ``previous_retry``: the countdown the strategy chose at the wake-up
  before, or None at the first wake-up of the flow (and after a flow retry);
- ``active_nodes``: the nodes the flow waits for, each a dict of ``name``,
  ``id`` and ``result`` (the node's Celery ``AsyncResult``);
- ``failed_nodes`` and ``finished_nodes``: node name to the ids of its failed
  (not yet handled by a fallback) and successful runs;
- ``new_started_nodes``: the nodes this wake-up started through edges, and
  ``new_fallback_nodes``: the fallbacks it started, as in ``active_nodes``
  (nodes in ``nowait`` are not waited for and are in neither).

It returns the countdown in seconds (a number of 0 or more), or None (or a
negative number) to stop retrying: the flow then ends at once, as in Selinon,
with the nodes still running left in the result's ``active_nodes``. In
flowtrace the countdown is the safety net only: a node that ends still wakes
the dispatcher within milliseconds (see :doc:`flows`).

The functions below follow Selinon's code, including where it differs from
its docstrings: the ``increase`` and ``adapt`` strategies lengthen the
countdown after a wake-up that *started* nodes, and shorten it otherwise.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import random as _random
from typing import Any, Mapping, Optional, Union

__all__ = ["constant", "linear_increase", "linear_adapt", "biexponential_increase", "biexponential_decrease",
           "biexponential_adapt", "random"]

Number = Union[int, float]


def _started(status: Mapping[str, Any]) -> bool:
    return bool(status["new_started_nodes"] or status["new_fallback_nodes"])


def constant(status: Mapping[str, Any], retry: Number) -> Optional[Number]:
    """The same countdown each time.

    Args:
        status: the flow's status (see the module's docstring).
        retry: the countdown, in seconds.

    Returns:
        ``retry``, or None once no node is active.

    .. versionadded:: 0.1.0
    """
    if not status["active_nodes"]:
        return None
    return retry


def linear_increase(status: Mapping[str, Any], start_retry: Number, max_retry: Number,
                    step: Number) -> Optional[Number]:
    """Longer by ``step`` after a wake-up that started nodes, back to ``start_retry`` after one that did not.

    Args:
        status: the flow's status.
        start_retry: the first and shortest countdown.
        max_retry: the longest countdown.
        step: what a wake-up that started nodes adds.

    Returns:
        The countdown, or None once no node is active.

    .. versionadded:: 0.1.0
    """
    if not status["active_nodes"]:
        return None
    if status["previous_retry"] is None:
        return start_retry
    if _started(status):
        return min(status["previous_retry"] + step, max_retry)
    return start_retry


def linear_adapt(status: Mapping[str, Any], start_retry: Number, max_retry: Number,
                 step: Number) -> Optional[Number]:
    """Longer by ``step`` after a wake-up that started nodes, shorter by ``step`` after one that did not.

    Args:
        status: the flow's status.
        start_retry: the first and shortest countdown.
        max_retry: the longest countdown.
        step: what a wake-up adds or takes away.

    Returns:
        The countdown, or None once no node is active.

    .. versionadded:: 0.1.0
    """
    if not status["active_nodes"]:
        return None
    if status["previous_retry"] is None:
        return start_retry
    if _started(status):
        return min(status["previous_retry"] + step, max_retry)
    return max(status["previous_retry"] - step, start_retry)


def biexponential_increase(status: Mapping[str, Any], start_retry: Number, max_retry: Number) -> Optional[Number]:
    """Doubled after a wake-up that started nodes, back to ``start_retry`` after one that did not.

    Selinon's default strategy (with ``start_retry`` 2 and ``max_retry`` 120).

    Args:
        status: the flow's status.
        start_retry: the first and shortest countdown.
        max_retry: the longest countdown.

    Returns:
        The countdown, or None once no node is active.

    .. versionadded:: 0.1.0
    """
    if not status["active_nodes"]:
        return None
    if status["previous_retry"] is None:
        return start_retry
    if _started(status):
        return min(status["previous_retry"] * 2, max_retry)
    return start_retry


def biexponential_decrease(status: Mapping[str, Any], start_retry: Number, stop_retry: Number) -> Optional[Number]:
    """Halved at each wake-up, from ``start_retry`` down to ``stop_retry``.

    Args:
        status: the flow's status.
        start_retry: the first and longest countdown.
        stop_retry: the shortest countdown.

    Returns:
        The countdown, or None once no node is active.

    .. versionadded:: 0.1.0
    """
    if not status["active_nodes"]:
        return None
    if status["previous_retry"] is None:
        return start_retry
    return max(status["previous_retry"] / 2, stop_retry)


def biexponential_adapt(status: Mapping[str, Any], start_retry: Number, max_retry: Number) -> Optional[Number]:
    """Doubled after a wake-up that started nodes, halved (down to ``start_retry``) after one that did not.

    As in Selinon, the first call returns ``start_retry`` even when no node is
    active.

    Args:
        status: the flow's status.
        start_retry: the first and shortest countdown.
        max_retry: the longest countdown.

    Returns:
        The countdown, or None once no node is active.

    .. versionadded:: 0.1.0
    """
    if status["previous_retry"] is None:
        return start_retry
    if not status["active_nodes"]:
        return None
    if _started(status):
        return min(status["previous_retry"] * 2, max_retry)
    return max(status["previous_retry"] / 2, start_retry)


def random(status: Mapping[str, Any], start_retry: int, max_retry: int) -> Optional[int]:
    """A whole number of seconds drawn uniformly from ``start_retry`` to ``max_retry``, both included.

    Args:
        status: the flow's status.
        start_retry: the shortest countdown.
        max_retry: the longest countdown.

    Returns:
        The countdown, or None once no node is active.

    .. versionadded:: 0.1.0
    """
    if not status["active_nodes"]:
        return None
    return _random.randint(start_retry, max_retry)  # nosec: a countdown, not a secret
