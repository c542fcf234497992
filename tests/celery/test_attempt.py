"""Tests for flowtrace/celery/_attempt.py: the attempt's span, read from its message and current while it runs.

Attempts run through the tracer a worker child builds. Real workers on real
brokers are in tests/integration/test_trace_context.py.
"""

from celery import signals
from opentelemetry import context as otel_context
from opentelemetry import trace

from flowtrace import Trace, context
from flowtrace.celery import _attempt, instrument
from flowtrace.context import AttemptSpan
from flowtrace.testing import capture_events
from tests.celery.propagation import OTHER_SPAN, OTHER_TRACE, SPAN, TRACE, TRACEPARENT, starts, worker_call


class TestWorker:
    """What an attempt reads from its message, and what is current while it runs."""

    def test_attempt_is_a_child_of_the_message_parent(self, app):
        """The attempt keeps the trace id and gets a span id of its own, child of the producer's span."""
        instrument(app)
        with capture_events(events=["TASK_START", "TASK_END"]) as captured:
            worker_call(app, "unit.ok", traceparent=TRACEPARENT)
        (trace_id, span_id, parent), = starts(captured)
        end = captured[1][1]
        assert ((TRACE, SPAN), True, (TRACE, span_id, SPAN)) == (
            (trace_id, parent), span_id != SPAN, (end["trace_id"], end["span_id"], end["parent_span_id"]))

    def test_nested_headers_are_read_when_the_top_level_has_none(self, app):
        """A message whose trace headers are only in the nested dict continues that trace."""
        instrument(app)
        with capture_events(events=["TASK_START"]) as captured:
            worker_call(app, "unit.ok", headers={"traceparent": TRACEPARENT})
        assert [(TRACE, SPAN)] == [(t, p) for t, _, p in starts(captured)]

    def test_top_level_wins_over_nested(self, app):
        """When both have one, the top-level traceparent (Celery's request attribute) is used."""
        instrument(app)
        with capture_events(events=["TASK_START"]) as captured:
            worker_call(app, "unit.ok", traceparent=TRACEPARENT,
                        headers={"traceparent": "00-%s-%s-01" % (OTHER_TRACE, OTHER_SPAN)})
        assert [(TRACE, SPAN)] == [(t, p) for t, _, p in starts(captured)]

    def test_span_is_current_in_the_task(self, app):
        """In the task body, OpenTelemetry's current span is the attempt's; after it, nothing is."""
        seen = []
        task = app.tasks["unit.ok"]
        original = task.run
        task.run = lambda *a, **k: seen.append(trace.get_current_span().get_span_context())
        instrument(app)
        try:
            with capture_events(events=["TASK_START"]) as captured:
                worker_call(app, "unit.ok", traceparent=TRACEPARENT)
        finally:
            task.run = original
        (trace_id, span_id, _), = starts(captured)
        assert ([(int(trace_id, 16), int(span_id, 16), False)], False, (None, None)) == (
            [(c.trace_id, c.span_id, c.is_remote) for c in seen], trace.get_current_span().get_span_context().is_valid,
            context.current_ids())

    def test_tasks_sent_from_a_task_are_its_children(self, app, published):
        """A task sent from inside a task carries the attempt's span as its parent."""
        task = app.tasks["unit.ok"]
        original = task.run
        task.run = lambda *a, **k: app.tasks["unit.fail"].delay()
        instrument(app)
        try:
            with capture_events(events=["TASK_START"]) as captured:
                worker_call(app, "unit.ok", traceparent=TRACEPARENT)
        finally:
            task.run = original
        (trace_id, span_id, _), = starts(captured)
        assert ["00-%s-%s-01" % (TRACE, span_id)] * 2 == [published[0]["traceparent"],
                                                           published[0]["headers"]["traceparent"]]

    def test_retry_keeps_the_original_parent(self, app, published):
        """A retry's message names the attempt's own parent: attempts are siblings, never nested."""
        instrument(app)
        with capture_events(events=["TASK_START"]) as captured:
            task_id = worker_call(app, "unit.retry", traceparent=TRACEPARENT, tracestate="vendor=1")
            worker_call(app, "unit.retry", id=task_id, retries=1, **{
                key: value for key, value in published[0].items() if key in ("traceparent", "tracestate", "headers")})
        first, second = starts(captured)
        assert (TRACEPARENT, "vendor=1", (TRACE, SPAN), (TRACE, SPAN), True) == (
            published[0]["traceparent"], published[0]["tracestate"], (first[0], first[2]), (second[0], second[2]),
            first[1] != second[1])

    def test_retry_of_a_root_stays_in_its_trace(self, app, published):
        """A retry of an attempt that started its trace is the child of that first attempt, in the same trace."""
        instrument(app)
        with capture_events(events=["TASK_START"]) as captured:
            task_id = worker_call(app, "unit.retry")
            worker_call(app, "unit.retry", id=task_id, retries=1, traceparent=published[0]["traceparent"])
        first, second = starts(captured)
        assert ("00-%s-%s-03" % (first[0], first[1]), (first[0], first[1])) == (
            published[0]["traceparent"], (second[0], second[2]))

    def test_retry_of_a_new_trace_stays_in_it(self, app, published):
        """A task sent with flowtrace_trace: new keeps its new trace when it retries (the header is copied)."""
        instrument(app)
        with capture_events(events=["TASK_START"]) as captured:
            # As the producer sent it: no parent, the header asking for a new trace.
            task_id = worker_call(app, "unit.retry", flowtrace_trace="new")
            worker_call(app, "unit.retry", id=task_id, retries=1, **{
                key: value for key, value in published[0].items() if key in ("traceparent", "flowtrace_trace")})
        first, second = starts(captured)
        assert ((first[0], first[1]), "new") == ((second[0], second[2]), published[0]["flowtrace_trace"])

    def test_link(self, app):
        """A link message starts a trace whose first span carries the link."""
        instrument(app)
        with capture_events(events=["TASK_START"]) as captured:
            worker_call(app, "unit.ok", flowtrace_link=TRACEPARENT)
        start = captured[0][1]
        assert (None, TRACE, SPAN, True) == (start["parent_span_id"], start["link_trace_id"], start["link_span_id"],
                                             start["trace_id"] != TRACE)

    def test_eager_apply_inside_a_span(self, app, in_span):
        """apply() runs in this process: the current span is the parent."""
        instrument(app)
        in_span()
        with capture_events(events=["TASK_START"]) as captured:
            app.tasks["unit.ok"].apply()
        assert [(TRACE, SPAN)] == [(t, p) for t, _, p in starts(captured)]

    def test_eager_apply_inside_a_task(self, app):
        """A task applied eagerly inside another task is the child of its attempt."""
        task = app.tasks["unit.ok"]
        original = task.run
        task.run = lambda *a, **k: app.tasks["unit.fail"].apply()
        instrument(app)
        try:
            with capture_events(events=["TASK_START"]) as captured:
                worker_call(app, "unit.ok", traceparent=TRACEPARENT)
        finally:
            task.run = original
        outer, inner = starts(captured)
        assert (TRACE, outer[1]) == (inner[0], inner[2])

    def test_without_sinks_the_context_still_propagates(self, app, published):
        """Propagation does not need a sink: the child message carries the attempt's span."""
        task = app.tasks["unit.ok"]
        original = task.run
        task.run = lambda *a, **k: (app.tasks["unit.fail"].delay(), context.current_ids())[1]
        instrument(app)
        try:
            assert not Trace.enabled
            result = task.apply(headers={"traceparent": TRACEPARENT})
        finally:
            task.run = original
        assert published[0]["traceparent"] == "00-%s-%s-01" % result.result

class TestOutOfOrderContexts:
    """Another instrumentation that attaches after flowtrace and detaches after it does not leave a stale context."""

    def test_stale_context_released_at_next_attempt(self, app):
        """The context restored out of order is detached at the next attempt, and names nothing meanwhile."""
        other = []

        def other_prerun(**_):
            other.append(otel_context.attach(otel_context.set_value("other", 1)))

        def other_postrun(**_):
            otel_context.detach(other.pop())

        instrument(app)
        signals.task_prerun.connect(other_prerun, weak=False, dispatch_uid="tests.other.prerun")
        signals.task_postrun.connect(other_postrun, weak=False, dispatch_uid="tests.other.postrun")
        try:
            worker_call(app, "unit.ok", traceparent=TRACEPARENT)
            stale = trace.get_current_span()
            between = context.current_ids()
            worker_call(app, "unit.ok")
        finally:
            signals.task_prerun.disconnect(dispatch_uid="tests.other.prerun")
            signals.task_postrun.disconnect(dispatch_uid="tests.other.postrun")
            # The second attempt's own context is stale in turn: the next attempt would release it.
            _attempt._release_stale()
        assert (AttemptSpan, (None, None), {}) == (type(stale), between, dict(otel_context.get_current()))
