"""Tests for flowtrace.celery._propagate: trace context into message headers and out of them again.

Messages go through Celery's real publishing path on the in-memory broker
(``after_task_publish`` shows the headers as sent); attempts run through the
tracer a worker child builds. Real workers on real brokers are in
tests/integration/test_trace_context.py.
"""

import uuid

import pytest
from celery import signals
from celery.app.trace import build_tracer
from opentelemetry import baggage, propagate
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.propagators.textmap import TextMapPropagator
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from flowtrace import Trace, context
from flowtrace.celery import _order, _propagate, instrument
from flowtrace.context import AttemptSpan, SpanRef
from flowtrace.testing import capture_events

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"
TRACEPARENT = "00-%s-%s-01" % (TRACE, SPAN)
OTHER_TRACE = "0af7651916cd43dd8448eb211c80319c"
OTHER_SPAN = "b7ad6b7169203331"


@pytest.fixture
def published():
    """The headers of every message published in the test, as sent, in order."""
    sent = []

    def keep(headers=None, **_):
        sent.append(headers)

    signals.after_task_publish.connect(keep, weak=False, dispatch_uid="tests.published")
    yield sent
    signals.after_task_publish.disconnect(dispatch_uid="tests.published")


@pytest.fixture
def in_span():
    """Make a span with ids (trace_id, span_id) current, as a web framework's instrumentation would."""
    tokens = []

    def enter(trace_id=TRACE, span_id=SPAN, flags=1):
        span = NonRecordingSpan(SpanContext(int(trace_id, 16), int(span_id, 16), is_remote=False,
                                            trace_flags=TraceFlags(flags)))
        tokens.append(otel_context.attach(trace.set_span_in_context(span)))

    yield enter
    for token in reversed(tokens):
        otel_context.detach(token)


def worker_call(app, name, args=(), kwargs=None, **request):
    """Run a task through the tracer a worker child builds, in this thread; returns its id."""
    task = app.tasks[name]
    task_id = request.pop("id", None) or str(uuid.uuid4())
    tracer = build_tracer(name, task, app=app, hostname="unit@host")
    request = dict({"id": task_id, "task": name, "root_id": task_id, "parent_id": None, "retries": 0,
                    "hostname": "unit@host", "is_eager": False,
                    "delivery_info": {"exchange": "", "routing_key": "unit"}}, **request)
    tracer(task_id, list(args), kwargs or {}, request)
    return task_id


def trace_headers(headers):
    """The trace headers at the top level and in the nested dict."""
    nested = headers.get("headers") or {}
    return ({key: headers[key] for key in ("traceparent", "tracestate", "baggage", "flowtrace_link") if key in headers},
            {key: nested[key] for key in ("traceparent", "tracestate", "baggage", "flowtrace_link") if key in nested})


def starts(captured):
    """The (trace_id, span_id, parent_span_id) of each TASK_START captured."""
    return [(m["trace_id"], m["span_id"], m["parent_span_id"]) for e, m in captured if e == Trace.TASK_START]


