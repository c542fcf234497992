"""The OpenTelemetry sink's tracer: found on the provider once one is set, making spans with flowtrace's ids.

The OpenTelemetry SDK gives a span the ids its tracer's ``id_generator``
returns. Wrapping that generator on flowtrace's own tracer (and only there)
makes the span of an attempt carry the ids its events carry and that its
children already name as their parent.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from opentelemetry import context as _otel_context
from opentelemetry import trace as _trace
from opentelemetry.trace import Link, NonRecordingSpan, SpanKind

from flowtrace._version import __version__

if TYPE_CHECKING:
    from opentelemetry.util.types import AttributeValue

    from flowtrace.context import SpanRef

# A new trace: no parent, whatever span is current here.
_ROOT_CONTEXT = _trace.set_span_in_context(_trace.INVALID_SPAN, _otel_context.Context())


class PresetIds:
    """An id generator that returns the ids flowtrace chose, once each, and defers to the SDK's otherwise."""

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


class PresetTracer:
    """The base of :class:`flowtrace.sinks.otel.OtelSink`: flowtrace's tracer on a provider, and spans with preset ids.

    Args:
        tracer_provider: the provider; by default the global one, looked up
            at each event until one is set.

    Raises:
        ValueError: if ``tracer_provider`` has no ``get_tracer``.
    """

    def __init__(self, tracer_provider: _trace.TracerProvider | None = None) -> None:
        if tracer_provider is not None and not callable(getattr(tracer_provider, "get_tracer", None)):
            raise ValueError("tracer_provider must be an OpenTelemetry TracerProvider, got %r" % (tracer_provider,))
        self._provider = tracer_provider
        self._tracer: _trace.Tracer | None = None
        self._ids: PresetIds | None = None
        self._lock = threading.Lock()
        self.spans = 0

    def _get_tracer(self) -> _trace.Tracer | None:
        tracer = self._tracer
        if tracer is not None:
            return tracer
        provider = self._provider or _trace.get_tracer_provider()
        if isinstance(provider, _trace.ProxyTracerProvider):
            return None  # no provider set yet: nothing to record to
        with self._lock:
            if self._tracer is None:
                tracer = provider.get_tracer("flowtrace", __version__)
                generator = getattr(tracer, "id_generator", None)
                if generator is not None:
                    if not isinstance(generator, PresetIds):
                        sdk_tracer: Any = tracer  # the SDK's Tracer has id_generator; the API's type has not
                        generator = sdk_tracer.id_generator = PresetIds(generator)
                    self._ids = generator
                self._tracer = tracer
        return self._tracer

    def _start(self, tracer: _trace.Tracer, name: str, trace_id: str, span_id: str, parent: SpanRef | None,
               link: SpanRef | None, attributes: dict[str, AttributeValue], start_time: int | None,
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
