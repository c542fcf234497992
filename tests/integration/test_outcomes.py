"""Every outcome of a task, run by a real prefork worker: the full event sequence of each."""

import datetime
import os
import re
import uuid

import pytest

from tests.integration.harness import Run, hook_failures

pytestmark = pytest.mark.integration

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


@pytest.fixture(scope="module")
def outcome_run(broker, runs_dir):
    """One worker (prefork, concurrency 2) per broker, shared by the tests of this module."""
    run = Run(broker, runs_dir, "outcomes")
    try:
        run.worker()
        yield run
    finally:
        run.close()
    assert [] == hook_failures(run)


@pytest.fixture
def run(outcome_run, producing):
    """The shared run, with the pytest process as its traced producer."""
    producing(outcome_run)
    return outcome_run


def attempt(retries, *names):
    """``[(name, retries), ...]`` for the events of one attempt."""
    return [(name, retries) for name in names]


def last(records, event):
    """The details of the last record of ``event``."""
    return [r for r in records if r["event"] == event][-1]["details"]


def pick(details, *keys):
    """The subset of ``details`` with ``keys`` (missing keys read as absent)."""
    return {key: details[key] for key in keys if key in details}


def worker_main_pid(run):
    return run.workers[0].proc.pid


class TestOutcomes:
    """One test per outcome; each asserts the task's whole event sequence."""

    def test_success(self, run):
        """A task that returns gives PUBLISH, RECEIVED, START, END with the documented msg dicts."""
        result = run.app.send_task("it.ok", args=(7,), kwargs={"user": "ann", "password": "hunter2"})
        records = run.events.wait_terminal(result.id)
        assert attempt(0, "TASK_PUBLISH", "TASK_RECEIVED", "TASK_START", "TASK_END") == run.events.names(result.id)
        hostname = run.workers[0].hostname
        identity = {"task_name": "it.ok", "task_id": result.id, "parent_id": None, "root_id": result.id,
                    "retries": 0, "queue": run.queue}
        publish, received, start, end = [r["details"] for r in records]
        # Sent outside any trace: the attempt starts one, its ids chosen when the worker received it.
        ids = {"trace_id": received["trace_id"], "span_id": received["span_id"], "parent_span_id": None}
        assert dict(identity, hostname=publish["hostname"], state="PENDING", trace_id=None, span_id=None, args=[7],
                    kwargs={"user": "ann", "password": "[redacted]"}) == publish
        assert publish["hostname"].startswith("gen%d@" % os.getpid())
        assert dict(identity, hostname=hostname, **ids, state="RECEIVED") == received
        assert isinstance(start.pop("queue_latency"), float)
        assert ISO.match(start.pop("first_sent"))
        assert dict(identity, hostname=hostname, **ids, state="STARTED", args=[7],
                    kwargs={"user": "ann", "password": "[redacted]"}) == start
        assert isinstance(end.pop("runtime"), float)
        assert dict(identity, hostname=hostname, **ids, state="SUCCESS") == end
        assert [(None, None)] + [(ids["trace_id"], ids["span_id"])] * 3 == [(r["trace_id"], r["span_id"])
                                                                            for r in records]

    def test_failure(self, run):
        """An exception gives one TASK_FAILURE with the exception's type, message and traceback."""
        result = run.app.send_task("it.fail", args=("no stock",))
        records = run.events.wait_terminal(result.id)
        assert attempt(0, "TASK_PUBLISH", "TASK_RECEIVED", "TASK_START", "TASK_FAILURE") == run.events.names(result.id)
        failure = last(records, "TASK_FAILURE")
        assert {"state": "FAILURE", "exc_type": "ValueError", "exc_message": "no stock", "expected": False,
                "exc_info": {"type": "ValueError", "message": "no stock"}} == pick(
            failure, "state", "exc_type", "exc_message", "expected", "exc_info")
        assert "raise ValueError(message)" in failure["traceback"]
        assert isinstance(failure["runtime"], float)

    def test_expected_failure(self, run):
        """An exception listed in Task.throws is a TASK_FAILURE marked expected."""
        result = run.app.send_task("it.expected")
        records = run.events.wait_terminal(result.id)
        assert attempt(0, "TASK_PUBLISH", "TASK_RECEIVED", "TASK_START", "TASK_FAILURE") == run.events.names(result.id)
        assert {"state": "FAILURE", "exc_type": "tests.integration.app.ExpectedError",
                "exc_message": "declared in throws", "expected": True} == pick(
            last(records, "TASK_FAILURE"), "state", "exc_type", "exc_message", "expected")

    def test_retry(self, run):
        """A retry ends its attempt with TASK_RETRY; the next attempt keeps the first enqueue time."""
        result = run.app.send_task("it.retry_once")
        records = run.events.wait_terminal(result.id, count=2)
        assert (attempt(0, "TASK_PUBLISH", "TASK_RECEIVED", "TASK_START", "TASK_RETRY")
                + attempt(1, "TASK_PUBLISH", "TASK_RECEIVED", "TASK_START", "TASK_END")) == run.events.names(result.id)
        retry = last(records, "TASK_RETRY")
        assert {"state": "RETRY", "retries": 0, "reason": "Retry in 0.2s: KeyError('flaky')", "exc_type": "KeyError",
                "exc_message": "'flaky'", "countdown": 0.2} == pick(
            retry, "state", "retries", "reason", "exc_type", "exc_message", "countdown", "exc_info")
        starts = [r["details"] for r in records if r["event"] == "TASK_START"]
        assert [0, 1] == [start["retries"] for start in starts]
        assert starts[0]["first_sent"] == starts[1]["first_sent"]

    def test_ignore(self, run):
        """Ignore ends the attempt with TASK_IGNORED."""
        result = run.app.send_task("it.ignore")
        records = run.events.wait_terminal(result.id)
        assert attempt(0, "TASK_PUBLISH", "TASK_RECEIVED", "TASK_START", "TASK_IGNORED") == run.events.names(result.id)
        assert "IGNORED" == last(records, "TASK_IGNORED")["state"]

    def test_reject(self, run):
        """Reject(requeue=False) is one TASK_REJECTED, though Celery also reports it as a failure in the parent."""
        result = run.app.send_task("it.reject")
        records = run.events.wait_terminal(result.id, settle=1.0)
        assert attempt(0, "TASK_PUBLISH", "TASK_RECEIVED", "TASK_START", "TASK_REJECTED") == run.events.names(result.id)
        assert {"state": "REJECTED", "reason": "cannot use this input", "requeue": False} == pick(
            last(records, "TASK_REJECTED"), "state", "reason", "requeue")

    def test_revoked_before_start(self, run):
        """A task revoked while it waits for its countdown is TASK_REVOKED from the main process."""
        result = run.app.send_task("it.ok", countdown=2)
        run.events.wait(result.id, lambda rs: any(r["event"] == "TASK_RECEIVED" for r in rs))
        run.app.control.revoke(result.id)
        records = run.events.wait_terminal(result.id)
        assert attempt(0, "TASK_PUBLISH", "TASK_RECEIVED", "TASK_REVOKED") == run.events.names(result.id)
        revoked = records[-1]
        assert worker_main_pid(run) == revoked["pid"]
        assert {"state": "REVOKED", "reason": "revoked", "expired": False, "terminated": False} == pick(
            revoked["details"], "state", "reason", "expired", "terminated", "runtime")

    def test_expired(self, run):
        """A task past its expiry is TASK_REVOKED with expired set, and never received as runnable."""
        past = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=1)
        result = run.app.send_task("it.ok", expires=past)
        records = run.events.wait_terminal(result.id)
        assert attempt(0, "TASK_PUBLISH", "TASK_REVOKED") == run.events.names(result.id)
        assert {"state": "REVOKED", "reason": "expired", "expired": True, "terminated": False} == pick(
            records[-1]["details"], "state", "reason", "expired", "terminated")

    def test_terminated(self, run):
        """A running task revoked with terminate=True ends with TASK_REVOKED from the main process."""
        result = run.app.send_task("it.sleep", args=(60,))
        run.events.wait(result.id, lambda rs: any(r["event"] == "TASK_START" for r in rs))
        run.app.control.revoke(result.id, terminate=True)
        records = run.events.wait_terminal(result.id, settle=2.0)
        assert attempt(0, "TASK_PUBLISH", "TASK_RECEIVED", "TASK_START", "TASK_REVOKED") == run.events.names(result.id)
        revoked = records[-1]
        assert worker_main_pid(run) == revoked["pid"]
        assert {"state": "REVOKED", "reason": "terminated", "expired": False, "terminated": True, "signum": 15} == pick(
            revoked["details"], "state", "reason", "expired", "terminated", "signum")
        assert isinstance(revoked["details"]["runtime"], float)

    def test_unknown(self, run):
        """A message for an unregistered task name is TASK_UNKNOWN."""
        result = run.app.send_task("it.not_registered")
        records = run.events.wait_terminal(result.id)
        assert attempt(0, "TASK_PUBLISH", "TASK_UNKNOWN") == run.events.names(result.id)
        assert {"task_name": "it.not_registered", "state": "FAILURE", "reason": "not registered: it.not_registered",
                "queue": run.queue, "hostname": run.workers[0].hostname} == pick(
            records[-1]["details"], "task_name", "state", "reason", "queue", "hostname")

    def test_undecodable(self, run):
        """A body that cannot be decoded is TASK_REJECTED with the decode error as reason."""
        task_id = self._publish_raw(run, b'[[1], {"unterminated', "application/json")
        records = run.events.wait_terminal(task_id)
        assert [("TASK_REJECTED", 0)] == run.events.names(task_id)
        rejected = records[-1]["details"]
        assert rejected["reason"].startswith("kombu.exceptions.DecodeError: ")
        assert {"task_name": "it.ok", "state": "REJECTED", "requeue": False, "queue": run.queue} == pick(
            rejected, "task_name", "state", "requeue", "queue")

    def test_content_not_accepted(self, run):
        """A body in a serializer the worker does not accept is TASK_REJECTED with the reason."""
        task_id = self._publish_raw(run, b"\x80\x04N.", "application/x-python-serialize")
        records = run.events.wait_terminal(task_id)
        assert [("TASK_REJECTED", 0)] == run.events.names(task_id)
        rejected = records[-1]["details"]
        assert rejected["reason"].startswith("kombu.exceptions.ContentDisallowed: ")
        assert {"task_name": "it.ok", "state": "REJECTED", "requeue": False} == pick(
            rejected, "task_name", "state", "requeue")

    def test_worker_lost(self, run):
        """A pool child killed mid-task gets its terminal TASK_FAILURE (WorkerLostError) from the main process."""
        result = run.app.send_task("it.die")
        records = run.events.wait_terminal(result.id, settle=1.0)
        assert attempt(0, "TASK_PUBLISH", "TASK_RECEIVED", "TASK_START", "TASK_FAILURE") == run.events.names(result.id)
        failure = records[-1]
        assert worker_main_pid(run) == failure["pid"]
        assert {"state": "FAILURE", "exc_type": "billiard.exceptions.WorkerLostError", "expected": False} == pick(
            failure["details"], "state", "exc_type", "expected")

    def test_worker_lost_and_requeued(self, run):
        """With acks_late and reject_on_worker_lost, the killed attempt ends as TASK_REJECTED, requeued."""
        marker = os.path.join(run.dir, "die-once-%s" % uuid.uuid4().hex)
        result = run.app.send_task("it.die_once", args=(marker,))
        records = run.events.wait_terminal(result.id, count=2, settle=1.0)
        assert attempt(0, "TASK_PUBLISH", "TASK_RECEIVED", "TASK_START", "TASK_REJECTED",
                       "TASK_RECEIVED", "TASK_START", "TASK_END") == run.events.names(result.id)
        rejected = [r for r in records if r["event"] == "TASK_REJECTED"][0]
        assert worker_main_pid(run) == rejected["pid"]
        assert {"state": "REJECTED", "requeue": True} == pick(rejected["details"], "state", "requeue")
        assert rejected["details"]["reason"].startswith("billiard.exceptions.WorkerLostError: ")

    def test_hard_time_limit(self, run):
        """A hard time limit is one TASK_FAILURE from the main process, though Celery reports it twice."""
        result = run.app.send_task("it.hard_limit")
        records = run.events.wait_terminal(result.id, settle=1.5)
        assert attempt(0, "TASK_PUBLISH", "TASK_RECEIVED", "TASK_START", "TASK_FAILURE") == run.events.names(result.id)
        failure = records[-1]
        assert worker_main_pid(run) == failure["pid"]
        assert {"state": "FAILURE", "exc_type": "billiard.exceptions.TimeLimitExceeded",
                "exc_message": "TimeLimitExceeded(1,)", "expected": False} == pick(
            failure["details"], "state", "exc_type", "exc_message", "expected")
        assert failure["details"]["runtime"] >= 1.0

    def test_chain_and_group_ids(self, run):
        """A chain's second task names the first as parent and root; group members carry the group id."""
        from celery import chain, group

        ok = run.app.signature("it.ok")
        first = chain(ok.clone(args=(1,)), ok.clone()).apply_async()
        second_id, first_id = first.id, first.parent.id
        run.events.wait_terminal(second_id)
        assert attempt(0, "TASK_PUBLISH", "TASK_RECEIVED", "TASK_START", "TASK_END") == run.events.names(second_id)
        assert {(first_id, first_id)} == {(r["details"]["parent_id"], r["details"]["root_id"])
                                         for r in run.events.for_task(second_id)}
        members = group(ok.clone(args=(1,)), ok.clone(args=(2,))).apply_async()
        for member in members.results:
            run.events.wait_terminal(member.id, settle=0)
        assert [{members.id}, {members.id}] == [{r["details"].get("group_id") for r in run.events.for_task(m.id)}
                                                for m in members.results]

    @staticmethod
    def _publish_raw(run, body: bytes, content_type: str) -> str:
        """Send a protocol 2 task message whose body Celery cannot use; returns its id."""
        task_id = str(uuid.uuid4())
        headers = {"lang": "py", "task": "it.ok", "id": task_id, "root_id": task_id, "parent_id": None,
                   "group": None, "retries": 0, "eta": None, "expires": None, "argsrepr": "()", "kwargsrepr": "{}"}
        with run.app.producer_or_acquire() as producer:
            producer.publish(body, exchange="", routing_key=run.queue, headers=headers,
                             content_type=content_type, content_encoding="binary", serializer=None,
                             declare=list(run.app.amqp.queues.values()))
        return task_id