class TestProducer:
    """What the publish hook writes into a message."""

    def test_no_context_no_traceparent(self, app, published):
        """A message sent outside any trace carries no traceparent: the worker starts a trace."""
        instrument(app)
        app.tasks["unit.ok"].delay(1)
        assert [({}, {})] == [trace_headers(h) for h in published]

    def test_current_span_is_the_parent(self, app, published, in_span):
        """Inside a span, delay() writes its traceparent at the top level and in the nested headers."""
        instrument(app)
        in_span()
        app.tasks["unit.ok"].delay(1)
        expected = {"traceparent": TRACEPARENT}
        assert [(expected, expected)] == [trace_headers(h) for h in published]

    def test_unsampled_flag_travels(self, app, published, in_span):
        """The caller's sampled flag is kept: 00 stays 00."""
        instrument(app)
        in_span(flags=0)
        app.tasks["unit.ok"].delay(1)
        assert "00-%s-%s-00" % (TRACE, SPAN) == published[0]["traceparent"]

    def test_set_ids_is_the_parent(self, app, published):
        """Ids made current with set_ids are the parent when no span is."""
        instrument(app)
        token = context.set_ids(OTHER_TRACE, OTHER_SPAN)
        try:
            app.send_task("unit.ok")
        finally:
            context.reset_ids(token)
        assert "00-%s-%s-01" % (OTHER_TRACE, OTHER_SPAN) == published[0]["traceparent"]

    def test_user_headers_are_merged_not_dropped(self, app, published, in_span):
        """apply_async(headers=...) keeps every user header, at the top level and in the nested dict (celery #4875)."""
        instrument(app)
        in_span()
        app.tasks["unit.ok"].apply_async(args=(1,), headers={"x-tenant": "acme", "request_id": "r-1"})
        headers = published[0]
        nested = headers["headers"]
        assert (("acme", "r-1"), ("acme", "r-1"), TRACEPARENT, TRACEPARENT) == (
            (headers["x-tenant"], headers["request_id"]), (nested["x-tenant"], nested["request_id"]),
            headers["traceparent"], nested["traceparent"])

    def test_existing_nested_headers_are_kept(self, app, published, in_span):
        """A nested headers dict another tool wrote (sentry-sdk does) keeps its keys; ours are added."""
        instrument(app)
        in_span()
        nested = {"sentry-trace": "abc-def-1", "baggage": "sentry-trace_id=abc"}
        app.tasks["unit.ok"].apply_async(headers={"headers": nested, "sentry-trace": "abc-def-1",
                                                  "baggage": "sentry-trace_id=abc"})
        sent = published[0]
        assert ("abc-def-1", "sentry-trace_id=abc", TRACEPARENT, "abc-def-1", "sentry-trace_id=abc") == (
            sent["headers"]["sentry-trace"], sent["headers"]["baggage"], sent["headers"]["traceparent"],
            sent["sentry-trace"], sent["baggage"])

    def test_explicit_traceparent_is_respected(self, app, published, in_span):
        """A traceparent given in apply_async(headers=...) is the parent, over the current span, as given."""
        instrument(app)
        in_span()
        explicit = "00-%s-%s-01" % (OTHER_TRACE, OTHER_SPAN)
        with capture_events(events=["TASK_PUBLISH"]) as captured:
            app.tasks["unit.ok"].apply_async(headers={"traceparent": explicit, "tracestate": "vendor=1"})
        expected = {"traceparent": explicit, "tracestate": "vendor=1"}
        assert ([(expected, expected)], (OTHER_TRACE, OTHER_SPAN)) == (
            [trace_headers(h) for h in published], (captured[0][1]["trace_id"], captured[0][1]["span_id"]))

    def test_explicit_future_version_is_left_as_given(self, app, published):
        """An explicit traceparent of a later version is not rewritten by the producer."""
        instrument(app)
        explicit = "cc-%s-%s-01-what-the-future-will-be-like" % (OTHER_TRACE, OTHER_SPAN)
        app.tasks["unit.ok"].apply_async(headers={"traceparent": explicit})
        assert [explicit, explicit] == [published[0]["traceparent"], published[0]["headers"]["traceparent"]]

    def test_malformed_explicit_traceparent_is_kept(self, app, published, in_span):
        """A malformed explicit traceparent is not dropped or replaced; the worker will start a new trace."""
        instrument(app)
        in_span()
        app.tasks["unit.ok"].apply_async(headers={"traceparent": "00-nonsense"})
        assert ["00-nonsense", "00-nonsense"] == [published[0]["traceparent"], published[0]["headers"]["traceparent"]]

    def test_baggage_travels(self, app, published, in_span):
        """OpenTelemetry baggage in the context goes out through the configured propagators."""
        instrument(app)
        in_span()
        token = otel_context.attach(baggage.set_baggage("tenant", "acme"))
        try:
            app.tasks["unit.ok"].delay()
        finally:
            otel_context.detach(token)
        expected = {"traceparent": TRACEPARENT, "baggage": "tenant=acme"}
        assert [(expected, expected)] == [trace_headers(h) for h in published]

    def test_baggage_merged_with_an_existing_one(self, app, published, in_span):
        """A baggage header already there (sentry-sdk's) keeps its members; ours are appended."""
        instrument(app)
        in_span()
        token = otel_context.attach(baggage.set_baggage("tenant", "acme"))
        try:
            app.tasks["unit.ok"].apply_async(headers={"baggage": "sentry-trace_id=abc,tenant=other"})
        finally:
            otel_context.detach(token)
        assert "sentry-trace_id=abc,tenant=other" == published[0]["baggage"]

    def test_configured_propagators_travel(self, app, published, in_span):
        """A propagator the user configured (B3 here, by a stand-in) writes its headers too, and traceparent stays."""

        class B3Single(TextMapPropagator):
            def inject(self, carrier, context=None, setter=None):
                ctx = trace.get_current_span(context).get_span_context()
                if ctx.is_valid:
                    carrier["b3"] = "%032x-%016x-1" % (ctx.trace_id, ctx.span_id)

            def extract(self, carrier, context=None, getter=None):
                return context

            @property
            def fields(self):
                return {"b3"}

        instrument(app)
        in_span()
        original = propagate.get_global_textmap()
        propagate.set_global_textmap(CompositePropagator([B3Single()]))
        try:
            app.tasks["unit.ok"].delay()
        finally:
            propagate.set_global_textmap(original)
        expected = {"traceparent": TRACEPARENT}
        assert ((expected, expected), "%s-%s-1" % (TRACE, SPAN), "%s-%s-1" % (TRACE, SPAN)) == (
            trace_headers(published[0]), published[0]["b3"], published[0]["headers"]["b3"])

    def test_new_trace_block(self, app, published, in_span):
        """Inside new_trace(), messages carry no parent."""
        instrument(app)
        in_span()
        with context.new_trace():
            app.tasks["unit.ok"].delay()
        assert [({}, {})] == [trace_headers(h) for h in published]

    def test_link_header(self, app, published, in_span):
        """flowtrace_trace: link sends no parent, and names the sending span for the worker to link to."""
        instrument(app)
        in_span()
        app.tasks["unit.ok"].apply_async(headers={"flowtrace_trace": "link"})
        expected = {"flowtrace_link": TRACEPARENT}
        assert [(expected, expected)] == [trace_headers(h) for h in published]

    def test_mode_drops_an_inherited_traceparent(self, app, published):
        """A message asked to start a new trace loses a traceparent it was given: the request wins."""
        instrument(app)
        app.tasks["unit.ok"].apply_async(headers={"flowtrace_trace": "new", "traceparent": TRACEPARENT})
        assert [({}, {})] == [trace_headers(h) for h in published]

    def test_new_trace_rejects_non_bool(self):
        """new_trace(link=...) takes a bool."""
        with pytest.raises(ValueError, match="'yes'"):
            with context.new_trace(link="yes"):
                pass


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

    def test_stamp_from_the_main_process(self, app):
        """The ids the main process chose at receipt are the attempt's, for the same retries only."""
        instrument(app)
        stamp = ["1234567890abcdef", 0, TRACE, [SPAN, 1, "vendor=1"], None]
        with capture_events(events=["TASK_START"]) as captured:
            worker_call(app, "unit.ok", traceparent=TRACEPARENT, flowtrace_span=stamp)
            worker_call(app, "unit.ok", flowtrace_span=["1234567890abcdef", 0, OTHER_TRACE, None, None])
            worker_call(app, "unit.ok", retries=1, flowtrace_span=stamp)
            worker_call(app, "unit.ok", flowtrace_span=["not hex", 0, TRACE, None, None])
        first, second, third, fourth = starts(captured)
        assert ((TRACE, "1234567890abcdef", SPAN), (OTHER_TRACE, "1234567890abcdef", None), True, True) == (
            first, second, third[1] != "1234567890abcdef", fourth[1] != "not hex" and fourth[0] != TRACE)

    def test_stamp_is_what_the_message_says(self):
        """The main process's stamp holds the validated parent and link, so the child need not parse again."""
        request = {"retries": 2, "traceparent": TRACEPARENT, "tracestate": "vendor=1",
                   "flowtrace_link": "00-%s-%s-01" % (OTHER_TRACE, OTHER_SPAN)}
        stamp = _propagate.stamp(request)
        span_id, trace_id, found = _propagate.stamped(stamp, 2)
        assert ((span_id, 2, TRACE, [SPAN, 1, "vendor=1"], [OTHER_TRACE, OTHER_SPAN]),
                (SpanRef(TRACE, SPAN, 1, "vendor=1"), SpanRef(OTHER_TRACE, OTHER_SPAN)), None) == (
            tuple(request["flowtrace_span"]), (found.parent, found.link), _propagate.stamped(stamp, 1))

    def test_stamp_unpickles_as_a_list_and_orders_receivers(self, monkeypatch):
        """Unpickled in a pool child, the stamp is a plain list, and flowtrace's receivers are put in order."""
        import pickle

        checked = []
        monkeypatch.setattr(_order, "check", lambda: checked.append(True))
        stamp = _propagate.stamp({"retries": 0})
        copy = pickle.loads(pickle.dumps(stamp))
        assert (list, list(stamp), [True]) == (type(copy), copy, checked)

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


