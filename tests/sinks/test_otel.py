"""Tests for flowtrace.sinks.otel: spans through the OpenTelemetry SDK, with the ids flowtrace chose.

Tasks run through the tracer a worker child builds, in this process; spans go
to the SDK's in-memory exporter. The same spans over OTLP/HTTP from real
workers are in tests/integration/test_trace_context.py.
"""

import uuid

import pytest
from celery import Celery
from celery.app.trace import build_tracer
from celery.exceptions import Ignore, Reject
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from flowtrace import Trace, context
from flowtrace.celery import _registry, instrument, uninstrument
from flowtrace.sinks.otel import OtelSink

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"
TRACEPARENT = "00-%s-%s-01" % (TRACE, SPAN)


class Expected(Exception):
    """In ``throws``."""


@pytest.fixture(autouse=True)
def _nothing_instrumented():
    yield
    for app in list(_registry.apps):
        uninstrument(app)


@pytest.fixture
def exporter():
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter):
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


@pytest.fixture
def sink(provider):
    return Trace.trace_by_otel(provider)


@pytest.fixture
def app(provider):
    app = Celery("otel", broker="memory://", backend="cache+memory://", set_as_current=False)
    app.conf.task_default_queue = "unit"
    tracer = provider.get_tracer("user code")

    @app.task(shared=False, name="unit.ok")
    def ok(value=None):
        return value

    @app.task(shared=False, name="unit.fail")
    def fail():
        raise ValueError("boom")

    @app.task(shared=False, name="unit.expected", throws=(Expected,))
    def expected():
        raise Expected("declared")

    @app.task(shared=False, name="unit.retry", bind=True, max_retries=1)
    def retry(self):
        if self.request.retries == 0:
            raise self.retry(exc=KeyError("flaky"), countdown=5)
        return "again"

    @app.task(shared=False, name="unit.ignore")
    def ignore():
        raise Ignore()

    @app.task(shared=False, name="unit.reject")
    def reject():
        raise Reject("bad input", requeue=False)

    @app.task(shared=False, name="unit.flow_start")
    def flow_start():
        Trace.log(Trace.FLOW_START, flow_name="orders", dispatcher_id="d9")

    @app.task(shared=False, name="unit.flow_end")
    def flow_end():
        Trace.log(Trace.FLOW_END, flow_name="orders", dispatcher_id="d9", state={"finished_nodes": {}})

    @app.task(shared=False, name="unit.children")
    def children():
        trace.get_current_span().set_attribute("order.id", "o-1")
        with tracer.start_as_current_span("download"):
            with tracer.start_as_current_span("inner"):
                pass
        with tracer.start_as_current_span("upload"):
            pass

    instrument(app)
    yield app
    app.close()


def worker_call(app, name, **request):
    task = app.tasks[name]
    task_id = request.pop("id", None) or str(uuid.uuid4())
    tracer = build_tracer(name, task, app=app, hostname="unit@host")
    request = dict({"id": task_id, "task": name, "root_id": task_id, "parent_id": None, "retries": 0,
                    "hostname": "unit@host", "is_eager": False,
                    "delivery_info": {"exchange": "", "routing_key": "unit"}}, **request)
    tracer(task_id, [], {}, request)
    return task_id


def hexes(span):
    parent = "%016x" % span.parent.span_id if span.parent is not None else None
    return "%032x" % span.context.trace_id, "%016x" % span.context.span_id, parent


