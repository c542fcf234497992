"""Tests for flowtrace/context.py: the ids current here, new traces."""

import pytest
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

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


class TestNewTrace:
    """new_trace() sets the mode for the messages sent inside it."""

    def test_modes(self):
        """new_trace() is "new", new_trace(link=True) "link", and nothing after."""
        with context.new_trace():
            new = context.trace_mode_var.get()
        with context.new_trace(link=True):
            link = context.trace_mode_var.get()
        assert ("new", "link", None) == (new, link, context.trace_mode_var.get())