MALFORMED_TRACEPARENTS = [
    pytest.param("ff-%s-%s-01" % (TRACE, SPAN), id="version ff"),
    pytest.param("00-%s-%s-01-extra" % (TRACE, SPAN), id="version 00 with more fields"),
    pytest.param("00-%s-%s-01" % ("0" * 32, SPAN), id="all-zero trace id"),
    pytest.param("00-%s-%s-01" % (TRACE, "0" * 16), id="all-zero parent id"),
    pytest.param("00-%s-%s-01" % (TRACE[:-1], SPAN), id="trace id too short"),
    pytest.param("00-%s-%s-01" % (TRACE + "0", SPAN), id="trace id too long"),
    pytest.param("00-%s-%s-1" % (TRACE, SPAN), id="flags too short"),
    pytest.param("00-%s-%s-01" % (TRACE.upper(), SPAN), id="upper case"),
    pytest.param("00-%s-%s-01" % (TRACE[:-1] + "g", SPAN), id="illegal character"),
    pytest.param("00_%s_%s_01" % (TRACE, SPAN), id="wrong separator"),
    pytest.param("00-%s-%s-01\n" % (TRACE, SPAN), id="newline"),
    pytest.param(["00-%s-%s-01" % (TRACE, SPAN), "00-%s-%s-01" % (OTHER_TRACE, OTHER_SPAN)], id="two different"),
    pytest.param(b"00-%s-%s-01" % (TRACE.encode(), SPAN.encode()), id="bytes"),
    pytest.param(12345, id="a number"),
    pytest.param("", id="empty"),
]


