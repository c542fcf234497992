"""Tests for flowtrace.celery._execute: TASK_START and one terminal event per attempt.

Tasks run in this process, through Celery's own tracer: eagerly (``apply``)
for what is specific to eager mode, and through ``build_tracer`` as a worker
child calls it. Cross-process behaviour is proven in tests/integration.
"""

import pytest

from flowtrace import Trace
from flowtrace.celery import _execute, _msg, _registry, instrument
from flowtrace.testing import capture_events
from tests.celery.propagation import worker_call

IDENTITY_KEYS = ("task_name", "task_id", "parent_id", "root_id", "retries", "queue", "hostname")


def names(captured):
    return [(Trace.event2str(event), msg.get("retries")) for event, msg in captured]


class TestTerminalEvents:
    """Each final state of Celery's tracer maps to exactly one terminal event."""

    @pytest.mark.parametrize("name,terminal,state", [
        ("unit.ok", "TASK_END", "SUCCESS"),
        ("unit.fail", "TASK_FAILURE", "FAILURE"),
        ("unit.expected", "TASK_FAILURE", "FAILURE"),
        ("unit.retry", "TASK_RETRY", "RETRY"),
        ("unit.ignore", "TASK_IGNORED", "IGNORED"),
        ("unit.reject", "TASK_REJECTED", "REJECTED"),
    ])
    def test_one_terminal_per_state(self, app, name, terminal, state):
        """TASK_START, then the terminal event of the tracer's final state, with the identity keys."""
        instrument(app)
        with capture_events(events=["TASK_START", terminal]) as captured:
            task_id = worker_call(app, name)
        assert [("TASK_START", 0), (terminal, 0)] == names(captured)
        start, end = (msg for _, msg in captured)
        identity = {"task_name": name, "task_id": task_id, "parent_id": None, "root_id": task_id, "retries": 0,
                    "queue": "unit", "hostname": "unit@host"}
        # A message with no trace context: the attempt starts a trace, its span the root.
        ids = {"trace_id": start["trace_id"], "span_id": start["span_id"], "parent_span_id": None}
        assert dict(identity, **ids, state="STARTED", queue_latency=None, first_sent=None) == start
        assert ((32, 16), ids) == ((len(ids["trace_id"]), len(ids["span_id"])), {key: end[key] for key in ids})
        assert (identity, state) == ({key: end[key] for key in IDENTITY_KEYS}, end["state"])
        assert isinstance(end["runtime"], float)

    def test_failure_details(self, app):
        """TASK_FAILURE carries type, message, traceback and the exception object for Sentry."""
        instrument(app)
        with capture_events() as captured:
            worker_call(app, "unit.fail")
        failure = captured[-1][1]
        assert ("ValueError", "boom", False, ValueError) == (
            failure["exc_type"], failure["exc_message"], failure["expected"], type(failure["exc_info"]))
        assert 'raise ValueError("boom")' in failure["traceback"]

    def test_expected_failure_is_info(self, app):
        """An exception in Task.throws is marked expected, so sinks report it at info."""
        from flowtrace import events

        instrument(app)
        with capture_events() as captured:
            worker_call(app, "unit.expected")
        event, failure = captured[-1]
        assert (True, "tests.celery.conftest.Expected", "info") == (
            failure["expected"], failure["exc_type"], events.level_for(event, failure))

    def test_retry_details(self, app):
        """TASK_RETRY says why and when, after the retry message was published, and carries no exception object."""
        instrument(app)
        with capture_events() as captured:
            worker_call(app, "unit.retry")
        assert [("TASK_START", 0), ("TASK_PUBLISH", 1), ("TASK_RETRY", 0)] == names(captured)
        retry = captured[-1][1]
        assert {"reason": "Retry in 5s: KeyError('flaky')", "exc_type": "KeyError", "exc_message": "'flaky'",
                "countdown": 5} == {key: retry[key] for key in ("reason", "exc_type", "exc_message", "countdown")}
        assert "exc_info" not in retry

    def test_reject_details(self, app):
        """TASK_REJECTED says why and whether the message goes back to the queue."""
        instrument(app)
        with capture_events() as captured:
            worker_call(app, "unit.reject")
        assert ("bad input", True) == (captured[-1][1]["reason"], captured[-1][1]["requeue"])

    @pytest.mark.filterwarnings("ignore:Exception raised outside body:RuntimeWarning")
    def test_error_outside_the_body_is_reported_once(self, app, monkeypatch):
        """An error after TASK_START but outside the body ends the attempt once, though Celery signals it twice."""
        instrument(app)

        def broken(*args, **kwargs):
            raise RuntimeError("loader broke")

        monkeypatch.setattr(app.loader, "on_task_init", broken)
        with capture_events() as captured:
            worker_call(app, "unit.ok")
        assert [("TASK_START", 0), ("TASK_FAILURE", 0)] == names(captured)
        assert ("RuntimeError", "loader broke") == (captured[-1][1]["exc_type"], captured[-1][1]["exc_message"])
        assert isinstance(captured[-1][1]["runtime"], float)

    def test_latency_from_the_publish_headers(self, app):
        """queue_latency and first_sent come from the headers the publish hook set."""
        instrument(app)
        with capture_events() as captured:
            worker_call(app, "unit.ok", flowtrace_sent=1.0, flowtrace_first_sent=0.5)
        start = captured[0][1]
        assert "1970-01-01T00:00:00.500000Z" == start["first_sent"]
        assert start["queue_latency"] > 1.0e9


