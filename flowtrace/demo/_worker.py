"""What both ``flowtrace demo`` runs share: a ``celery worker`` subprocess, the events file, waiting.

The worker runs in a session of its own, so that Ctrl-C in the terminal
reaches the demo only and the worker's whole process group can be killed.
It is stopped by its process id: SIGTERM (a warm shutdown, which stops its
pool processes too), then SIGKILL to whatever is left of its group after
:data:`STOP_GRACE` seconds, so no pool process ever outlives the demo.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

PROG = "flowtrace demo"

#: Seconds to wait for the worker to be ready.
START_TIMEOUT = 60.0
#: Seconds a SIGTERM'd worker gets to finish before its process group is killed.
STOP_GRACE = 10.0
POLL = 0.05

#: The folder that holds the ``flowtrace`` package: on the worker's import path, so
#: that it runs the same flowtrace as the demo, installed or not.
PACKAGE_PARENT = Path(__file__).resolve().parents[2]


class DemoFailed(Exception):
    """Something the demo waited for did not happen; the message says what.

    :func:`flowtrace.demo.run` turns it into a :class:`~flowtrace.errors.CliError`.

    .. versionadded:: 0.1.0
    """


def note(message: str) -> None:
    """Write one progress line on standard error."""
    sys.stderr.write("%s: %s\n" % (PROG, message))
    sys.stderr.flush()


class Worker:
    """One ``celery -A MODULE worker`` subprocess, run in ``folder`` with ``app_dir`` on its import path.

    Args:
        folder: the working directory; its log goes to ``folder/worker.log``.
        app_dir: the folder of the app module.
        app_module: the module ``celery -A`` loads.
        env: variables added to this process's environment.
        ready_path: the file the app writes ``{"pid": ...}`` to once the worker is ready.
        concurrency: the number of prefork pool processes.
    """

    def __init__(self, folder: Path, app_dir: Path, app_module: str, env: Dict[str, str], ready_path: Path,
                 concurrency: int = 2):
        self.folder = folder
        self.app_dir = app_dir
        self.app_module = app_module
        self.env = env
        self.ready_path = ready_path
        self.concurrency = concurrency
        self.log_path = folder / "worker.log"
        self.process: Optional[subprocess.Popen] = None

    def start(self) -> None:
        """Start the worker and wait until it is ready.

        Raises:
            DemoFailed: when it exits or is not ready within :data:`START_TIMEOUT` seconds.
        """
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            [str(self.app_dir), str(PACKAGE_PARENT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
        env.update(self.env)
        command = [sys.executable, "-m", "celery", "-A", self.app_module, "worker", "--pool=prefork",
                   "--concurrency=%d" % self.concurrency, "--loglevel=warning", "--hostname=flowtrace-demo@%h",
                   "--without-heartbeat", "--without-gossip", "--without-mingle"]
        note("starting a celery worker (prefork, %d processes) in %s" % (self.concurrency, self.folder))
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(command, cwd=str(self.folder), env=env, stdin=subprocess.DEVNULL,
                                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        begun = time.monotonic()
        self.wait("the worker to be ready", self.ready_path.is_file, START_TIMEOUT)
        ready = json.loads(self.ready_path.read_text())
        note("worker ready in %.1fs (pid %d)" % (time.monotonic() - begun, ready["pid"]))

    def stop(self) -> None:
        """Stop the worker by its process id, and kill whatever is left of its process group."""
        process = self.process
        if process is None:
            return
        pid = process.pid
        try:
            if exit_status(process) is None:
                process.send_signal(signal.SIGTERM)  # a warm shutdown: the pool processes exit too
            deadline = time.monotonic() + STOP_GRACE
            while exit_status(process) is None and time.monotonic() < deadline:
                time.sleep(POLL)
        finally:  # even when a second Ctrl-C cuts the grace period short
            # The leader is not reaped yet, so its process group id still names
            # the worker's group: kill whatever is left of it, pool processes included.
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            code = process.wait(STOP_GRACE)
            _wait_group_gone(pid, STOP_GRACE)
        note("stopped the worker (pid %d, %s)" % (pid, describe(code)))

    def wait(self, what: str, done: Callable[[], bool], timeout: float,
             detail: Callable[[], str] = lambda: "") -> None:
        """Poll ``done()`` until it is true.

        Raises:
            DemoFailed: when the worker exits first, or ``timeout`` seconds pass;
                the message ends with ``detail()`` when it says something.
        """
        deadline = time.monotonic() + timeout
        while not done():
            status = exit_status(self.process)
            if status is not None:
                raise DemoFailed("the worker exited (%s) while waiting for %s" % (status, what))
            if time.monotonic() > deadline:
                extra = detail()
                raise DemoFailed("timed out after %gs waiting for %s%s" % (timeout, what,
                                                                            "; " + extra if extra else ""))
            time.sleep(POLL)

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of the worker's log, indented."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "  (no log)"
        return "\n".join("  " + line for line in text.splitlines()[-lines:]) or "  (empty)"


def exit_status(process: Optional[subprocess.Popen]) -> Optional[str]:
    """How ``process`` ended, or ``None`` while it runs; it is left unreaped where the OS allows."""
    if process is None:
        return None
    code = process.returncode
    waitid = getattr(os, "waitid", None)
    if code is None and waitid is None:  # macOS before Python 3.13, where poll() is the only way, and reaps
        code = process.poll()
    if code is not None:
        return describe(code)
    if waitid is None:
        return None
    try:
        info = waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return "exited"
    if info is None:
        return None
    return describe(info.si_status if info.si_code == os.CLD_EXITED else -info.si_status)


def _wait_group_gone(pgid: int, timeout: float) -> None:
    # Pool processes killed with their leader are orphans until init reaps
    # them, which can take a second; the group's id is not reused meanwhile.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return
        time.sleep(POLL)


def describe(returncode: int) -> str:
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

    def find(self, names: Sequence[str], **match) -> List[dict]:
        """The details of the events named in ``names`` whose details hold every ``match`` item, in file order."""
        return [r["details"] for r in self.records()
                if r["event"] in names and all(r["details"].get(key) == value for key, value in match.items())]


def print_report(events: EventsFile, summary: str, out) -> None:
    """Write the JSON lines, a blank line, the ``flowtrace view`` trees, a blank line and ``summary`` on ``out``."""
    from flowtrace import view

    lines = events.lines()
    for line in lines:
        out.write(line + "\n")
    out.write("\n")
    view.render(lines, out=out, color=view.want_color("auto", out))
    out.write("\n" + summary + "\n")


def load_module(path: Path, name: str):
    """Load the module in the file ``path`` under ``name``, leaving ``sys.path`` as it was."""
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise DemoFailed("cannot load %s as a module" % path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextlib.contextmanager
def running(worker: Worker, app, sink):
    """Start ``worker`` for the block; after it, stop the worker, then uninstrument ``app`` and close ``sink``."""
    import flowtrace
    from flowtrace import Trace

    try:
        worker.start()
        yield
    finally:
        try:
            worker.stop()
        finally:
            flowtrace.uninstrument(app)
            Trace.remove_sink(sink)
            sink.close()
            app.close()


class DemoRun:
    """What both demo runs hold: the run's folder, the demo apps' folder, the events file and the worker.

    Args:
        folder: the run's own folder, for the worker's files.
        app_dir: the folder of the demo apps.
        events_path: where the app's JSON sink writes.
        env: what the app reads from the environment, besides ``ready_variable``.
        ready_variable: the variable naming the file the worker creates when it is ready.
        worker_class: :class:`Worker`, or a stand-in (the tests pass one).
    """

    #: The module ``celery -A`` loads, in the demo apps' folder.
    APP_MODULE = ""

    def __init__(self, folder: Path, app_dir: Path, events_path: Path, env: Dict[str, str], ready_variable: str,
                 worker_class: Callable[..., Worker] = Worker):
        self.app_dir = app_dir
        self.folder = folder
        self.events_path = events_path
        self.events = EventsFile(events_path)
        ready_path = folder / "worker.ready"
        self.worker = worker_class(folder, app_dir, self.APP_MODULE, dict(env, **{ready_variable: str(ready_path)}),
                                   ready_path)
        self.elapsed = 0.0
