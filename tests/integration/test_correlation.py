"""Log correlation in a real worker: each task's ids on its records, and on nothing after it."""

import os
import time

import pytest

from tests.integration.harness import EventLog, hook_failures

pytestmark = pytest.mark.integration

#: The task that logs through its own logger, a third-party one and structlog (tests/integration/app.py).
TASK = "it.log"


def kind(record, task_id, label):
    """A short name for a record about the task ``task_id`` (sent with ``label``), or None."""
    logger, message = record.get("logger"), record.get("message") or record.get("event")
    if record["source"] == "structlog":
        return message if record.get("label") == label else None
    if logger == "it.correlation" and message in ("own " + label, "explicit " + label):
        return message.split(" ")[0]
    if logger == "urllib3.connectionpool" and message == "third-party " + label:
        return "third-party"
    if logger == "it.after" and message == "postrun receiver " + task_id:
        return "postrun receiver"
    if logger == "celery.worker.strategy" and "[%s] received" % task_id in message:
        return "received"
    if logger == "celery.app.trace" and "[%s]" % task_id in message:
        return "raised" if " raised unexpected" in message else "succeeded" if " succeeded in " in message else message
    return None


def correlated(records, task_id, label):
    """``{kind: (task_id, task_name)}`` for the records about one task."""
    found = {}
    for record in records:
        name = kind(record, task_id, label)
        if name is not None:
            assert name not in found, "two %r records for %s" % (name, task_id)
            found[name] = (record.get("task_id"), record.get("task_name"))
    return found


def expected(task_id, outcome):
    """What every record about a task run by the worker must carry."""
    mine = (task_id, TASK)
    return {"received": mine, "own": mine, "third-party": mine, "explicit": ("set-by-user", TASK),
            "structlog": mine, "structlog explicit": (task_id, "set-by-user"), outcome: mine,
            "postrun receiver": (None, None)}


def wait_lines(log, count_until, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not count_until(log.refresh()):
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for log lines; have %d" % len(log.records))
        time.sleep(0.05)
    return log.records


@pytest.fixture(params=["prefork", "threads"])
def logging_run(request, new_run):
    """A run with one worker (concurrency 1: consecutive tasks share a child or a thread) logging JSON lines."""
    run = new_run("logs-" + request.param)
    path = os.path.join(run.dir, "logs.jsonl")
    run.worker(concurrency=1, pool=request.param, FLOWTRACE_IT_LOGS=path)
    yield run, EventLog(path), request.param
    assert [] == hook_failures(run)


class TestCorrelation:
    """The fields on the records of consecutive tasks, in the worker's processes."""

    def test_consecutive_tasks(self, logging_run):
        """Each task's records carry its own ids, third-party and structlog included; later records none."""
        run, log, pool = logging_run
        sent = []
        for label, fail in (("first", False), ("second", True), ("third", False)):
            task_id = run.app.send_task(TASK, args=(label,), kwargs={"fail": fail}).id
            run.events.wait_terminal(task_id, settle=0)
            wait_lines(log, lambda records: any(r.get("message") == "postrun receiver " + task_id for r in records))
            sent.append((task_id, label, "raised" if fail else "succeeded"))
        records = log.refresh()
        assert [expected(task_id, outcome) for task_id, _, outcome in sent] == [
            correlated(records, task_id, label) for task_id, label, _ in sent]
        # Nothing else in any process carries one of these ids, and nothing
        # carries an id of a task that was not sent.
        known = {task_id for task_id, _, _ in sent} | {"set-by-user", None}
        assert [] == [r for r in records if r.get("task_id") not in known]
        # Every logging record got every field from the filter.
        assert [] == [r for r in records if r["source"] == "logging" and "<missing>" in r.values()]
        where = {(r["process"] == "MainProcess") for r in records if kind(r, sent[0][0], "first") == "own"}
        assert {pool == "threads"} == where

    def test_lost_child_in_the_main_process(self, new_run):
        """The main process's "Task handler raised error: WorkerLostError" line names the lost task."""
        run = new_run("logs-lost")
        path = os.path.join(run.dir, "logs.jsonl")
        run.worker(concurrency=1, FLOWTRACE_IT_LOGS=path)
        log = EventLog(path)
        task_id = run.app.send_task("it.die").id
        run.events.wait_terminal(task_id, settle=0)
        records = wait_lines(log, lambda rs: any("WorkerLostError" in (r.get("message") or "") for r in rs))
        failed = [(r["trace_id"], r["span_id"]) for r in run.events.refresh()
                  if r["event"] == "TASK_FAILURE" and r["details"]["task_id"] == task_id]
        lost = [(r["process"], r["task_id"], r["task_name"], (r["trace_id"], r["span_id"])) for r in records
                if r.get("logger") == "celery.worker.request" and "WorkerLostError" in r["message"]]
        assert (1, [("MainProcess", task_id, "it.die", failed[0])]) == (len(failed), lost)
        assert [] == hook_failures(run)
