"""Tests for flowtrace/sinks/structlog.py."""

import sys

import pytest
import structlog
from structlog.testing import capture_logs

import flowtrace
from flowtrace import Trace


class TestStructlogSink:
    def test_event_name_and_key_values(self):
        """The event name is structlog's event, the msg keys are key-values, at the mapped level."""
        with capture_logs() as logs:
            Trace.trace_by_structlog()
            Trace.log(Trace.TASK_START, task_name="add", retries=0)
            Trace.log(Trace.TASK_FAILURE, task_name="add")
            Trace.log(Trace.DISPATCHER_FAILURE, flow_name="f")
        assert [
            {"event": "TASK_START", "event_id": 3, "task_name": "add", "retries": 0, "log_level": "info"},
            {"event": "TASK_FAILURE", "event_id": 8, "task_name": "add", "log_level": "warning"},
            {"event": "DISPATCHER_FAILURE", "event_id": 11, "flow_name": "f", "log_level": "error"},
        ] == logs

    def test_clashing_keys_are_prefixed(self):
        """A msg key named event or event_id is passed as flowtrace_event / flowtrace_event_id."""
        with capture_logs() as logs:
            Trace.trace_by_structlog()
            Trace.log(Trace.FLOW_END, {"event": "x", "event_id": 9})
        assert [{"event": "FLOW_END", "event_id": 15, "flowtrace_event": "x", "flowtrace_event_id": 9,
                 "log_level": "info"}] == logs

    def test_given_logger(self):
        """A logger passed in is the one used."""
        calls = []

        class Recorder:
            def info(self, event, **kw):
                calls.append((event, kw))

        Trace.trace_by_structlog(Recorder())
        Trace.log(Trace.FLOW_START, flow_name="f")
        assert [("FLOW_START", {"event_id": 1, "flow_name": "f"})] == calls

    def test_missing_structlog(self, monkeypatch):
        """Without structlog, registering the sink raises MissingDependency naming the extra, and flowtrace still imports."""
        monkeypatch.setitem(sys.modules, "structlog", None)
        with pytest.raises(flowtrace.MissingDependency) as info:
            Trace.trace_by_structlog()
        assert ("trace_by_structlog needs the 'structlog' package, which is not installed; "
                "install it with: pip install 'flowtrace[structlog]'", []) == (str(info.value), Trace.sinks())


def test_structlog_is_real():
    """The structlog used here is the real package (guards against a stub on the path)."""
    assert hasattr(structlog, "get_logger")


class TestExpectedFailures:
    def test_expected_failure_logs_at_info(self):
        """A failure marked expected is passed to structlog at info."""
        with capture_logs() as logs:
            Trace.trace_by_structlog()
            Trace.log(Trace.TASK_FAILURE, task_name="t", expected=True)
        assert [{"event": "TASK_FAILURE", "event_id": 8, "task_name": "t", "expected": True,
                 "log_level": "info"}] == logs
