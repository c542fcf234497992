"""Tests for flowtrace/celery/_stamp.py: the attempt's ids, chosen by the worker's main process at receipt."""

from flowtrace.celery import _order, _stamp, instrument
from flowtrace.context import SpanRef
from flowtrace.testing import capture_events
from tests.celery.propagation import OTHER_SPAN, OTHER_TRACE, SPAN, TRACE, TRACEPARENT, starts, worker_call


class TestStamp:
    """The stamp the main process hands to the pool, and what the attempt makes of it."""

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
        stamp = _stamp.stamp(request)
        span_id, trace_id, found = _stamp.stamped(stamp, 2)
        assert ((span_id, 2, TRACE, [SPAN, 1, "vendor=1"], [OTHER_TRACE, OTHER_SPAN]),
                (SpanRef(TRACE, SPAN, 1, "vendor=1"), SpanRef(OTHER_TRACE, OTHER_SPAN)), None) == (
            tuple(request["flowtrace_span"]), (found.parent, found.link), _stamp.stamped(stamp, 1))

    def test_stamp_unpickles_as_a_list_and_orders_receivers(self, monkeypatch):
        """Unpickled in a pool child, the stamp is a plain list, and flowtrace's receivers are put in order."""
        import pickle

        checked = []
        monkeypatch.setattr(_order, "check", lambda: checked.append(True))
        stamp = _stamp.stamp({"retries": 0})
        copy = pickle.loads(pickle.dumps(stamp))
        assert (list, list(stamp), [True]) == (type(copy), copy, checked)