class TestAttemptSpans:
    """A task attempt is a span from TASK_START to its terminal event."""

    def test_span_has_the_event_ids(self, app, sink, exporter):
        """The span's ids are those of TASK_START, its parent the producer's span, with messaging attributes."""
        captured = []
        Trace.trace_by_func(lambda event, msg: captured.append(msg), events=["TASK_START"])
        task_id = worker_call(app, "unit.ok", traceparent=TRACEPARENT)
        span, = exporter.get_finished_spans()
        start = captured[0]
        assert ((TRACE, start["span_id"], SPAN), "unit.ok", SpanKind.CONSUMER, StatusCode.UNSET) == (
            hexes(span), span.name, span.kind, span.status.status_code)
        assert {"messaging.system": "celery", "messaging.operation.type": "process",
                "messaging.destination.name": "unit",
                "messaging.message.id": task_id, "flowtrace.task_name": "unit.ok", "flowtrace.retries": 0,
                "flowtrace.state": "SUCCESS"} == {key: span.attributes[key] for key in (
                    "messaging.system", "messaging.operation.type",
                    "messaging.destination.name", "messaging.message.id", "flowtrace.task_name",
                    "flowtrace.retries", "flowtrace.state")}

    def test_root_of_a_new_trace(self, app, sink, exporter):
        """A message without context: the span is a root, in the trace id flowtrace chose."""
        captured = []
        Trace.trace_by_func(lambda event, msg: captured.append(msg), events=["TASK_START"])
        worker_call(app, "unit.ok")
        span, = exporter.get_finished_spans()
        assert (captured[0]["trace_id"], captured[0]["span_id"], None) == hexes(span)

    def test_failure(self, app, sink, exporter):
        """A failure is status ERROR with the exception recorded."""
        worker_call(app, "unit.fail")
        span, = exporter.get_finished_spans()
        exception, = [e for e in span.events if e.name == "exception"]
        assert (StatusCode.ERROR, "ValueError: boom", "ValueError", "boom") == (
            span.status.status_code, span.status.description, exception.attributes["exception.type"],
            exception.attributes["exception.message"])

    def test_expected_failure_is_not_an_error(self, app, sink, exporter):
        """An exception in Task.throws is recorded, and the status stays unset."""
        worker_call(app, "unit.expected")
        span, = exporter.get_finished_spans()
        assert (StatusCode.UNSET, ["exception"], True) == (
            span.status.status_code, [e.name for e in span.events], span.attributes["flowtrace.expected"])

    def test_retry_attempts_are_siblings(self, app, sink, exporter):
        """Each attempt is a span; both are children of the producer's span, and the first shows the retry sent."""
        published = []
        from celery import signals

        keep = lambda headers=None, **_: published.append(headers)  # noqa: E731
        signals.after_task_publish.connect(keep, weak=False, dispatch_uid="tests.otel.published")
        try:
            task_id = worker_call(app, "unit.retry", traceparent=TRACEPARENT)
            worker_call(app, "unit.retry", id=task_id, retries=1, traceparent=published[0]["traceparent"],
                        headers=published[0]["headers"])
        finally:
            signals.after_task_publish.disconnect(dispatch_uid="tests.otel.published")
        first, second = exporter.get_finished_spans()
        assert ((TRACE, SPAN), (TRACE, SPAN), (0, 1), ["TASK_PUBLISH", "TASK_RETRY"], "RETRY") == (
            (hexes(first)[0], hexes(first)[2]), (hexes(second)[0], hexes(second)[2]),
            (first.attributes["flowtrace.retries"], second.attributes["flowtrace.retries"]),
            [e.name for e in first.events], first.attributes["flowtrace.state"])

    @pytest.mark.parametrize("name,state", [("unit.ok", "SUCCESS"), ("unit.fail", "FAILURE"),
                                            ("unit.expected", "FAILURE"), ("unit.retry", "RETRY"),
                                            ("unit.ignore", "IGNORED"), ("unit.reject", "REJECTED")])
    def test_no_span_left_open(self, app, sink, exporter, name, state):
        """Every outcome ends its span."""
        worker_call(app, name)
        assert (0, [state]) == (sink.stats()["open"],
                                [s.attributes["flowtrace.state"] for s in exporter.get_finished_spans()])

    def test_children_of_the_attempt(self, app, sink, exporter):
        """Spans the task starts are children of the attempt's span; its current span is the real one."""
        worker_call(app, "unit.children", traceparent=TRACEPARENT)
        spans = {s.name: s for s in exporter.get_finished_spans()}
        attempt = spans["unit.children"]
        assert ({"download": attempt.context.span_id, "inner": spans["download"].context.span_id,
                 "upload": attempt.context.span_id}, "o-1") == (
            {name: spans[name].parent.span_id for name in ("download", "inner", "upload")},
            attempt.attributes["order.id"])

    def test_span_events(self, app, sink, exporter):
        """Events emitted while the attempt runs become its span events."""
        task = app.tasks["unit.ok"]
        original = task.run
        task.run = lambda value=None: Trace.log(Trace.STORAGE_STORE, storage_name="db", task_id="x")
        try:
            worker_call(app, "unit.ok")
        finally:
            task.run = original
        span, = exporter.get_finished_spans()
        event, = span.events
        assert ("STORAGE_STORE", "db") == (event.name, event.attributes["flowtrace.storage_name"])

    def test_publish_is_an_event_of_the_current_span(self, app, sink, exporter, provider):
        """TASK_PUBLISH in a web request's span is an event of that span."""
        with provider.get_tracer("web").start_as_current_span("POST /orders"):
            app.tasks["unit.ok"].delay(1)
        span, = exporter.get_finished_spans()
        assert ["TASK_PUBLISH"] == [e.name for e in span.events]


class TestMainProcessReports:
    """Attempts that ended outside their process: the main process makes their span."""

    def test_lost_child(self, sink, exporter):
        """A TASK_FAILURE with the attempt's ids and no open span is a span of its own, ended now."""
        Trace.log(Trace.TASK_FAILURE, task_name="unit.ok", task_id="t1", trace_id=TRACE, span_id="1111111111111111",
                  parent_span_id=SPAN, runtime=2.0, state="FAILURE", exc_type="billiard.exceptions.WorkerLostError",
                  exc_message="lost", expected=False)
        span, = exporter.get_finished_spans()
        assert ((TRACE, "1111111111111111", SPAN), StatusCode.ERROR, True) == (
            hexes(span), span.status.status_code, 1.5e9 < span.end_time - span.start_time < 3e9)

    def test_message_that_never_ran(self, sink, exporter):
        """A report with only the sender's ids (no parent_span_id) makes no span."""
        Trace.log(Trace.TASK_UNKNOWN, task_name="nope", task_id="t1", trace_id=TRACE, span_id=SPAN, state="FAILURE")
        assert ((), 1) == (exporter.get_finished_spans(), sink.stats()["unattached"])


