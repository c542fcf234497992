"""Tests for flowtrace/celery/_headers.py: reading a message's trace context by the W3C rules."""

import pytest

from flowtrace import Trace
from flowtrace.celery import _headers, instrument
from flowtrace.context import SpanRef
from flowtrace.testing import capture_events
from tests.celery.propagation import OTHER_SPAN, OTHER_TRACE, SPAN, TRACE, TRACEPARENT, starts, worker_call


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
        found = _headers.from_headers({"traceparent": value, "tracestate": "vendor=1"})
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
        assert SpanRef(TRACE, SPAN, 1, None) == _headers.from_headers({"traceparent": value}).parent

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
        found = _headers.from_headers({"traceparent": TRACEPARENT, "tracestate": value})
        assert (SpanRef(TRACE, SPAN, 1, None), False) == (found.parent, found.malformed)

    def test_tracestate_ignored_without_a_valid_traceparent(self):
        """With an invalid traceparent the tracestate is not used at all."""
        assert (None, None) == (_headers.from_headers({"traceparent": "junk", "tracestate": "a=1"}).parent,
                                _headers.from_headers({"tracestate": "a=1"}).parent)

    def test_reserved_flags_are_not_resent(self):
        """Unknown flag bits are read but not sent on: only sampled and random stay."""
        found = _headers.from_headers({"traceparent": "00-%s-%s-ff" % (TRACE, SPAN)})
        assert ("00-%s-%s-03" % (TRACE, SPAN), 3) == (found.parent.traceparent, found.parent.flags)

    def test_bad_link_is_ignored(self):
        """A malformed flowtrace_link header links to nothing."""
        assert None is _headers.from_headers({"flowtrace_link": "nope"}).link
