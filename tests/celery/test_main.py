"""Tests for flowtrace.celery._main: what the worker's main process reports.

The receivers are called as Celery calls them, with stand-ins for the
consumer, the message and the Request; real workers are in tests/integration.
"""

import time

from billiard.einfo import ExceptionInfo
from billiard.exceptions import TimeLimitExceeded, WorkerLostError
from celery.app.task import Context
from celery.exceptions import Reject, Retry

from flowtrace import Trace
from flowtrace.celery import _main, _patches, instrument
from flowtrace.testing import capture_events


class FakeConsumer:
    def __init__(self, app):
        self.app = app
        self.hostname = "w1@host"


class FakeMessage:
    def __init__(self, headers):
        self.headers = headers
        self.delivery_info = {"exchange": "", "routing_key": "unit"}


class FakeRequest:
    """What the hooks read from celery.worker.request.Request."""

    def __init__(self, task, task_id, retries=0, started=None):
        self.task = task
        self.type = task.name
        self.name = task.name
        self.id = task_id
        self.hostname = "w1@host"
        self.delivery_info = {"exchange": "", "routing_key": "unit"}
        self.request_dict = {"id": task_id, "task": task.name, "root_id": task_id, "parent_id": None,
                             "retries": retries, "group": None}
        self.time_start = started


def einfo(exc):
    try:
        raise exc
    except BaseException:
        return ExceptionInfo()


def names(captured):
    return [Trace.event2str(event) for event, _ in captured]


def received(app, task_id="t1", retries=0, started=None):
    """Deliver a FakeRequest through the task_received receiver; returns it."""
    request = FakeRequest(app.tasks["unit.ok"], task_id, retries, started)
    _main.on_received(sender=FakeConsumer(app), request=request)
    return request


IDENTITY = {"task_name": "unit.ok", "task_id": "t1", "parent_id": None, "root_id": "t1", "retries": 0,
            "queue": "unit", "hostname": "w1@host"}