class TestMalformed:
    """W3C Trace Context's rules for input that is not valid: a new trace, the task untouched."""

    @pytest.mark.parametrize("value", MALFORMED_TRACEPARENTS)
    def test_traceparent_starts_a_new_trace(self, value):
        """Each malformed traceparent gives no parent, and is reported as malformed."""
        found = _propagate.from_headers({"traceparent": value, "tracestate": "vendor=1"})
        assert (None, True) == (found.parent, found.malformed)

    @pytest.mark.parametrize("value", MALFORMED_TRACEPARENTS)
    def test_task_runs_untouched(self, app, value):
        """The task runs with its arguments, in a new trace, and its request keeps the header as sent."""
        seen = []
        task = app.tasks["unit.ok"]
        original = task.run
        task.run = lambda *a, **k: seen.append((a, k, task.request.traceparent)) or "done"
        instrument(app)
        try:
            with capture_events(events=["TASK_START", "TASK_END"]) as captured:
                worker_call(app, "unit.ok", args=(1, 2), kwargs={"k": "v"}, traceparent=value)
        finally:
            task.run = original
        (trace_id, span_id, parent), = starts(captured)
        assert ([((1, 2), {"k": "v"}, value)], ["TASK_START", "TASK_END"], None, (32, 16), True) == (
            seen, [Trace.event2str(e) for e, _ in captured], parent, (len(trace_id), len(span_id)),
            trace_id != TRACE)

    @pytest.mark.parametrize("value", [
        pytest.param("  00-%s-%s-01\t" % (TRACE, SPAN), id="optional whitespace"),
        pytest.param("cc-%s-%s-01-future" % (TRACE, SPAN), id="a future version"),
        pytest.param(["00-%s-%s-01" % (TRACE, SPAN)] * 2, id="the same value twice"),
    ])
    def test_valid_variants(self, value):
        """Whitespace, a later version and a repeated identical value are valid."""
        assert SpanRef(TRACE, SPAN, 1, None) == _propagate.from_headers({"traceparent": value}).parent

    @pytest.mark.parametrize("value", [
        pytest.param("Vendor=1", id="upper-case key"),
        pytest.param("a=1,a=2", id="duplicate key"),
        pytest.param("a=1=2", id="equals in value"),
        pytest.param("a=1\x01", id="control character in value"),
        pytest.param(",".join("k%d=v" % i for i in range(33)), id="33 members"),
        pytest.param(["a=1", "a=2"], id="duplicate across fields"),
    ])
    def test_bad_tracestate_is_dropped_parent_kept(self, value):
        """A malformed tracestate is dropped; the valid traceparent is still the parent."""
        found = _propagate.from_headers({"traceparent": TRACEPARENT, "tracestate": value})
        assert (SpanRef(TRACE, SPAN, 1, None), False) == (found.parent, found.malformed)

    def test_tracestate_ignored_without_a_valid_traceparent(self):
        """With an invalid traceparent the tracestate is not used at all."""
        assert (None, None) == (_propagate.from_headers({"traceparent": "junk", "tracestate": "a=1"}).parent,
                                _propagate.from_headers({"tracestate": "a=1"}).parent)

    def test_reserved_flags_are_not_resent(self):
        """Unknown flag bits are read but not sent on: only sampled and random stay."""
        found = _propagate.from_headers({"traceparent": "00-%s-%s-ff" % (TRACE, SPAN)})
        assert ("00-%s-%s-03" % (TRACE, SPAN), 3) == (found.parent.traceparent, found.parent.flags)

    def test_bad_link_is_ignored(self):
        """A malformed flowtrace_link header links to nothing."""
        assert None is _propagate.from_headers({"flowtrace_link": "nope"}).link


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
            _propagate._release_stale()
        assert (AttemptSpan, (None, None), {}) == (type(stale), between, dict(otel_context.get_current()))


