"""flowtrace.instrument() in every order a worker can meet it, with a real prefork worker."""

import pytest

from tests.integration.harness import break_connection

pytestmark = pytest.mark.integration

FULL_OK = [("TASK_PUBLISH", 0), ("TASK_RECEIVED", 0), ("TASK_START", 0), ("TASK_END", 0)]
FULL_FAIL = [("TASK_PUBLISH", 0), ("TASK_RECEIVED", 0), ("TASK_START", 0), ("TASK_FAILURE", 0)]
FULL_RETRY = [("TASK_PUBLISH", 0), ("TASK_RECEIVED", 0), ("TASK_START", 0), ("TASK_RETRY", 0),
              ("TASK_PUBLISH", 1), ("TASK_RECEIVED", 1), ("TASK_START", 1), ("TASK_END", 1)]


def send_mix(run, oks=4):
    """Send ``oks`` successes (enough to reach both pool children), a failure and a retry."""
    return {"ok": [run.app.send_task("it.ok", args=(i,)).id for i in range(oks)],
            "fail": run.app.send_task("it.fail").id,
            "retry": run.app.send_task("it.retry_once").id}


def sequences(run, sent):
    """The event sequences of the tasks from :func:`send_mix`, once each has ended."""
    for task_id in sent["ok"] + [sent["fail"]]:
        run.events.wait_terminal(task_id, settle=0)
    run.events.wait_terminal(sent["retry"], count=2)
    return {"ok": [run.events.names(task_id) for task_id in sent["ok"]],
            "fail": run.events.names(sent["fail"]),
            "retry": run.events.names(sent["retry"])}


class TestInstrumentOrders:
    """Each order in which instrument() can run, against a real worker."""

    def test_before_the_worker_starts(self, new_run, producing):
        """Called at import of the app module, every process reports its events."""
        run = new_run("import")
        run.worker(FLOWTRACE_IT_INSTRUMENT="import")
        producing(run)
        assert {"ok": [FULL_OK] * 4, "fail": FULL_FAIL, "retry": FULL_RETRY} == sequences(run, send_mix(run))

    def test_after_the_worker_started(self, new_run, producing):
        """Called in the main process once the pool runs, the children forked earlier still report."""
        run = new_run("ready")
        worker = run.worker(FLOWTRACE_IT_INSTRUMENT="worker_ready",
                            ready_marker="flowtrace-it: instrumented in the main process")
        producing(run)
        assert {"ok": [FULL_OK] * 4, "fail": FULL_FAIL, "retry": FULL_RETRY} == sequences(run, send_mix(run))
        starts = {r["pid"] for r in run.events.refresh() if r["event"] == "TASK_START"}
        assert set() == starts & {worker.proc.pid}

    def test_inside_prefork_children(self, new_run, producing):
        """Called in worker_process_init, the children report; the uninstrumented main process does not."""
        run = new_run("children")
        run.worker(FLOWTRACE_IT_INSTRUMENT="process_init")
        producing(run)
        without_received = {
            "ok": [[e for e in FULL_OK if e[0] != "TASK_RECEIVED"]] * 4,
            "fail": [e for e in FULL_FAIL if e[0] != "TASK_RECEIVED"],
            "retry": [e for e in FULL_RETRY if e[0] != "TASK_RECEIVED"],
        }
        assert without_received == sequences(run, send_mix(run))

    def test_called_everywhere(self, new_run, producing):
        """Called at import, in worker_ready and in every child, each event still comes out once."""
        run = new_run("everywhere")
        run.worker(FLOWTRACE_IT_INSTRUMENT="everywhere")
        producing(run)
        assert {"ok": [FULL_OK] * 4, "fail": FULL_FAIL, "retry": FULL_RETRY} == sequences(run, send_mix(run))

    def test_after_a_broker_reconnect(self, new_run, producing):
        """After the worker lost and re-established its broker connection, every event still comes out."""
        run = new_run("reconnect")
        worker = run.worker(FLOWTRACE_IT_INSTRUMENT="import")
        producing(run)
        assert {"ok": [FULL_OK] * 4, "fail": FULL_FAIL, "retry": FULL_RETRY} == sequences(run, send_mix(run))
        break_connection(run, worker)
        assert {"ok": [FULL_OK] * 4, "fail": FULL_FAIL, "retry": FULL_RETRY} == sequences(run, send_mix(run))