class TestMainProcess:
    """The main process's receivers."""

    def test_received(self, app):
        """task_received gives TASK_RECEIVED with the identity keys."""
        instrument(app)
        with capture_events() as captured:
            request = received(app)
        # The attempt's ids, chosen here and handed to the pool with the request (a new trace: no parent).
        trace_id, span_id = captured[0][1]["trace_id"], captured[0][1]["span_id"]
        assert [(Trace.TASK_RECEIVED, dict(IDENTITY, trace_id=trace_id, span_id=span_id, parent_span_id=None,
                                           state="RECEIVED"))] == captured
        assert [span_id, 0, trace_id, None, None] == request.request_dict["flowtrace_span"]

    def test_reject_failure_is_not_reported(self, app):
        """Celery's task_failure for Reject(requeue=False) in the parent is dropped: the child reported it."""
        instrument(app)
        with capture_events() as captured:
            request = received(app)
            _main.on_failure(request.task, "t1", Reject("no", requeue=False), einfo(Reject("no")))
        assert ["TASK_RECEIVED"] == names(captured)

    def test_hard_time_limit_reported_once(self, app):
        """Celery reports a hard time limit twice (on_timeout and the pool's callback); one TASK_FAILURE comes out."""
        instrument(app)
        with capture_events() as captured:
            request = received(app, started=time.time() - 1.5)
            for _ in range(2):
                exc = TimeLimitExceeded(1)
                _main.on_failure(request.task, "t1", exc, einfo(exc))
        assert ["TASK_RECEIVED", "TASK_FAILURE"] == names(captured)
        failure = captured[-1][1]
        assert ("FAILURE", "billiard.exceptions.TimeLimitExceeded", False) == (
            failure["state"], failure["exc_type"], failure["expected"])
        assert failure["runtime"] >= 1.5

    def test_terminated_then_lost_reported_once(self, app):
        """A task revoked with terminate and then seen as a lost worker ends once, as TASK_REVOKED."""
        instrument(app)
        with capture_events() as captured:
            request = received(app, started=time.time())
            context = Context(request.request_dict, hostname="w1@host", delivery_info=request.delivery_info)
            _main.on_revoked(sender=request.task, request=context, terminated=True, signum=15, expired=False)
            _main.on_failure(request.task, "t1", WorkerLostError("lost"), einfo(WorkerLostError("lost")))
        assert ["TASK_RECEIVED", "TASK_REVOKED"] == names(captured)
        revoked = dict(captured[-1][1])
        assert isinstance(revoked.pop("runtime"), float)
        received_ids = {key: captured[0][1][key] for key in ("trace_id", "span_id", "parent_span_id")}
        assert dict(IDENTITY, **received_ids, state="REVOKED", reason="terminated", expired=False, terminated=True,
                    signum=15) == revoked

    def test_redelivery_is_a_new_attempt(self, app):
        """A redelivered message (same id and retries, new Request) can end again."""
        instrument(app)
        with capture_events() as captured:
            for _ in range(2):
                request = received(app)
                _main.on_failure(request.task, "t1", WorkerLostError("lost"), einfo(WorkerLostError("lost")))
        assert ["TASK_RECEIVED", "TASK_FAILURE", "TASK_RECEIVED", "TASK_FAILURE"] == names(captured)

    def test_cancelled_retry(self, app):
        """A retry Celery sends without a reason (a task cancelled on connection loss) says so."""
        instrument(app)
        with capture_events() as captured:
            request = received(app)
            _main.on_retry(request.task, Context(request.request_dict), None)
        assert ("TASK_RETRY", "cancelled by the worker") == (names(captured)[-1], captured[-1][1]["reason"])

    def test_retry_after_worker_lost(self, app):
        """retry_on_worker_lost's task_retry carries the reason and countdown."""
        instrument(app)
        with capture_events() as captured:
            request = received(app)
            reason = Retry(exc=WorkerLostError("lost"), when=3)
            _main.on_retry(request.task, Context(request.request_dict), reason)
        retry = captured[-1][1]
        assert ("RETRY", "billiard.exceptions.WorkerLostError", 3) == (
            retry["state"], retry["exc_type"], retry["countdown"])

    def test_unknown(self, app):
        """task_unknown gives TASK_UNKNOWN with the name and id from the message."""
        instrument(app)
        headers = {"task": "unit.nope", "id": "t9", "root_id": "t9", "parent_id": "p1", "retries": 0}
        with capture_events() as captured:
            _main.on_unknown(sender=FakeConsumer(app), message=FakeMessage(headers), exc=KeyError("unit.nope"),
                             name="unit.nope", id="t9")
        assert [(Trace.TASK_UNKNOWN, {"task_name": "unit.nope", "task_id": "t9", "parent_id": "p1", "root_id": "t9",
                                      "retries": 0, "queue": "unit", "hostname": "w1@host", "trace_id": None,
                                      "span_id": None, "state": "FAILURE",
                                      "reason": "not registered: unit.nope"})] == captured

    def test_rejected_message(self, app):
        """task_rejected gives TASK_REJECTED with the error as reason, and tolerates a message without headers."""
        instrument(app)
        with capture_events() as captured:
            _main.on_rejected(sender=FakeConsumer(app), message=FakeMessage(None), exc=None)
        assert [(Trace.TASK_REJECTED, {"task_name": None, "task_id": None, "parent_id": None, "root_id": None,
                                       "retries": 0, "queue": "unit", "hostname": "w1@host", "trace_id": None,
                                       "span_id": None, "state": "REJECTED",
                                       "reason": "unknown message format", "requeue": False})] == captured

    def test_decode_error_hook(self, app, monkeypatch):
        """The wrapped Consumer.on_decode_error runs Celery's method, then reports TASK_REJECTED."""
        instrument(app)
        calls = []
        hook = _patches._make_decode_error_hook(lambda *args: calls.append(args[1:]))
        message = FakeMessage({"task": "unit.ok", "id": "t1", "root_id": "t1", "retries": 0})
        exc = ValueError("bad json")
        with capture_events() as captured:
            hook(FakeConsumer(app), message, exc)
        assert [(message, exc)] == calls
        assert ("TASK_REJECTED", "ValueError: bad json") == (names(captured)[0], captured[0][1]["reason"])

    def test_requeued_after_worker_lost(self, app):
        """With acks_late and reject_on_worker_lost, a lost child's attempt ends as TASK_REJECTED, requeued."""
        instrument(app)
        task = app.tasks["unit.ok"]
        task.acks_late, task.reject_on_worker_lost = True, True
        with capture_events() as captured:
            request = received(app)
            _main.after_request_failure(request, einfo(WorkerLostError("gone")), False)
            _main.after_request_failure(request, einfo(WorkerLostError("gone")), False)
        assert ["TASK_RECEIVED", "TASK_REJECTED"] == names(captured)
        assert ("REJECTED", True, "billiard.exceptions.WorkerLostError: gone") == (
            captured[-1][1]["state"], captured[-1][1]["requeue"], captured[-1][1]["reason"])

    def test_lost_without_acks_late_is_left_to_task_failure(self, app):
        """Without acks_late Celery sends task_failure itself, so the fallback stays silent."""
        instrument(app)
        with capture_events() as captured:
            request = received(app)
            _main.after_request_failure(request, einfo(WorkerLostError("gone")), False)
        assert ["TASK_RECEIVED"] == names(captured)
