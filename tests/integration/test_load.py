"""Many tasks of mixed outcomes on two prefork workers: every attempt ends exactly once."""

import collections
import os
import time
from urllib.parse import urlparse

import pytest

from tests.integration.harness import TERMINAL, Run, hook_failures

pytestmark = pytest.mark.integration

#: Tasks per broker; FLOWTRACE_LOAD_TASKS overrides it (see docs/celery.rst, "Tests").
TASKS = int(os.environ.get("FLOWTRACE_LOAD_TASKS", "2000"))

# (task name, weight): the outcomes that take no wall-clock time of their own.
MIX = (("it.ok", 8), ("it.fail", 3), ("it.expected", 2), ("it.retry_once", 2), ("it.ignore", 2),
       ("it.reject", 2), ("it.not_registered", 1))

_RUN = ("TASK_PUBLISH", "TASK_RECEIVED", "TASK_START")
SEQUENCES = {
    "it.ok": [(e, 0) for e in _RUN + ("TASK_END",)],
    "it.fail": [(e, 0) for e in _RUN + ("TASK_FAILURE",)],
    "it.expected": [(e, 0) for e in _RUN + ("TASK_FAILURE",)],
    "it.retry_once": [(e, 0) for e in _RUN + ("TASK_RETRY",)] + [(e, 1) for e in _RUN + ("TASK_END",)],
    "it.ignore": [(e, 0) for e in _RUN + ("TASK_IGNORED",)],
    "it.reject": [(e, 0) for e in _RUN + ("TASK_REJECTED",)],
    "it.not_registered": [("TASK_PUBLISH", 0), ("TASK_UNKNOWN", 0)],
}


def plan(count):
    """``count`` task names, interleaved by weight."""
    cycle = [name for name, weight in MIX for _ in range(weight)]
    return [cycle[i % len(cycle)] for i in range(count)]


def wait_for_final(run, expected_final, timeout_without_progress=90.0):
    """Wait until ``expected_final`` attempts have a terminal event other than TASK_RETRY."""
    seen, last_change = -1, time.monotonic()
    while True:
        final = sum(1 for r in run.events.refresh() if r["event"] in TERMINAL and r["event"] != "TASK_RETRY")
        if final >= expected_final:
            return
        if final != seen:
            seen, last_change = final, time.monotonic()
        elif time.monotonic() - last_change > timeout_without_progress:
            raise AssertionError("stuck at %d of %d finished tasks" % (final, expected_final))
        time.sleep(0.2)


class TestLoad:
    """The mixed load test of the issue, on each broker."""

    def test_mixed_outcomes_on_two_workers(self, broker, runs_dir, producing):
        """Every TASK_START has one terminal event, no event is duplicated, and every line is valid JSON."""
        run = Run(broker, runs_dir, "load")
        try:
            workers = [run.worker("w%d" % n, concurrency=2, start=False) for n in (1, 2)]
            for worker in workers:
                worker.launch()
            for worker in workers:
                worker.wait_ready()
            producing(run)
            names = plan(TASKS)
            sent = {}
            started = time.monotonic()
            with run.app.producer_or_acquire() as producer:
                for name in names:
                    sent[run.app.send_task(name, producer=producer).id] = name
            wait_for_final(run, len(sent))
            time.sleep(1.0)  # anything duplicated after the last terminal event shows up here
            elapsed = time.monotonic() - started
            records = run.events.refresh()
        finally:
            run.close()
        assert [] == hook_failures(run)

        assert ([], b"") == (run.events.invalid, run.events._partial)
        by_task = collections.defaultdict(list)
        for index, record in enumerate(records):
            details = record["details"]
            by_task[details["task_id"]].append((details.get("retries") or 0, index, record["event"], record["pid"]))
        assert set(sent) == set(by_task)

        # Every event is emitted once per attempt.
        counts = collections.Counter((task_id, retries, event)
                                     for task_id, rows in by_task.items() for retries, _, event, _ in rows)
        assert [] == [key for key, count in counts.items() if count != 1]

        # Every TASK_START has exactly one terminal event in its attempt.
        unmatched = []
        for task_id, rows in by_task.items():
            for retries in {r for r, _, event, _ in rows if event == "TASK_START"}:
                ends = [event for r, _, event, _ in rows if r == retries and event in TERMINAL]
                if len(ends) != 1:
                    unmatched.append((task_id, retries, ends))
        assert [] == unmatched

        # And each task went the way its outcome goes.
        wrong = {task_id: (sent[task_id], [(event, r) for r, _, event, _ in sorted(rows)])
                 for task_id, rows in by_task.items()
                 if [(event, r) for r, _, event, _ in sorted(rows)] != SEQUENCES[sent[task_id]]}
        assert {} == wrong

        # Both workers did the work: each one's hostname is on task starts.
        started_on = {record["details"]["hostname"] for record in records if record["event"] == "TASK_START"}
        assert {worker.hostname for worker in workers} == started_on
        print("\n%d tasks on %s in %.1fs" % (TASKS, urlparse(broker).scheme, elapsed))
