"""Tests for flowtrace/celery/_inject.py: the trace context the producer writes into a message.

Messages go through Celery's real publishing path on the in-memory broker
(``after_task_publish`` shows the headers as sent). Real workers on real
brokers are in tests/integration/test_trace_context.py.
"""

import pytest
from opentelemetry import baggage, propagate
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.propagators.textmap import TextMapPropagator

from flowtrace import context
from flowtrace.celery import instrument
from flowtrace.testing import capture_events
from tests.celery.propagation import OTHER_SPAN, OTHER_TRACE, SPAN, TRACE, TRACEPARENT, trace_headers


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
