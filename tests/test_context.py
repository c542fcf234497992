"""Tests for flowtrace.context: the ids current here, the attempt's span, new traces."""

import pytest
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from flowtrace import context
from flowtrace.context import AttemptSpan, SpanRef

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"


@pytest.fixture
def attempt():
    """An attempt's span made current, as the Celery integration does at task_prerun."""
    span = AttemptSpan(SpanRef(TRACE, SPAN, 1), parent=SpanRef(TRACE, "1111111111111111"), task_id="t1")
    token = otel_context.attach(trace.set_span_in_context(span))
    yield span
    otel_context.detach(token)


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


class TestCurrentIds:
    """current_ids() and current_span()."""

    def test_nothing_current(self):
        """Outside any trace: no ids, no span."""
        assert ((None, None), None) == (context.current_ids(), context.current_span())

    def test_inside_an_attempt(self, attempt):
        """Inside an attempt: its ids, and its SpanRef as the parent of what is sent."""
        assert ((TRACE, SPAN), SpanRef(TRACE, SPAN, 1)) == (context.current_ids(), context.current_span())

    def test_a_span_the_task_started(self, attempt):
        """Inside a span the task started (the SDK), that span's ids, in the attempt's trace."""
        provider = TracerProvider()
        with provider.get_tracer("t").start_as_current_span("download") as child:
            ids = context.current_ids()
            expected = (TRACE, "%016x" % child.get_span_context().span_id)
        assert (expected, "%016x" % child.parent.span_id) == (ids, SPAN)

    def test_ended_attempt_names_nothing(self, attempt):
        """An attempt's span left current after it ended (another tool restored it) names nothing."""
        attempt.ended = True
        assert ((None, None), None) == (context.current_ids(), context.current_span())

    def test_set_ids_wins(self, attempt):
        """Ids made current with set_ids win over any span."""
        token = context.set_ids("a" * 32, "b" * 16)
        try:
            assert (("a" * 32, "b" * 16), SpanRef("a" * 32, "b" * 16)) == (context.current_ids(),
                                                                            context.current_span())
        finally:
            context.reset_ids(token)


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


class TestNewTrace:
    """new_trace() sets the mode for the messages sent inside it."""

    def test_modes(self):
        """new_trace() is "new", new_trace(link=True) "link", and nothing after."""
        with context.new_trace():
            new = context.trace_mode_var.get()
        with context.new_trace(link=True):
            link = context.trace_mode_var.get()
        assert ("new", "link", None) == (new, link, context.trace_mode_var.get())
