"""The OpenTelemetry sink: task attempts and flows as spans, every other event as a span event."""

from __future__ import annotations

import os
import time
import weakref
from typing import TYPE_CHECKING, Any

from opentelemetry import trace as _trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from flowtrace import _w3c, context, events
from flowtrace._report import FailureCounter
from flowtrace.sinks._otelattrs import (END_ATTRIBUTES, as_attribute, event_attributes, link_of, parent_of,
                                        parse_iso, task_attributes)
from flowtrace.sinks._oteltracer import PresetTracer

if TYPE_CHECKING:
    from opentelemetry.util.types import AttributeValue

_NAMES = events.NAMES
_BY_NAME = {name: row.value for name, row in events.BY_NAME.items()}

_START = _BY_NAME["TASK_START"]
#: Events that end a task attempt's span, with the attempt's final state.
_TERMINAL = frozenset(_BY_NAME[name] for name in (
    "TASK_END", "TASK_RETRY", "TASK_FAILURE", "TASK_IGNORED", "TASK_REJECTED", "TASK_REVOKED", "TASK_UNKNOWN"))
_FAILURE = _BY_NAME["TASK_FAILURE"]
_END = _BY_NAME["TASK_END"]
_FLOW_START = _BY_NAME["FLOW_START"]
_FLOW_ENDS = frozenset((_BY_NAME["FLOW_END"], _BY_NAME["FLOW_FAILURE"]))
_FLOW_FAILURE = _BY_NAME["FLOW_FAILURE"]

#: The keys of FLOW_END / FLOW_FAILURE set on the flow's span last (its outcome).
_FLOW_END_KEYS = ("state", "will_retry")
#: Flows whose start time is remembered at once; the oldest is forgotten first.
_MAX_FLOW_STARTS = 1024