class TestFlows:
    """A flow is a span from FLOW_START to FLOW_END or FLOW_FAILURE."""

    def test_in_one_process(self, sink, exporter):
        """FLOW_START then FLOW_END here: one span, child of the current span."""
        token = context.set_ids(TRACE, SPAN)
        try:
            Trace.log(Trace.FLOW_START, flow_name="orders", dispatcher_id="d1")
            Trace.log(Trace.FLOW_END, flow_name="orders", dispatcher_id="d1", state={"finished_nodes": {}})
        finally:
            context.reset_ids(token)
        span, = exporter.get_finished_spans()
        assert ("flow orders", TRACE, SPAN, StatusCode.UNSET) == (
            span.name, hexes(span)[0], hexes(span)[2], span.status.status_code)

    def test_failure_started_elsewhere(self, sink, exporter):
        """FLOW_FAILURE for a flow that started in another process: a span with the error status."""
        token = context.set_ids(TRACE, SPAN)
        try:
            Trace.log(Trace.FLOW_FAILURE, flow_name="orders", dispatcher_id="d2", state={}, will_retry=False)
        finally:
            context.reset_ids(token)
        span, = exporter.get_finished_spans()
        assert ("flow orders", TRACE, SPAN, StatusCode.ERROR) == (
            span.name, hexes(span)[0], hexes(span)[2], span.status.status_code)


    def test_across_dispatcher_attempts(self, app, sink, exporter):
        """FLOW_START in one dispatcher attempt and FLOW_END in a later one: one flow span beside both attempts."""
        worker_call(app, "unit.flow_start", traceparent=TRACEPARENT)
        assert 0 == sink.stats()["open"]
        worker_call(app, "unit.flow_end", traceparent=TRACEPARENT)
        first, flow, second = exporter.get_finished_spans()
        assert (["FLOW_START"], ("unit.flow_start", TRACE, SPAN), ("unit.flow_end", TRACE, SPAN),
                ("flow orders", TRACE, SPAN), ["FLOW_END"], True, 0) == (
            [e.name for e in first.events], (first.name, hexes(first)[0], hexes(first)[2]),
            (second.name, hexes(second)[0], hexes(second)[2]), (flow.name, hexes(flow)[0], hexes(flow)[2]),
            [e.name for e in flow.events], first.start_time <= flow.start_time <= first.end_time,
            sink.stats()["open"])

    def test_ends_in_another_process(self, app, sink, exporter):
        """A flow that started in another process: its span starts when the dispatcher was first sent."""
        sent = 1_700_000_000.25
        worker_call(app, "unit.flow_end", traceparent=TRACEPARENT, flowtrace_first_sent=sent)
        flow, attempt = exporter.get_finished_spans()
        assert (("flow orders", TRACE, SPAN), int(sent * 1e9), StatusCode.UNSET) == (
            (flow.name, hexes(flow)[0], hexes(flow)[2]), flow.start_time, flow.status.status_code)

    def test_start_not_left_open(self, app, sink, exporter):
        """A flow that starts here and ends elsewhere leaves no span open here to end wrongly at close."""
        worker_call(app, "unit.flow_start", traceparent=TRACEPARENT)
        sink.close()
        assert (["unit.flow_start"], StatusCode.UNSET) == (
            [span.name for span in exporter.get_finished_spans()], exporter.get_finished_spans()[0].status.status_code)


class TestLifecycle:
    """Providers, flushing and closing."""

    def test_api_only(self, app):
        """With no SDK provider set, the sink records nothing and nothing fails."""
        sink = Trace.trace_by_otel()
        worker_call(app, "unit.ok")
        assert ({"spans": 0, "span_events": 0, "unattached": 0, "open": 0}, 0) == (sink.stats(),
                                                                                  Trace.stats()["otel"]["errors"])

    def test_flush_flushes_the_provider(self):
        """flush(timeout) is the provider's force_flush, in milliseconds."""
        calls = []

        class Provider:
            def get_tracer(self, *args, **kwargs):
                raise AssertionError("not used")

            def force_flush(self, timeout_millis=30000):
                calls.append(timeout_millis)

        OtelSink(Provider()).flush(2.5)
        assert [2500] == calls

    def test_close_ends_open_spans(self, sink, exporter):
        """A span whose attempt never reported an end is ended by close(), as an error."""
        Trace.log(Trace.TASK_START, task_name="unit.ok", task_id="t1", trace_id=TRACE, span_id="2222222222222222",
                  parent_span_id=None)
        sink.close()
        span, = exporter.get_finished_spans()
        assert (StatusCode.ERROR, 0) == (span.status.status_code, sink.stats()["open"])

    def test_rejects_a_non_provider(self):
        """A tracer_provider without get_tracer is a ValueError."""
        with pytest.raises(ValueError, match="TracerProvider"):
            OtelSink(object())

    def test_configure(self):
        """``otel: true`` in the trace configuration registers the sink."""
        sink, = Trace.configure([{"otel": True}])
        assert isinstance(sink, OtelSink)