class TestEager:
    """Eager mode's own reporting paths."""

    def test_apply_throw_reports_once(self, app):
        """apply(throw=True) reports through task_internal_error, not task_failure: still one TASK_FAILURE."""
        instrument(app)
        with capture_events() as captured:
            with pytest.raises(ValueError):
                app.tasks["unit.fail"].apply(throw=True)
        assert [("TASK_START", 0), ("TASK_FAILURE", 0)] == names(captured)
        assert ("FAILURE", "ValueError") == (captured[-1][1]["state"], captured[-1][1]["exc_type"])

    def test_apply_without_throw(self, app):
        """apply() reports the failure from the postrun state, once."""
        instrument(app)
        with capture_events() as captured:
            app.tasks["unit.fail"].apply()
        assert [("TASK_START", 0), ("TASK_FAILURE", 0)] == names(captured)

    def test_apply_retry_runs_the_next_attempt(self, app):
        """An eager retry ends attempt 0 with TASK_RETRY, and attempt 1 runs inline."""
        instrument(app)
        with capture_events() as captured:
            app.tasks["unit.retry"].apply()
        assert [("TASK_START", 0), ("TASK_RETRY", 0), ("TASK_START", 1), ("TASK_END", 1)] == names(captured)

    def test_apply_throw_retry(self, app):
        """A retry re-raised by apply(throw=True) is TASK_RETRY, not a failure."""
        instrument(app)
        with capture_events() as captured:
            with pytest.raises(Exception):
                app.tasks["unit.retry"].apply(throw=True)
        assert [("TASK_START", 0), ("TASK_RETRY", 0)] == names(captured)


class TestIsolation:
    """The hooks never disturb the task."""

    def test_hook_failure_is_counted_not_raised(self, app, monkeypatch):
        """A failing hook is counted on the integration's FailureCounter and the task still succeeds."""
        instrument(app)
        before = _registry.failures.count

        def broken(*args):
            raise RuntimeError("flowtrace bug")

        monkeypatch.setattr(_msg, "from_context", broken)
        with capture_events() as captured:
            result = app.tasks["unit.ok"].apply(args=(3,))
        assert (3, "SUCCESS") == (result.get(), result.state)
        assert [] == names(captured)
        assert 2 == _registry.failures.count - before

    def test_trace_context_failure_keeps_the_events(self, app, monkeypatch):
        """When the attempt's trace context cannot be entered, that is counted once and both events still go out."""
        from flowtrace.celery import _attempt

        instrument(app)
        before = _registry.failures.count

        def broken(*args):
            raise RuntimeError("flowtrace bug")

        monkeypatch.setattr(_attempt, "enter_attempt", broken)
        with capture_events() as captured:
            task_id = worker_call(app, "unit.ok", args=(3,))
        assert ([("TASK_START", 0), ("TASK_END", 0)], [task_id, task_id], [False, False], 1) == (
            names(captured), [msg["task_id"] for _, msg in captured], ["trace_id" in msg for _, msg in captured],
            _registry.failures.count - before)

    def test_no_sink_builds_no_message(self, app, monkeypatch):
        """Without a sink, no msg dict is built, and no attempt is left behind."""
        instrument(app)
        built = []
        monkeypatch.setattr(_msg, "from_context", lambda *args: built.append(args))
        app.tasks["unit.ok"].apply()
        app.tasks["unit.fail"].apply()
        assert ([], {}) == (built, _execute._running)

    def test_uninstrumented_app_is_silent(self, app):
        """Tasks of an app that is not instrumented emit nothing."""
        with capture_events() as captured:
            app.tasks["unit.ok"].apply()
        assert [] == captured


class TestArguments:
    """args and kwargs, only on request."""

    def test_left_out_by_default(self, app):
        """Without include_args, TASK_START has no args or kwargs."""
        instrument(app)
        with capture_events() as captured:
            app.tasks["unit.ok"].apply(args=(1,), kwargs={"token": "t"})
        assert {"args", "kwargs"}.isdisjoint(captured[0][1])

    def test_values_are_redacted(self, app):
        """With include_args and no custom repr, the values go in and secret keys are redacted."""
        instrument(app, include_args=True)
        with capture_events() as captured:
            worker_call(app, "unit.ok", args=(1,), kwargs={"token": "t", "user": "u"},
                        argsrepr="(1,)", kwargsrepr="{'token': 't', 'user': 'u'}", flowtrace_custom_repr=[False, False])
        assert ([1], {"token": "[redacted]", "user": "u"}) == (captured[0][1]["args"], captured[0][1]["kwargs"])

    def test_caller_repr_is_used(self, app):
        """A caller's argsrepr/kwargsrepr (flagged by the publish hook) is shown instead of the values."""
        instrument(app, include_args=True)
        with capture_events() as captured:
            worker_call(app, "unit.ok", args=(1,), kwargs={"card": "4111"},
                        argsrepr="(<id>,)", kwargsrepr="{'card': '****'}", flowtrace_custom_repr=[True, True])
        assert ("(<id>,)", "{'card': '****'}") == (captured[0][1]["args"], captured[0][1]["kwargs"])