class TestReceiverOrder:
    """flowtrace's receivers around OpenTelemetry's CeleryInstrumentor."""

    def test_instrumentor_connected_later(self, app):
        """After CeleryInstrumentor: publish and prerun run after it, postrun before it."""
        from opentelemetry.instrumentation.celery import CeleryInstrumentor

        instrument(app)
        instrumentor = CeleryInstrumentor()
        instrumentor.instrument()
        try:
            _order.check()

            def order(signal):
                names = []
                for key, receiver in signal.receivers:
                    if key[0] and str(key[0]).startswith("flowtrace.celery"):
                        names.append("flowtrace")
                    elif _order._is_opentelemetry(receiver):
                        names.append("otel")
                return names

            assert (["otel", "flowtrace"], ["otel", "flowtrace"], ["flowtrace", "otel"]) == (
                order(signals.before_task_publish), order(signals.task_prerun), order(signals.task_postrun))
        finally:
            instrumentor.uninstrument()


class TestSentryHeaders:
    """sentry-sdk's CeleryIntegration writes sentry-trace and baggage; both travel beside traceparent."""

    def test_headers_coexist(self, app, published, in_span):
        """sentry-trace and Sentry's baggage survive, at both levels, and traceparent is ours."""
        import re

        import sentry_sdk
        from sentry_sdk.integrations.celery import CeleryIntegration
        from sentry_sdk.transport import Transport

        from tests.sinks.sentry_compat import start_root_span

        class Drop(Transport):
            def capture_envelope(self, envelope):
                pass

        with sentry_sdk.isolation_scope():
            sentry_sdk.init(dsn="http://public@127.0.0.1:9/1", transport=Drop, traces_sample_rate=1.0,
                            integrations=[CeleryIntegration()], default_integrations=False)
            try:
                instrument(app)
                in_span()
                # A transaction in sentry-sdk 2.x, a segment span in 3.x: the publish is in Sentry's trace.
                with start_root_span("checkout") as root:
                    app.tasks["unit.ok"].apply_async(headers={"x-tenant": "acme"})
                sentry_trace_id = root.trace_id
            finally:
                sentry_sdk.get_client().close(timeout=1.0)
                sentry_sdk.get_global_scope().set_client(None)
        headers = published[0]
        nested = headers["headers"]
        baggage_members = headers["baggage"].split(",")
        assert (TRACEPARENT, TRACEPARENT, True, True, "acme", "acme") == (
            headers["traceparent"], nested["traceparent"],
            headers["sentry-trace"] == nested["sentry-trace"]
            and re.fullmatch("%s-[0-9a-f]{16}-1" % sentry_trace_id, headers["sentry-trace"]) is not None,
            headers["baggage"] == nested["baggage"] and "sentry-trace_id=%s" % sentry_trace_id in baggage_members,
            headers["x-tenant"], nested["x-tenant"])
