"""``Trace.log``: one event merged, redacted, enriched and handed to every sink it reaches.

This is the hot path. :mod:`flowtrace._registry` works out, whenever the
registered sinks change, which sinks each event value reaches (:data:`routes`)
and makes :meth:`flowtrace.Trace.log` either :func:`log` or, with no sink at
all, :data:`noop_log`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, cast

from flowtrace import _redact, events
from flowtrace._report import FailureCounter

if TYPE_CHECKING:
    from typing import TypeAlias

    from flowtrace._registry import Entry
    from flowtrace._enrich import Enrichment

    #: The sinks one event value reaches, whether any of them has a gate, and
    #: the function that makes the enrichment those that ask for one get (None when
    #: none of them does).
    Route: TypeAlias = tuple[tuple[Entry, ...], bool, Callable[[Mapping[str, Any]], Enrichment] | None]


class LogFunction(Protocol):
    """The signature of :meth:`flowtrace.Trace.log`."""

    def __call__(self, event: int, /, *msg_dicts: Mapping[str, Any], **kwargs: Any) -> None: ...


# With no sink registered, Trace.log is bound to a C-level callable that
# accepts any positional and keyword arguments and does nothing with them:
# str.format ignores arguments its template does not use. This skips the
# Python frame a ``def`` would cost on every emit (bench/trace_bench.py).
# The cast only tells type checkers that its result is never used.
noop_log = cast(LogFunction, "".format)

#: event value -> its route; the key None holds the route of values outside
#: the catalogue. Read without locking; the registry replaces it whole.
routes: dict[int | None, Route] = {None: ((), False, None)}

#: Events :func:`log` could not build a msg dict for; reported by
#: :meth:`flowtrace.Trace.stats` as ``"Trace.log"``.
failures = FailureCounter("Trace.log")

_redact_top = _redact.redact_top


def log(event: int, /, *msg_dicts: Mapping[str, Any], **kwargs: Any) -> None:
    """Emit ``event`` to every sink whose filter accepts it; see :meth:`flowtrace.Trace.log`."""
    try:
        entries, gated, enrich = routes[event]
    except (KeyError, TypeError):  # a value outside the catalogue
        entries, gated, enrich = routes[None]
    if not entries:
        return
    if gated:
        for entry in entries:
            gate = entry.gate
            if gate is None:
                break
            try:
                if gate(event):
                    break
            except Exception:  # the sink itself will fail, and be counted, if it must
                break
        else:
            return  # every sink would ignore this event
    try:
        if msg_dicts:
            if len(msg_dicts) == 1 and not kwargs:
                msg = dict(msg_dicts[0])
            elif len(msg_dicts) == 1:
                msg = {**msg_dicts[0], **kwargs}
            else:
                msg = {}
                for part in msg_dicts:
                    msg.update(part)
                msg.update(kwargs)
        else:
            msg = kwargs  # already a fresh dict owned by this call
        _redact_top(msg)
    except Exception as exc:
        # A msg argument that is not a mapping, or one changed by another
        # thread while it was read: the event is lost, so it is counted.
        failures.record(event_label(event), exc)
        return
    if enrich is None:
        for entry in entries:
            try:
                entry.sink(event, msg)
            except Exception as exc:  # a sink must never reach the emitter
                entry.failures.record(event_label(event), exc)
        return
    enrichment: Enrichment | None
    try:
        enrichment = enrich(msg)
    except Exception:
        enrichment = None  # each sink then makes its own, and fails (and is counted) as it would alone
    for entry in entries:
        try:
            if entry.enriched:
                entry.sink(event, msg, enrichment)  # type: ignore[call-arg]  # it asked for one
            else:
                entry.sink(event, msg)
        except Exception as exc:
            entry.failures.record(event_label(event), exc)


def reset_failures() -> None:
    """Forget the events :func:`log` could not build a msg dict for."""
    global failures
    failures = FailureCounter("Trace.log")


def event_label(event: int) -> str:
    """Return the name of ``event`` for a failure report; never raises, whatever was passed as the event."""
    try:
        row = events.BY_VALUE.get(event)
    except TypeError:  # an unhashable value passed as the event
        row = None
    if row is not None:
        return row.name
    try:
        return "event %r" % (event,)
    except Exception:  # its repr raised: this runs inside an except block
        return "event of type %s" % type(event).__name__