class OtelSink(PresetTracer):
    """Report events to OpenTelemetry through a tracer provider.

    - A task attempt is a span (kind ``CONSUMER``) from ``TASK_START`` to its
      terminal event (``TASK_END``, ``TASK_RETRY``, ``TASK_FAILURE``,
      ``TASK_IGNORED``, ``TASK_REJECTED``, or ``TASK_REVOKED`` /
      ``TASK_UNKNOWN``), named after the task, with the ids flowtrace chose:
      those of the attempt's events, of its log records and of the
      ``traceparent`` of the tasks it sends. An attempt whose pool child died
      is reported by the worker's main process, which ends its span there.
    - A flow is a span from ``FLOW_START`` to ``FLOW_END`` or ``FLOW_FAILURE``,
      made when the flow ends (in whichever worker process that happens),
      beside its dispatcher's attempts under the span that started the flow.
      When the flow started in another process, the span starts when the
      dispatcher was first sent. ``FLOW_START`` is also a span event of the
      dispatcher's first attempt.
    - Every other event is a span event on the current span, or on the open
      span its ``span_id`` names.

    Attributes follow OpenTelemetry's messaging conventions
    (``messaging.system`` = ``celery``, ``messaging.operation.type`` =
    ``process``, ``messaging.destination.name``, ``messaging.message.id``);
    the task's name, attempt, Celery ids, host, flow and arguments (when
    ``include_args``) are ``flowtrace.<key>`` attributes, and so is every
    key of a span event. A failure sets
    the status to ``ERROR`` and records the exception; an exception listed in
    ``Task.throws`` is recorded without the error status. Retries are attempt
    spans of their own, siblings under the same parent, with
    ``flowtrace.retries`` and a ``TASK_RETRY`` span event on the attempt that
    asked for the retry.

    Spans go out through the provider's span processors: with the SDK's
    ``BatchSpanProcessor``, from its bounded queue on its background thread,
    while the task goes on. :meth:`flush` empties it, and the Celery
    integration calls it when a pool child exits (``worker_max_tasks_per_child``
    included; opentelemetry-python-contrib #4916) and when the worker stops.

    The span ids are flowtrace's when the provider is the OpenTelemetry SDK's
    (its tracer's ``id_generator`` is wrapped, on flowtrace's tracer only).
    Without the SDK (``opentelemetry-api`` alone) nothing is recorded, and
    propagation and correlation work as before.

    Args:
        tracer_provider: the provider to make spans with; by default the
            global one, looked up at each event until one is set (so it may
            be set after the sink is registered, in ``worker_process_init``).

    Raises:
        ValueError: if ``tracer_provider`` has no ``get_tracer``.

    .. versionadded:: 0.1.0
    """

    def __init__(self, tracer_provider: _trace.TracerProvider | None = None) -> None:
        super().__init__(tracer_provider)
        #: span_id -> (span, start msg) for the attempts open in this process.
        self._open: dict[Any, tuple[_trace.Span, dict[str, Any]]] = {}
        #: dispatcher_id -> FLOW_START time (ns) of the flows started in this process.
        self._flow_starts: dict[Any, int] = {}
        self.name = "otel"
        self.failures = FailureCounter("sink otel")
        self.span_events = 0
        self.unattached = 0
        if hasattr(os, "register_at_fork"):
            ref = weakref.ref(self)

            def forget() -> None:
                sink = ref()
                if sink is not None:
                    sink._open = {}  # the parent's attempts are not this child's to end
                    sink._flow_starts = {}

            os.register_at_fork(after_in_child=forget)

    # --- events ---------------------------------------------------------------

    def __call__(self, event: int, msg_dict: dict[str, Any]) -> None:
        """Start or end the span the event is about, or add the event to a span; never raises.

        Args:
            event: the event value.
            msg_dict: its msg dict.

        .. versionadded:: 0.1.0
        """
        try:
            if event == _START:
                self._task_start(msg_dict)
            elif event in _TERMINAL:
                self._task_end(event, msg_dict)
            elif event == _FLOW_START:
                self._flow_start(msg_dict)
            elif event in _FLOW_ENDS:
                self._flow_end(event, msg_dict)
            else:
                self._span_event(event, msg_dict)
        except Exception as exc:
            self.failures.record(_NAMES.get(event) or str(event), exc)

    def _task_start(self, msg: dict[str, Any]) -> None:
        trace_id, span_id = msg.get("trace_id"), msg.get("span_id")
        tracer = self._get_tracer()
        if tracer is None or not trace_id or not span_id:
            return
        attempt = context.current_attempt()
        if attempt is not None and attempt.ids == (trace_id, span_id):
            span = self._start(tracer, msg.get("task_name") or "celery task", trace_id, span_id, attempt.parent,
                               attempt.link, task_attributes(msg), None, SpanKind.CONSUMER)
            attempt.bind(span)
        else:
            span = self._start(tracer, msg.get("task_name") or "celery task", trace_id, span_id, parent_of(msg),
                               link_of(msg), task_attributes(msg), None, SpanKind.CONSUMER)
        self._open[span_id] = (span, msg)

    def _task_end(self, event: int, msg: dict[str, Any]) -> None:
        trace_id, span_id = msg.get("trace_id"), msg.get("span_id")
        if not trace_id or not span_id:
            return self._span_event(event, msg)
        entry = self._open.pop(span_id, None)
        if entry is None:
            if "parent_span_id" not in msg:
                # Not an attempt's own ids (a message that never ran, reported
                # with its sender's span): an event, not a span of its own.
                return self._span_event(event, msg)
            # An attempt that started elsewhere: its pool child died, or it
            # never started. The main process reports it and makes its span.
            tracer = self._get_tracer()
            if tracer is None:
                return None
            runtime = msg.get("runtime")
            start = time.time() - runtime if isinstance(runtime, (int, float)) else None
            span = self._start(tracer, msg.get("task_name") or "celery task", trace_id, span_id, parent_of(msg),
                               link_of(msg), task_attributes(msg),
                               int(start * 1e9) if start is not None else None, SpanKind.CONSUMER)
        else:
            span = entry[0]
        self._finish(span, event, msg)
        return None

    def _finish(self, span: _trace.Span, event: int, msg: dict[str, Any]) -> None:
        name = _NAMES.get(event) or str(event)
        get = msg.get
        if event == _END:
            # The common case: only the state to add.
            state = get("state")
            if state is not None:
                span.set_attribute("flowtrace.state", as_attribute(state))
            span.end()
            return
        attributes: dict[str, AttributeValue] = {}
        for key, attribute in END_ATTRIBUTES:
            value = get(key)
            if value is not None:
                attributes[attribute] = as_attribute(value)
        span.set_attributes(attributes)
        if event == _FAILURE:
            exc = msg.get("exc_info")
            if isinstance(exc, BaseException):
                span.record_exception(exc, escaped=True)
            elif msg.get("exc_type"):
                span.add_event("exception", {"exception.type": msg["exc_type"],
                                             "exception.message": as_attribute(msg.get("exc_message")) or "",
                                             "exception.stacktrace": as_attribute(msg.get("traceback")) or ""})
            if msg.get("expected") is not True:
                span.set_status(Status(StatusCode.ERROR, "%s: %s" % (msg.get("exc_type"), msg.get("exc_message"))))
        else:
            span.add_event(name, event_attributes(msg))
            self.span_events += 1
        span.end()

    def _flow_start(self, msg: dict[str, Any]) -> None:
        # The flow's span is made whole when the flow ends, which may be in
        # another process (a dispatcher wakes up wherever the broker delivers
        # it): an open span here would outlive the flow. Only the start time is
        # kept, for a flow that ends in this process.
        starts = self._flow_starts
        if len(starts) >= _MAX_FLOW_STARTS:
            del starts[next(iter(starts))]
        starts[msg.get("dispatcher_id")] = time.time_ns()
        self._span_event(_FLOW_START, msg)

    def _flow_end(self, event: int, msg: dict[str, Any]) -> None:
        tracer = self._get_tracer()
        if tracer is None:
            return
        # The flow is a sibling of its dispatcher's attempts, under the span
        # that started it (the parent of every dispatcher attempt, as retries
        # keep their original parent); outside an attempt, the current span.
        attempt = context.current_attempt()
        if attempt is not None:
            parent = attempt.parent
            trace_id = attempt.ids[0]
        else:
            parent = context.current_span()
            trace_id = parent.trace_id if parent is not None else _w3c.new_trace_id()
        start = self._flow_starts.pop(msg.get("dispatcher_id"), None)
        if start is None and attempt is not None:
            # Started elsewhere: from when the dispatcher was first sent.
            opened = self._open.get(attempt.ids[1])
            first = opened[1].get("first_sent") if opened is not None else None
            sent = parse_iso(first) if isinstance(first, str) else None
            start = int(sent * 1e9) if sent is not None else None
        span = self._start(tracer, "flow %s" % msg.get("flow_name"), trace_id, _w3c.new_span_id(), parent, None,
                           event_attributes({key: value for key, value in msg.items() if key not in _FLOW_END_KEYS}),
                           start, _internal())
        span.set_attributes(event_attributes({key: msg[key] for key in _FLOW_END_KEYS if key in msg}))
        if event == _FLOW_FAILURE:
            span.set_status(Status(StatusCode.ERROR, "flow failed"))
        span.add_event(_NAMES.get(event) or str(event), event_attributes(msg))
        span.end()

    def _span_event(self, event: int, msg: dict[str, Any]) -> None:
        span = _trace.get_current_span()
        if not span.is_recording():
            entry = self._open.get(msg.get("span_id"))
            if entry is None:
                self.unattached += 1
                return
            span = entry[0]
        span.add_event(_NAMES.get(event) or str(event), event_attributes(msg))
        self.span_events += 1

    # --- lifecycle -----------------------------------------------------------

    def flush(self, timeout: float = 5.0) -> None:
        """Export what the provider's span processors hold, waiting up to ``timeout`` seconds.

        Args:
            timeout: the longest wait, in seconds.

        .. versionadded:: 0.1.0
        """
        provider = self._provider or _trace.get_tracer_provider()
        force_flush = getattr(provider, "force_flush", None)
        if callable(force_flush):
            force_flush(int(timeout * 1000))

    def close(self) -> None:
        """End the spans still open (their attempts never reported an end here), then flush.

        The spans are ended with the status ``ERROR``.

        .. versionadded:: 0.1.0
        """
        open_spans, self._open = self._open, {}
        for span, _ in open_spans.values():
            span.set_status(Status(StatusCode.ERROR, "flowtrace sink closed before the span ended"))
            span.end()
        self.flush()

    def stats(self) -> dict[str, int]:
        """Return what the sink has done, for :meth:`flowtrace.Trace.stats`.

        Returns:
            ``spans`` made, ``span_events`` added, ``unattached`` events (with
            no span to add them to) and the ``open`` spans.

        .. versionadded:: 0.1.0
        """
        return {"spans": self.spans, "span_events": self.span_events, "unattached": self.unattached,
                "open": len(self._open)}


def _internal() -> SpanKind:
    return SpanKind.INTERNAL


__all__ = ["OtelSink"]
