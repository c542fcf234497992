"""``flowtrace demo outcomes``: every outcome of a Celery task, through a real worker process.

The tour runs in a fresh folder: Celery's embedded ``filesystem://`` broker, a
``file://`` result backend and the JSON lines file of the events. It starts
``celery worker`` (prefork pool, two processes) on ``demo_app``, one of the
demo apps shipped in :data:`flowtrace.demo.APPS`, as a subprocess in a session
of its own, then sends, from this process, a task that succeeds, one that is
retried once and then succeeds, one that fails, one that is ignored, one that
is rejected, one revoked while it waits for its countdown and one that expired
before it was sent. Both processes are instrumented and append to the same
events file, so it holds every event from TASK_PUBLISH to the task's end.
"""

from __future__ import annotations

import datetime
import time
from pathlib import Path
from typing import IO, NamedTuple, Optional

from flowtrace.demo._worker import PROG, DemoFailed, DemoRun, Worker, load_module, print_report, running


#: Seconds to wait for each outcome, and for its stored result.
OUTCOME_TIMEOUT = 30.0
RESULT_TIMEOUT = 10.0
#: The countdown of the task that is revoked. The revoke must reach the worker
#: before it runs out, so it is generous; the other tasks run meanwhile.
REVOKE_COUNTDOWN = 2.0
_POLL = 0.05

#: Events that end an attempt; TASK_RETRY ends one attempt but not the task.
_FINAL = frozenset({"TASK_END", "TASK_FAILURE", "TASK_IGNORED", "TASK_REJECTED", "TASK_REVOKED", "TASK_UNKNOWN"})
_STATES = {"TASK_END": "SUCCESS", "TASK_FAILURE": "FAILURE", "TASK_IGNORED": "IGNORED",
           "TASK_REJECTED": "REJECTED", "TASK_REVOKED": "REVOKED", "TASK_UNKNOWN": "UNKNOWN"}


class Case(NamedTuple):
    """One task the demo sends, and how it must end.

    Attributes:
        label: the name used in progress messages and the summary.
        task: the Celery task name.
        args: the task's positional arguments.
        final: the event that must end the task.
        result_state: the state the result backend must report, or ``None``
            for outcomes that store no result the demo waits on.
    """

    label: str
    task: str
    args: tuple
    final: str
    result_state: Optional[str]


#: The tasks, in the order of the summary. ``slow`` is sent first (see
#: :meth:`OutcomeDemo._send_all`), the others in this order.
CASES = (
    Case("add", "demo.add", (2, 3), "TASK_END", "SUCCESS"),
    Case("flaky", "demo.flaky", (), "TASK_END", "SUCCESS"),
    Case("divide", "demo.divide", (1, 0), "TASK_FAILURE", "FAILURE"),
    Case("skip", "demo.skip", (), "TASK_IGNORED", None),
    Case("refuse", "demo.refuse", (), "TASK_REJECTED", None),
    Case("slow", "demo.slow", (), "TASK_REVOKED", None),
    Case("expired", "demo.add", (4, 5), "TASK_REVOKED", None),
)


# --- the run ------------------------------------------------------------------


class OutcomeDemo(DemoRun):
    """One run of the outcome tour in ``folder``, with the demo apps in ``app_dir``.

    It holds the worker, the producer app and the events file.
    """

    APP_MODULE = "demo_app"

    def __init__(self, folder: Path, app_dir: Path):
        self.broker_dir = folder / "broker"
        self.results_dir = folder / "results"
        events_path = folder / "events.jsonl"
        super().__init__(folder, app_dir, events_path, {
            "FLOWTRACE_DEMO_BROKER": str(self.broker_dir), "FLOWTRACE_DEMO_RESULTS": str(self.results_dir),
            "FLOWTRACE_DEMO_EVENTS": str(events_path)}, "FLOWTRACE_DEMO_READY", worker_class=Worker)
        self.task_ids: dict[str, str] = {}

    def run(self) -> None:
        """Start the worker, send every case and wait for its outcome, stop the worker.

        Raises:
            DemoFailed: when the worker does not start or an outcome is missing or wrong.
        """
        started = time.monotonic()
        module = load_module(self.app_dir / (self.APP_MODULE + ".py"), "flowtrace_demo_app")
        app = module.make_app(str(self.broker_dir), str(self.results_dir))
        # This process is the producer, traced as the worker is: its
        # TASK_PUBLISH events go to the same file as the worker's events.
        sink = module.trace(app, str(self.events_path))
        with running(self.worker, app, sink):
            self._send_all(app)
        self.elapsed = time.monotonic() - started

    # -- the tasks --

    def _send_all(self, app) -> None:
        # The revoked task goes first with a generous countdown, so that the
        # revoke reaches the worker while it holds the task, and the others
        # run, one after the other, while it waits.
        slow = next(case for case in CASES if case.label == "slow")
        result = app.send_task(slow.task, args=slow.args, countdown=REVOKE_COUNTDOWN)
        self.task_ids[slow.label] = result.id
        self._wait_event(slow, {"TASK_RECEIVED"})
        app.control.revoke(result.id)
        for case in CASES:
            if case is slow:
                continue
            options = {}
            if case.label == "expired":
                options["expires"] = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=1)
            result = app.send_task(case.task, args=case.args, **options)
            self.task_ids[case.label] = result.id
            self._wait_final(case)
            if case.result_state is not None:
                self._check_result(case, result)
        self._wait_final(slow)

    @staticmethod
    def _check_result(case: Case, result) -> None:
        # The worker stores the result before it reports the task's end, so this is quick.
        try:
            result.get(propagate=False, timeout=RESULT_TIMEOUT, interval=_POLL)
        except Exception as exc:
            raise DemoFailed("%s (%s): no result in the result backend after %gs (%s: %s)"
                             % (case.label, case.task, RESULT_TIMEOUT, type(exc).__name__, exc)) from None
        if result.state != case.result_state:
            raise DemoFailed("%s (%s): the result backend says %s, expected %s"
                             % (case.label, case.task, result.state, case.result_state))

    def _wait_final(self, case: Case) -> None:
        final = self._wait_event(case, _FINAL)
        if final != case.final:
            raise DemoFailed("%s (%s) ended with %s, expected %s" % (case.label, case.task, final, case.final))

    def _wait_event(self, case: Case, names) -> str:
        task_id = self.task_ids[case.label]
        found: list[str] = []

        def seen() -> bool:
            found[:] = [name for name in self.events.names(task_id) if name in names]
            return bool(found)

        self.worker.wait("%s (%s) to reach %s" % (case.label, case.task, " or ".join(sorted(names))), seen,
                         OUTCOME_TIMEOUT, lambda: "it has %s" % (self.events.names(task_id) or "no events"))
        return found[0]

    # -- the report --

    def print_report(self, out: IO) -> None:
        """Write the JSON lines, a blank line, the trees, a blank line and the summary on ``out``."""
        print_report(self.events, self.summary(), out)

    def summary(self) -> str:
        """One line: each task's outcome and how many events it had."""
        parts = []
        for case in CASES:
            names = self.events.names(self.task_ids[case.label])
            finals = [name for name in names if name in _FINAL]
            state = _STATES.get(finals[-1], finals[-1]) if finals else "unfinished"
            retries = names.count("TASK_RETRY")
            if retries:
                state += " after %d retr%s" % (retries, "y" if retries == 1 else "ies")
            parts.append("%s %s (%d events)" % (case.label, state, len(names)))
        total = len(self.events.records())
        return "%s: %d events from %d tasks in %.1fs: %s" % (PROG, total, len(CASES), self.elapsed,
                                                             ", ".join(parts))
