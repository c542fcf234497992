"""The OpenTelemetry sink: task attempts and flows as spans, every other event as a span event."""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from opentelemetry import context as _otel_context
from opentelemetry import trace as _trace
from opentelemetry.trace import Link, NonRecordingSpan, SpanKind, Status, StatusCode

from flowtrace import _serialize, context, events
from flowtrace._report import FailureCounter

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

# msg keys that become span attributes under their semantic-convention names.
_MESSAGING = {"queue": "messaging.destination.name", "task_id": "messaging.message.id"}
# msg keys that are not attributes: ids (the span has them), the exception object, long text.
_NOT_ATTRIBUTES = frozenset({"trace_id", "span_id", "parent_span_id", "link_trace_id", "link_span_id", "exc_info",
                             "traceback"})
_MAX_TEXT = 4096
#: The keys of FLOW_END / FLOW_FAILURE set on the flow's span last (its outcome).
_FLOW_END_KEYS = ("state", "will_retry")
#: Flows whose start time is remembered at once; the oldest is forgotten first.
_MAX_FLOW_STARTS = 1024
#: The msg keys of a terminal event that become attributes of the attempt's span.
#: (``runtime`` is the span's duration.)
_END_KEYS = ("state", "reason", "expected", "countdown", "eta", "requeue", "exc_type", "exc_message")
_END_ATTRIBUTES = tuple((key, "flowtrace." + key) for key in _END_KEYS)


def _value(value: object) -> AttributeValue | None:
    """An attribute value: scalars as they are, anything else as JSON text."""
    if type(value) is str:
        return value if len(value) <= _MAX_TEXT else value[:_MAX_TEXT] + _serialize.TRUNCATED
    if value is None:
        return None
    if isinstance(value, (bool, int, float)) and not (isinstance(value, int) and abs(value) >= 1 << 63):
        return value
    if isinstance(value, str):
        return value if len(value) <= _MAX_TEXT else value[:_MAX_TEXT] + _serialize.TRUNCATED
    text = _serialize.dumps(value).decode("utf-8")
    return text if len(text) <= _MAX_TEXT else text[:_MAX_TEXT] + _serialize.TRUNCATED


def _attributes(msg: Mapping[str, Any], prefix: str = "flowtrace.") -> dict[str, AttributeValue]:
    attributes: dict[str, AttributeValue] = {}
    for key, value in msg.items():
        if not isinstance(key, str) or key in _NOT_ATTRIBUTES:
            continue
        attribute = _value(value)
        if attribute is not None:
            attributes[prefix + key] = attribute
    return attributes


def _parse_iso(text: str) -> float | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except Exception:
        return None


class _PresetIds:
    """An id generator that returns the ids flowtrace chose, once each, and defers to the SDK's otherwise.

    The OpenTelemetry SDK gives a span the ids its tracer's ``id_generator``
    returns. Wrapping that generator on flowtrace's own tracer (and only
    there) makes the span of an attempt carry the ids its events carry and
    that its children already name as their parent.
    """

    def __init__(self, wrapped: Any) -> None:
        self.wrapped = wrapped  # the SDK's IdGenerator
        self.local = threading.local()

    def preset(self, trace_id: int, span_id: int) -> None:
        self.local.trace_id = trace_id
        self.local.span_id = span_id

    def generate_span_id(self) -> int:
        local = self.local
        span_id = getattr(local, "span_id", None)
        if span_id is not None:
            local.span_id = None
            return span_id
        return self.wrapped.generate_span_id()

    def generate_trace_id(self) -> int:
        local = self.local
        trace_id = getattr(local, "trace_id", None)
        if trace_id is not None:
            local.trace_id = None
            return trace_id
        return self.wrapped.generate_trace_id()

    def is_trace_id_random(self) -> bool:
        # flowtrace's trace ids are 128 random bits (flowtrace._w3c.new_trace_id).
        if getattr(self.local, "trace_id", None) is not None:
            return True
        check = getattr(self.wrapped, "is_trace_id_random", None)
        return bool(check()) if callable(check) else False


