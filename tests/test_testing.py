"""Tests for flowtrace/testing.py: capture_events."""

from flowtrace import Trace


class TestCaptureEvents:
    def test_captures_only_inside_the_block(self):
        """capture_events collects what is emitted inside the block and detaches afterwards."""
        from flowtrace.testing import capture_events

        Trace.log(Trace.TASK_START, n=0)
        with capture_events() as captured:
            Trace.log(Trace.TASK_START, n=1)
        Trace.log(Trace.TASK_START, n=2)
        assert ([(Trace.TASK_START, {"n": 1})], ["TASK_START"], []) == (captured, captured.names(), Trace.sinks())

    def test_nested_captures(self):
        """Nested captures each see the events emitted while they are open."""
        from flowtrace.testing import capture_events

        with capture_events() as outer:
            Trace.log(Trace.FLOW_START)
            with capture_events(min_level="warning") as inner:
                Trace.log(Trace.FLOW_END)
                Trace.log(Trace.FLOW_FAILURE)
        assert (["FLOW_START", "FLOW_END", "FLOW_FAILURE"], ["FLOW_FAILURE"]) == (outer.names(), inner.names())
