"""``flowtrace demo``: trace every outcome of a Celery task through a real worker process.

The demo runs in a fresh folder: Celery's embedded ``filesystem://`` broker,
a ``file://`` result backend and the JSON lines file of the events. It starts
``celery worker`` (prefork pool, two processes) on the app in
``examples/celery_demo/demo_app.py`` as a subprocess in a session of its own,
then sends, from this process, a task that succeeds, one that is retried
once and then succeeds, one that fails, one that is ignored, one that is
rejected, one revoked while it waits for its countdown and one that expired
before it was sent. Both processes are instrumented and append to the same
events file, so it holds every event from TASK_PUBLISH to the task's end.

Once every outcome is in, the worker is stopped by its process id (SIGTERM,
then SIGKILL to its whole process group, so no pool process outlives it),
and the demo prints the events as JSON lines, the ``flowtrace view`` trees of
the same lines and a one-line summary. Progress goes to standard error.

The command line imports this module, and through it Celery, only when the
demo runs, so that ``flowtrace events`` stays quick.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Callable, List, NamedTuple, Optional

__all__ = ["run", "CASES", "Case", "DemoFailed"]

_PROG = "flowtrace demo"

#: The module ``celery -A`` loads, found in :data:`EXAMPLE_DIR`.
APP_MODULE = "demo_app"
#: Where the demo app lives: ``examples/celery_demo`` of a source checkout.
EXAMPLE_DIR = Path(__file__).resolve().parent.parent / "examples" / "celery_demo"

#: Seconds to wait for the worker to be ready, and for each outcome.
START_TIMEOUT = 60.0
OUTCOME_TIMEOUT = 30.0
RESULT_TIMEOUT = 10.0
#: Seconds a SIGTERM'd worker gets to finish before its process group is killed.
STOP_GRACE = 10.0
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
#: :meth:`Demo._send_all`), the others in this order.
CASES = (
    Case("add", "demo.add", (2, 3), "TASK_END", "SUCCESS"),
    Case("flaky", "demo.flaky", (), "TASK_END", "SUCCESS"),
    Case("divide", "demo.divide", (1, 0), "TASK_FAILURE", "FAILURE"),
    Case("skip", "demo.skip", (), "TASK_IGNORED", None),
    Case("refuse", "demo.refuse", (), "TASK_REJECTED", None),
    Case("slow", "demo.slow", (), "TASK_REVOKED", None),
    Case("expired", "demo.add", (4, 5), "TASK_REVOKED", None),
)


class DemoFailed(Exception):
    """Something the demo waited for did not happen; the message says what."""


# --- the command --------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    """Run ``flowtrace demo``: print the events of every outcome, their trees and a summary.

    Args:
        args: the parsed command line; ``args.keep`` is the folder to run in
            and keep, or ``None`` for a temporary one.

    Returns:
        0 when every task ended as it should.

    Raises:
        flowtrace.cli.CliError: when the worker did not start, an outcome
            did not arrive in time or was not the expected one, or ``--keep``
            names a folder that is not empty.

    .. versionadded:: 0.1.0
    """
    from flowtrace.cli import CliError

    if not (EXAMPLE_DIR / (APP_MODULE + ".py")).is_file():
        raise CliError("the demo app is not at %s; flowtrace demo runs from a source checkout of flowtrace"
                       % (EXAMPLE_DIR / (APP_MODULE + ".py")))
    if args.keep:
        folder = Path(args.keep).resolve()
        if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
            raise CliError("--keep needs a new or empty folder, and %s is not one" % folder)
        folder.mkdir(parents=True, exist_ok=True)
    else:
        folder = Path(tempfile.mkdtemp(prefix="flowtrace-demo-"))
    try:
        demo = Demo(folder)
        try:
            demo.run()
        except DemoFailed as exc:
            _note("failed; the worker's last log lines:\n%s" % demo.log_tail())
            raise CliError(str(exc)) from None
        demo.print_report(sys.stdout)
    finally:
        if args.keep:
            _note("the demo's files are in %s" % folder)
        else:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


def _note(message: str) -> None:
    sys.stderr.write("%s: %s\n" % (_PROG, message))
    sys.stderr.flush()


# --- the run ------------------------------------------------------------------


class Demo:
    """One run of the demo in ``folder``: the worker, the producer app and the events file."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.broker_dir = folder / "broker"
        self.results_dir = folder / "results"
        self.events_path = folder / "events.jsonl"
        self.ready_path = folder / "worker.ready"
        self.log_path = folder / "worker.log"
        self.events = EventsFile(self.events_path)
        self.worker: Optional[subprocess.Popen] = None
        self.task_ids = {}
        self.elapsed = 0.0

    def run(self) -> None:
        """Start the worker, send every case and wait for its outcome, stop the worker.

        Raises:
            DemoFailed: when the worker does not start or an outcome is missing or wrong.
        """
        import flowtrace
        from flowtrace import Trace

        started = time.monotonic()
        module = _load_app_module()
        app = module.make_app(str(self.broker_dir), str(self.results_dir))
        # This process is the producer, traced as the worker is: its
        # TASK_PUBLISH events go to the same file as the worker's events.
        sink = module.trace(app, str(self.events_path))
        try:
            self._start_worker()
            self._send_all(app)
        finally:
            try:
                self._stop_worker()
            finally:
                flowtrace.uninstrument(app)
                Trace.remove_sink(sink)
                sink.close()
                app.close()
        self.elapsed = time.monotonic() - started

    # -- the worker --

    def _start_worker(self) -> None:
        env = dict(os.environ)
        package_root = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(
            [str(EXAMPLE_DIR), package_root] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
        env.update({"FLOWTRACE_DEMO_BROKER": str(self.broker_dir), "FLOWTRACE_DEMO_RESULTS": str(self.results_dir),
                    "FLOWTRACE_DEMO_EVENTS": str(self.events_path), "FLOWTRACE_DEMO_READY": str(self.ready_path)})
        command = [sys.executable, "-m", "celery", "-A", APP_MODULE, "worker", "--pool=prefork", "--concurrency=2",
                   "--loglevel=warning", "--hostname=flowtrace-demo@%h", "--without-heartbeat", "--without-gossip",
                   "--without-mingle"]
        _note("starting a celery worker (prefork, 2 processes) in %s" % self.folder)
        with open(self.log_path, "ab") as log:
            # A session of its own: Ctrl-C in the terminal reaches the demo only,
            # and the worker's process group can be killed as a whole.
            self.worker = subprocess.Popen(command, cwd=str(self.folder), env=env, stdin=subprocess.DEVNULL,
                                           stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        begun = time.monotonic()
        self._wait("the worker to be ready", self.ready_path.is_file, START_TIMEOUT)
        ready = json.loads(self.ready_path.read_text())
        _note("worker ready in %.1fs (pid %d)" % (time.monotonic() - begun, ready["pid"]))

    def _stop_worker(self) -> None:
        worker = self.worker
        if worker is None:
            return
        pid = worker.pid
        try:
            if _exit_status(worker) is None:
                worker.send_signal(signal.SIGTERM)  # a warm shutdown: the pool processes exit too
            deadline = time.monotonic() + STOP_GRACE
            while _exit_status(worker) is None and time.monotonic() < deadline:
                time.sleep(_POLL)
        finally:  # even when a second Ctrl-C cuts the grace period short
            # The leader is not reaped yet, so its process group id still names
            # the worker's group: kill whatever is left of it, pool processes included.
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            code = worker.wait(STOP_GRACE)
            _wait_group_gone(pid, STOP_GRACE)
        _note("stopped the worker (pid %d, %s)" % (pid, _describe(code)))

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of the worker's log, indented."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "  (no log)"
        return "\n".join("  " + line for line in text.splitlines()[-lines:]) or "  (empty)"

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
        found = []

        def seen() -> bool:
            found[:] = [name for name in self.events.names(task_id) if name in names]
            return bool(found)

        self._wait("%s (%s) to reach %s" % (case.label, case.task, " or ".join(sorted(names))), seen,
                   OUTCOME_TIMEOUT, lambda: "it has %s" % (self.events.names(task_id) or "no events"))
        return found[0]

    def _wait(self, what: str, done: Callable[[], bool], timeout: float,
              detail: Callable[[], str] = lambda: "") -> None:
        deadline = time.monotonic() + timeout
        while not done():
            status = _exit_status(self.worker)
            if status is not None:
                raise DemoFailed("the worker exited (%s) while waiting for %s" % (status, what))
            if time.monotonic() > deadline:
                extra = detail()
                raise DemoFailed("timed out after %gs waiting for %s%s" % (timeout, what,
                                                                            "; " + extra if extra else ""))
            time.sleep(_POLL)

    # -- the report --

    def print_report(self, out: IO) -> None:
        """Write the JSON lines, a blank line, the trees, a blank line and the summary on ``out``."""
        from flowtrace import view

        lines = self.events.lines()
        for line in lines:
            out.write(line + "\n")
        out.write("\n")
        view.render(lines, out=out, color=view._want_color("auto", out))
        out.write("\n" + self.summary() + "\n")

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
        return "%s: %d events from %d tasks in %.1fs: %s" % (_PROG, total, len(CASES), self.elapsed,
                                                             ", ".join(parts))


def _load_app_module():
    # Loaded from its file, so that this process's sys.path stays as it was.
    path = EXAMPLE_DIR / (APP_MODULE + ".py")
    spec = importlib.util.spec_from_file_location("flowtrace_demo_app", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _exit_status(process: Optional[subprocess.Popen]) -> Optional[str]:
    """How ``process`` ended, or ``None`` while it runs; it is left unreaped where the OS allows."""
    if process is None:
        return None
    code = process.returncode
    waitid = getattr(os, "waitid", None)
    if code is None and waitid is None:  # macOS before Python 3.13, where poll() is the only way, and reaps
        code = process.poll()
    if code is not None:
        return _describe(code)
    if waitid is None:
        return None
    try:
        info = waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return "exited"
    if info is None:
        return None
    return _describe(info.si_status if info.si_code == os.CLD_EXITED else -info.si_status)


def _wait_group_gone(pgid: int, timeout: float) -> None:
    # Pool processes killed with their leader are orphans until init reaps
    # them, which can take a second; the group's id is not reused meanwhile.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return
        time.sleep(_POLL)


def _describe(returncode: int) -> str:
    """``returncode`` as Popen gives it (minus the signal number for a killed process), in words."""
    if returncode >= 0:
        return "exit code %d" % returncode
    try:
        name = signal.Signals(-returncode).name
    except ValueError:
        name = "signal %d" % -returncode
    return "killed by %s" % name


class EventsFile:
    """The JSON lines file every process of the demo appends to, read as it grows."""

    def __init__(self, path: Path):
        self.path = path
        self._offset = 0
        self._partial = b""
        self._lines: List[str] = []
        self._records: List[dict] = []

    def _refresh(self) -> None:
        try:
            with open(self.path, "rb") as f:
                f.seek(self._offset)
                data = f.read()
        except FileNotFoundError:
            return
        self._offset += len(data)
        *complete, self._partial = (self._partial + data).split(b"\n")
        for raw in complete:
            line = raw.decode("utf-8", "replace")
            self._lines.append(line)
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and isinstance(record.get("details"), dict):
                self._records.append(record)

    def lines(self) -> List[str]:
        """Every complete line so far, as written."""
        self._refresh()
        return list(self._lines)

    def records(self) -> List[dict]:
        """Every event object so far."""
        self._refresh()
        return list(self._records)

    def names(self, task_id: str) -> List[str]:
        """The names of the events of one task, in file order."""
        return [r["event"] for r in self.records() if r["details"].get("task_id") == task_id]