class OtelSink:
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
        if tracer_provider is not None and not callable(getattr(tracer_provider, "get_tracer", None)):
            raise ValueError("tracer_provider must be an OpenTelemetry TracerProvider, got %r" % (tracer_provider,))
        self._provider = tracer_provider
        self._tracer: _trace.Tracer | None = None
        self._ids: _PresetIds | None = None
        self._lock = threading.Lock()
        #: span_id -> (span, start msg) for the attempts open in this process.
        self._open: dict[Any, tuple[_trace.Span, dict[str, Any]]] = {}
        #: dispatcher_id -> FLOW_START time (ns) of the flows started in this process.
        self._flow_starts: dict[Any, int] = {}
        self.name = "otel"
        self.failures = FailureCounter("sink otel")
        self.spans = 0
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

    # --- the tracer -----------------------------------------------------------

    def _get_tracer(self) -> _trace.Tracer | None:
        tracer = self._tracer
        if tracer is not None:
            return tracer
        provider = self._provider or _trace.get_tracer_provider()
        if isinstance(provider, _trace.ProxyTracerProvider):
            return None  # no provider set yet: nothing to record to
        from flowtrace import __version__

        with self._lock:
            if self._tracer is None:
                tracer = provider.get_tracer("flowtrace", __version__)
                generator = getattr(tracer, "id_generator", None)
                if generator is not None:
                    if not isinstance(generator, _PresetIds):
                        sdk_tracer: Any = tracer  # the SDK's Tracer has id_generator; the API's type has not
                        generator = sdk_tracer.id_generator = _PresetIds(generator)
                    self._ids = generator
                self._tracer = tracer
        return self._tracer

    def _start(self, tracer: _trace.Tracer, name: str, trace_id: str, span_id: str, parent: context.SpanRef | None,
               link: context.SpanRef | None, attributes: dict[str, AttributeValue], start_time: int | None,
               kind: SpanKind) -> _trace.Span:
        parent_ctx = _trace.set_span_in_context(NonRecordingSpan(parent.span_context())) \
            if parent is not None else _ROOT_CONTEXT
        links = [Link(link.span_context())] if link is not None else None
        ids = self._ids
        if ids is None:
            span = tracer.start_span(name, context=parent_ctx, kind=kind, attributes=attributes, links=links,
                                     start_time=start_time)
        else:
            local = ids.local
            local.trace_id, local.span_id = int(trace_id, 16), int(span_id, 16)
            try:
                span = tracer.start_span(name, context=parent_ctx, kind=kind, attributes=attributes, links=links,
                                         start_time=start_time)
            finally:
                local.trace_id = local.span_id = None
        self.spans += 1
        return span

    # --- events ---------------------------------------------------------------

    def __call__(self, event: int, msg_dict: dict[str, Any]) -> None:
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
                               attempt.link, _task_attributes(msg), None, SpanKind.CONSUMER)
            attempt.bind(span)
        else:
            span = self._start(tracer, msg.get("task_name") or "celery task", trace_id, span_id, _parent_of(msg),
                               _link_of(msg), _task_attributes(msg), None, SpanKind.CONSUMER)
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
            span = self._start(tracer, msg.get("task_name") or "celery task", trace_id, span_id, _parent_of(msg),
                               _link_of(msg), _task_attributes(msg),
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
                span.set_attribute("flowtrace.state", _value(state))
            span.end()
            return
        attributes: dict[str, AttributeValue] = {}
        for key, attribute in _END_ATTRIBUTES:
            value = get(key)
            if value is not None:
                attributes[attribute] = _value(value)
        span.set_attributes(attributes)
        if event == _FAILURE:
            exc = msg.get("exc_info")
            if isinstance(exc, BaseException):
                span.record_exception(exc, escaped=True)
            elif msg.get("exc_type"):
                span.add_event("exception", {"exception.type": msg["exc_type"],
                                             "exception.message": _value(msg.get("exc_message")) or "",
                                             "exception.stacktrace": _value(msg.get("traceback")) or ""})
            if msg.get("expected") is not True:
                span.set_status(Status(StatusCode.ERROR, "%s: %s" % (msg.get("exc_type"), msg.get("exc_message"))))
        else:
            span.add_event(name, _attributes(msg))
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
        from flowtrace import _w3c

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
            sent = _parse_iso(first) if isinstance(first, str) else None
            start = int(sent * 1e9) if sent is not None else None
        span = self._start(tracer, "flow %s" % msg.get("flow_name"), trace_id, _w3c.new_span_id(), parent, None,
                           _attributes({key: value for key, value in msg.items() if key not in _FLOW_END_KEYS}),
                           start, _internal())
        span.set_attributes(_attributes({key: msg[key] for key in _FLOW_END_KEYS if key in msg}))
        if event == _FLOW_FAILURE:
            span.set_status(Status(StatusCode.ERROR, "flow failed"))
        span.add_event(_NAMES.get(event) or str(event), _attributes(msg))
        span.end()

    def _span_event(self, event: int, msg: dict[str, Any]) -> None:
        span = _trace.get_current_span()
        if not span.is_recording():
            entry = self._open.get(msg.get("span_id"))
            if entry is None:
                self.unattached += 1
                return
            span = entry[0]
        span.add_event(_NAMES.get(event) or str(event), _attributes(msg))
        self.span_events += 1

    # --- lifecycle -----------------------------------------------------------

    def flush(self, timeout: float = 5.0) -> None:
        """Export what the provider's span processors hold, waiting up to ``timeout`` seconds."""
        provider = self._provider or _trace.get_tracer_provider()
        force_flush = getattr(provider, "force_flush", None)
        if callable(force_flush):
            force_flush(int(timeout * 1000))

    def close(self) -> None:
        """End the spans still open (their attempts never reported an end here), then flush."""
        open_spans, self._open = self._open, {}
        for span, _ in open_spans.values():
            span.set_status(Status(StatusCode.ERROR, "flowtrace sink closed before the span ended"))
            span.end()
        self.flush()

    def stats(self) -> dict[str, int]:
        """Return ``spans`` made, ``span_events`` added, ``unattached`` events (with no span to add
        them to) and the ``open`` spans."""
        return {"spans": self.spans, "span_events": self.span_events, "unattached": self.unattached,
                "open": len(self._open)}


def _internal() -> SpanKind:
    return SpanKind.INTERNAL


# A new trace: no parent, whatever span is current here.
_ROOT_CONTEXT = _trace.set_span_in_context(_trace.INVALID_SPAN, _otel_context.Context())


def _parent_of(msg: Mapping[str, Any]) -> context.SpanRef | None:
    parent = msg.get("parent_span_id")
    if isinstance(parent, str) and msg.get("trace_id"):
        return context.SpanRef(msg["trace_id"], parent)
    return None


def _link_of(msg: Mapping[str, Any]) -> context.SpanRef | None:
    if isinstance(msg.get("link_trace_id"), str) and isinstance(msg.get("link_span_id"), str):
        return context.SpanRef(msg["link_trace_id"], msg["link_span_id"])
    return None


#: The msg keys of TASK_START that become ``flowtrace.*`` attributes of an attempt's span (``task_id`` and
#: ``queue`` are there under their semantic-convention names).
_TASK_KEYS = ("task_name", "retries", "parent_id", "group_id", "hostname", "flow_name", "dispatcher_id", "parent",
              "node_args", "retried_count", "queue_latency", "args", "kwargs")


_TASK_ATTRIBUTES = tuple((key, "flowtrace." + key) for key in _TASK_KEYS)
_MESSAGING_ATTRIBUTES = tuple(_MESSAGING.items())


def _task_attributes(msg: Mapping[str, Any]) -> dict[str, AttributeValue]:
    attributes: dict[str, AttributeValue] = {"messaging.system": "celery", "messaging.operation.type": "process"}
    get = msg.get
    for key, name in _MESSAGING_ATTRIBUTES:
        value = get(key)
        if value is not None:
            attributes[name] = _value(value)
    for key, name in _TASK_ATTRIBUTES:
        value = get(key)
        if value is not None:
            value = _value(value)
            if value is not None:
                attributes[name] = value
    root_id = get("root_id")
    if root_id is not None and root_id != get("task_id"):
        attributes["flowtrace.root_id"] = _value(root_id)
    return attributes


__all__ = ["OtelSink"]
