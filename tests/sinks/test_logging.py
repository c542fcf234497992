"""Tests for flowtrace/sinks/logging.py."""

import logging

import pytest

from flowtrace import Trace
from flowtrace.sinks.logging import LoggingSink


class Keep(logging.Handler):
    def __init__(self):
        super().__init__()
        self.records = []

    def emit(self, record):
        self.records.append(record)


@pytest.fixture
def logger():
    log = logging.getLogger("test.flowtrace.logging")
    log.propagate = False
    log.setLevel(logging.INFO)
    handler = Keep()
    log.addHandler(handler)
    yield log, handler
    log.removeHandler(handler)


class TestLoggingSink:
    def test_levels_follow_selinon(self, logger):
        """DISPATCHER_FAILURE logs at error, warn events at warning, the rest at info."""
        log, handler = logger
        Trace.trace_by_logging(log)
        for event in (Trace.DISPATCHER_FAILURE, Trace.TASK_FAILURE, Trace.FLOW_RETRY, Trace.TASK_START):
            Trace.log(event)
        assert [("DISPATCHER_FAILURE", logging.ERROR), ("TASK_FAILURE", logging.WARNING),
                ("FLOW_RETRY", logging.WARNING), ("TASK_START", logging.INFO)] == [
            (r.event, r.levelno) for r in handler.records]

    def test_fields_are_extra_attributes(self, logger):
        """The event, its value, the msg dict and each msg key are attributes of the record; clashes are prefixed."""
        log, handler = logger
        Trace.trace_by_logging(log)
        Trace.log(Trace.TASK_START, task_name="add", name="clash", msg="clash2", queue="q")
        record = handler.records[0]
        assert ("TASK_START", 3, {"task_name": "add", "name": "clash", "msg": "clash2", "queue": "q"}, "add", "q",
                "clash", "clash2", "test.flowtrace.logging") == (
            record.event, record.event_id, record.details, record.task_name, record.queue,
            record.flowtrace_name, record.flowtrace_msg, record.name)

    def test_message_text(self, logger):
        """The formatted message is the event name followed by the details as JSON."""
        log, handler = logger
        Trace.trace_by_logging(log)
        Trace.log(Trace.FLOW_END, flow_name="f", state={"a": 1})
        assert 'FLOW_END {"flow_name":"f","state":{"a":1}}' == handler.records[0].getMessage()

    def test_disabled_level_does_no_work(self, logger, monkeypatch):
        """With INFO disabled, an info event creates no record and never renders the details."""
        log, handler = logger
        log.setLevel(logging.WARNING)
        rendered = []
        from flowtrace.sinks import logging as sink_module

        monkeypatch.setattr(sink_module._Details, "__str__", lambda self: rendered.append(1) or "")
        Trace.trace_by_logging(log)
        Trace.log(Trace.TASK_START, task_name="t")
        assert ([], []) == (handler.records, rendered)

    def test_default_logger_name(self):
        """Without a logger, the sink logs on flowtrace.trace."""
        assert "flowtrace.trace" == LoggingSink().logger.name

    def test_logger_by_name(self):
        """A string names the logger to use."""
        assert "my.events" == LoggingSink("my.events").logger.name

    def test_second_registration_keeps_the_first(self, logger):
        """Calling trace_by_logging with a logger and then without leaves the first sink on its own logger (a Selinon bug)."""
        log, handler = logger
        default_handler = Keep()
        default = logging.getLogger("flowtrace.trace")
        default.addHandler(default_handler)
        default.setLevel(logging.INFO)
        try:
            Trace.trace_by_logging(log)
            Trace.trace_by_logging()
            Trace.log(Trace.TASK_START)
        finally:
            default.removeHandler(default_handler)
        assert (["TASK_START"], ["TASK_START"]) == (
            [r.event for r in handler.records], [r.event for r in default_handler.records])

    def test_bad_logger(self):
        """A logger that is neither a Logger nor a name is rejected."""
        with pytest.raises(ValueError, match="logger must be a logging.Logger or a logger name"):
            LoggingSink(42)


class TestExpectedFailures:
    def test_expected_failure_logs_at_info(self, logger):
        """A failure marked expected (an exception in Task.throws) is logged at info, others at warning."""
        log, handler = logger
        Trace.trace_by_logging(log)
        Trace.log(Trace.TASK_FAILURE, task_name="t", expected=True)
        Trace.log(Trace.TASK_FAILURE, task_name="t", expected=False)
        assert [logging.INFO, logging.WARNING] == [r.levelno for r in handler.records]

    def test_expected_failure_is_skipped_when_info_is_off(self, logger):
        """With the logger at WARNING, an expected failure is not logged at all."""
        log, handler = logger
        log.setLevel(logging.WARNING)
        Trace.trace_by_logging(log)
        Trace.log(Trace.TASK_FAILURE, task_name="t", expected=True)
        assert [] == handler.records
