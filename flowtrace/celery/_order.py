"""flowtrace's receivers around OpenTelemetry's CeleryInstrumentor, in the order that gives one trace.

Celery calls a signal's receivers in the order they were connected, and
OpenTelemetry is usually instrumented after flowtrace (in
``worker_process_init``, as its documentation says). Three places need
flowtrace on a given side of it:

- ``before_task_publish``: after it, so that the ``traceparent`` it writes
  (its publish span) is the one flowtrace mirrors into the nested headers,
  and a retry's parent is set last;
- ``task_prerun``: after it, so that its run span is current and the
  attempt's span is its child;
- ``task_postrun``: before it, so that the contexts the two attach are
  detached in reverse order (a context variable reset out of order
  restores a stale value).

The order is checked when the receivers changed since the last check (their
number or the last one connected; a comparison per hook otherwise).
Receivers of other tools keep their places.
"""

from __future__ import annotations

import weakref

from celery import signals

_PLACES = (
    (signals.before_task_publish, "flowtrace.celery.publish", False),
    (signals.task_prerun, "flowtrace.celery.prerun", False),
    (signals.task_postrun, "flowtrace.celery.postrun", True),
)

#: signal -> (how many receivers it had, the last entry) when last put in order.
_seen: dict = {}


def _signature(entries):
    return (len(entries), id(entries[-1]) if entries else None)


def _is_opentelemetry(receiver) -> bool:
    if isinstance(receiver, weakref.ReferenceType):
        receiver = receiver()
    owner = getattr(receiver, "__self__", None)
    module = getattr(type(owner) if owner is not None else receiver, "__module__", None) or ""
    return module.startswith("opentelemetry.")


def _place(signal, uid, first) -> None:
    with signal.lock:
        entries = signal.receivers
        ours = [i for i, (key, _) in enumerate(entries) if isinstance(key, tuple) and key[0] == uid]
        others = [i for i, (_, receiver) in enumerate(entries) if _is_opentelemetry(receiver)]
        if len(ours) != 1 or not others:
            _seen[signal] = _signature(entries)
            return
        index = ours[0]
        if first and others[0] < index:
            target = others[0]
        elif not first and others[-1] > index:
            target = others[-1]
        else:
            _seen[signal] = _signature(entries)
            return
        entry = entries.pop(index)
        entries.insert(target, entry)
        signal.sender_receivers_cache.clear()
        _seen[signal] = _signature(entries)


def check(places=None) -> None:
    """Put flowtrace's receivers in order if receivers were connected since the last check.

    Args:
        places: the entries of :data:`_PLACES` to check; all by default.
    """
    for signal, uid, first in places or _PLACES:
        entries = signal.receivers
        seen = _seen.get(signal)
        if seen is None or seen[0] != len(entries) or (entries and seen[1] != id(entries[-1])):
            _place(signal, uid, first)


#: What each hook checks: the publish hook its own signal, prerun both of the attempt's.
PUBLISH = _PLACES[:1]
ATTEMPT = _PLACES[1:]


def reset() -> None:
    """Forget what was checked (after the receivers were disconnected)."""
    _seen.clear()
