"""Tests for flowtrace/_spans.py: SpanRef and AttemptSpan, the span types of flowtrace.context."""

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from flowtrace.context import SpanRef
from tests.test_context import SPAN, TRACE, attempt  # noqa: F401 (attempt is a fixture)


class TestSpanRef:
    """SpanRef: a span as a traceparent names it."""

    def test_traceparent_sends_only_known_flags(self):
        """traceparent is version 00, with only the sampled and random bits of the flags."""
        assert "00-%s-%s-03" % (TRACE, SPAN) == SpanRef(TRACE, SPAN, 0xFF).traceparent

    def test_round_trip_through_opentelemetry(self):
        """A SpanRef becomes a SpanContext and back, tracestate included."""
        ref = SpanRef(TRACE, SPAN, 1, "vendor=1,other=x")
        back = SpanRef.from_span_context(ref.span_context())
        assert (ref, True) == (back, ref.span_context().is_remote)

    def test_invalid_span_context_is_none(self):
        """An invalid span context has no SpanRef."""
        assert None is SpanRef.from_span_context(trace.INVALID_SPAN_CONTEXT)


class TestAttemptSpan:
    """AttemptSpan: records nothing, until a real span is bound to it."""

    def test_not_recording_alone(self, attempt):
        """Alone it is a non-recording span with the attempt's ids; what is done to it goes nowhere."""
        attempt.set_attribute("order.id", "o-1")
        context_ = attempt.get_span_context()
        assert (False, int(TRACE, 16), int(SPAN, 16), False) == (
            attempt.is_recording(), context_.trace_id, context_.span_id, context_.is_remote)

    def test_bound_to_a_real_span(self, attempt):
        """Once bound, attributes, events, status and exceptions reach the real span."""
        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        real = provider.get_tracer("t").start_span("attempt")
        attempt.bind(real)
        trace.get_current_span().set_attribute("order.id", "o-1")
        trace.get_current_span().add_event("checkpoint")
        trace.get_current_span().record_exception(ValueError("x"))
        recording = attempt.is_recording()
        real.end()
        span, = exporter.get_finished_spans()
        assert (True, "o-1", ["checkpoint", "exception"]) == (
            recording, span.attributes["order.id"], [e.name for e in span.events])
