"""Real ``celery worker`` subprocesses and the JSON lines they write, for the integration tests."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from urllib.parse import urlparse

import pytest

from tests.integration.app import make_app

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

#: Events that end an attempt.
TERMINAL = frozenset({"TASK_END", "TASK_RETRY", "TASK_FAILURE", "TASK_IGNORED", "TASK_REJECTED", "TASK_REVOKED",
                      "TASK_UNKNOWN"})


def brokers() -> list:
    """The embedded broker, then every URL in FLOWTRACE_TEST_BROKERS."""
    listed = [url.strip() for url in os.environ.get("FLOWTRACE_TEST_BROKERS", "").split(",") if url.strip()]
    return ["filesystem://"] + listed


def broker_id(url: str) -> str:
    """A short test id for a broker URL: its scheme."""
    return urlparse(url).scheme or url


def check_reachable(url: str) -> None:
    """Fail (never skip) when a listed broker does not accept a TCP connection."""
    parsed = urlparse(url)
    if parsed.scheme == "filesystem":
        return
    port = parsed.port or {"redis": 6379, "amqp": 5672, "pyamqp": 5672}.get(parsed.scheme)
    host = parsed.hostname or "127.0.0.1"
    try:
        socket.create_connection((host, port), timeout=5).close()
    except OSError as exc:
        pytest.fail("broker %s listed in FLOWTRACE_TEST_BROKERS is unreachable: %s" % (url, exc), pytrace=False)


class EventLog:
    """The JSON lines file all processes of one run append to, read incrementally."""

    def __init__(self, path: str):
        self.path = path
        self._offset = 0
        self._partial = b""
        self.records = []
        self.invalid = []

    def refresh(self) -> list:
        """Read the lines appended since the last call; returns all records so far."""
        try:
            with open(self.path, "rb") as f:
                f.seek(self._offset)
                data = f.read()
        except FileNotFoundError:
            return self.records
        self._offset += len(data)
        data = self._partial + data
        lines = data.split(b"\n")
        self._partial = lines.pop()
        for line in lines:
            try:
                self.records.append(json.loads(line))
            except ValueError:
                self.invalid.append(line)
        return self.records

    def for_task(self, task_id: str) -> list:
        """The records whose ``details.task_id`` is ``task_id``, in file order."""
        return [r for r in self.refresh() if r["details"].get("task_id") == task_id]

    def names(self, task_id: str) -> list:
        """``(event, retries)`` for a task, attempt by attempt, in file order within each attempt.

        Attempts run in different processes (a retry is received while the
        first attempt may still be writing its terminal event), so only the
        order within one attempt is causal.
        """
        records = self.for_task(task_id)
        order = sorted(range(len(records)), key=lambda i: (records[i]["details"].get("retries") or 0, i))
        return [(records[i]["event"], records[i]["details"].get("retries")) for i in order]

    def wait(self, task_id: str, until, timeout: float = 30.0) -> list:
        """Wait until ``until(records_of_task)`` is true; returns the task's records."""
        deadline = time.monotonic() + timeout
        while True:
            records = self.for_task(task_id)
            if until(records):
                return records
            if time.monotonic() > deadline:
                raise AssertionError("timed out waiting for task %s; it has %r" % (
                    task_id, [(r["event"], r["details"].get("retries")) for r in records]))
            time.sleep(0.05)

    def wait_terminal(self, task_id: str, count: int = 1, timeout: float = 30.0, settle: float = 0.3) -> list:
        """Wait for ``count`` terminal events of a task, then a little longer to catch any duplicate."""
        records = self.wait(task_id, lambda rs: sum(r["event"] in TERMINAL for r in rs) >= count, timeout)
        time.sleep(settle)
        return self.for_task(task_id)


class Worker:
    """One ``celery worker`` subprocess, stopped by its process group id."""

    def __init__(self, run, name: str, env: dict, concurrency: int = 2, pool: str = "prefork"):
        self.run = run
        self.name = name
        self.hostname = "%s@%s" % (name, socket.gethostname())
        self.log_path = os.path.join(run.dir, name + ".log")
        self.env = env
        self.concurrency = concurrency
        self.pool = pool
        self.proc = None

    def start(self, ready_marker: str = None, timeout: float = 60.0) -> "Worker":
        """Launch the worker and wait until it is ready."""
        self.launch()
        return self.wait_ready(ready_marker, timeout)

    def launch(self) -> "Worker":
        """Start the subprocess without waiting for it."""
        cmd = [sys.executable, "-m", "celery", "-A", self.run.app_module, "worker", "--pool=%s" % self.pool,
               "--concurrency=%d" % self.concurrency, "-l", "info", "-n", self.hostname,
               "-Q", self.run.queue, "--without-gossip", "--without-mingle", "--without-heartbeat"]
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        return self

    def wait_ready(self, ready_marker: str = None, timeout: float = 60.0) -> "Worker":
        """Wait for Celery's "ready." line, and for ``ready_marker`` too when given."""
        self.wait_log(" ready.", timeout)
        if ready_marker:
            self.wait_log(ready_marker, timeout)
        return self

    def log(self) -> str:
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_log(self, text: str, timeout: float = 60.0, count: int = 1) -> None:
        deadline = time.monotonic() + timeout
        while self.log().count(text) < count:
            if self.proc.poll() is not None:
                raise AssertionError("worker %s exited with %s before logging %r:\n%s"
                                     % (self.name, self.proc.returncode, text, self.log()[-4000:]))
            if time.monotonic() > deadline:
                raise AssertionError("worker %s did not log %r within %ss:\n%s"
                                     % (self.name, text, timeout, self.log()[-4000:]))
            time.sleep(0.05)

    def terminate(self) -> None:
        """Ask the worker for a warm shutdown (SIGTERM to its main process)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def kill(self, deadline: float) -> None:
        """Wait until ``deadline`` (monotonic) for the worker to exit, then SIGKILL its process group.

        The group is killed in any case, so that no pool child outlives the test.
        """
        if self.proc is None:
            return
        try:
            self.proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # start_new_session made the worker its group leader
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait(10)

    def stop(self, grace: float = 10.0) -> None:
        """Warm shutdown, then SIGKILL to whatever is left after ``grace`` seconds."""
        self.terminate()
        self.kill(time.monotonic() + grace)


class Run:
    """One broker, one queue, one events file, and the workers consuming that queue."""

    def __init__(self, broker: str, base_dir: str, label: str, app_module: str = "tests.integration.app",
                 app_factory=None):
        self.broker = broker
        self.queue = "ftit-%s-%s" % (label, uuid.uuid4().hex[:10])
        self.dir = os.path.join(base_dir, self.queue)
        os.makedirs(self.dir)
        self.events_path = os.path.join(self.dir, "events.jsonl")
        self.events = EventLog(self.events_path)
        #: The workers' -A module; app_factory(broker, run_dir, queue) builds the same app here.
        self.app_module = app_module
        self.app = (app_factory or make_app)(broker, self.dir, self.queue)
        self.workers = []

    def env(self, **extra) -> dict:
        env = dict(os.environ)
        env.update({"FLOWTRACE_IT_BROKER": self.broker, "FLOWTRACE_IT_DIR": self.dir,
                    "FLOWTRACE_IT_QUEUE": self.queue, "FLOWTRACE_IT_EVENTS": self.events_path,
                    "PYTHONPATH": ROOT + os.pathsep + env.get("PYTHONPATH", "")})
        env.update({key: value for key, value in extra.items() if value is not None})
        return env

    def worker(self, name: str = "w1", concurrency: int = 2, ready_marker: str = None, start: bool = True,
               pool: str = "prefork", **env) -> Worker:
        """Start a worker on this run's queue; ``env`` adds FLOWTRACE_IT_* variables (see app.py).

        ``pool`` is Celery's ``--pool``: prefork unless a test asks for another.
        """
        full_name = "%s-%s" % (name, self.queue)
        env.setdefault("FLOWTRACE_IT_CLIENT", full_name)
        worker = Worker(self, full_name, self.env(**env), concurrency, pool)
        self.workers.append(worker)
        return worker.start(ready_marker) if start else worker

    def close(self, grace: float = 10.0) -> None:
        """Stop every worker of the run, all at once."""
        close_runs([self], grace)


def close_runs(runs, grace: float = 10.0) -> None:
    """Stop the workers of all ``runs`` together: one grace period for all of them."""
    workers = [worker for run in runs for worker in run.workers]
    for worker in workers:
        worker.terminate()
    deadline = time.monotonic() + grace
    for worker in workers:
        worker.kill(deadline)
    for run in runs:
        try:
            run.app.close()
        except Exception:
            pass


def hook_failures(run: Run) -> list:
    """The lines in which a worker of ``run`` reported a failure of flowtrace's own hooks."""
    return [line for worker in run.workers for line in worker.log().splitlines()
            if "flowtrace: celery integration failed" in line]


def break_connection(run: Run, worker: Worker) -> None:
    """Make ``worker`` lose its broker connection, and wait until it has reconnected.

    Redis and RabbitMQ close the worker's connections server-side (found by
    the connection name the app sets); the filesystem transport has no
    connection, so the worker's next read fails as a lost connection would.
    """
    log = worker.log()
    connected = log.count("Connected to ")
    lost = log.count("Connection to broker lost")
    scheme = urlparse(run.broker).scheme
    if scheme == "filesystem":
        replies = run.app.control.broadcast("flowtrace_it_break_connection", destination=[worker.hostname],
                                            reply=True, timeout=5)
        assert [{worker.hostname: {"ok": "connection will break"}}] == replies
    elif scheme.startswith("redis"):
        import redis

        client = redis.Redis.from_url(run.broker)
        try:
            ids = [c["id"] for c in client.client_list() if c.get("name") == worker.name]
            assert ids, "no Redis connection named %s" % worker.name
            for client_id in ids:
                client.client_kill_filter(_id=client_id)
        finally:
            client.close()
    elif scheme in ("amqp", "pyamqp"):
        listing = subprocess.run(["rabbitmqctl", "-q", "list_connections", "--no-table-headers", "pid",
                                  "client_properties"],
                                 capture_output=True, text=True, timeout=60, check=True).stdout
        marker = '{"connection_name","%s"}' % worker.name
        pids = [line.split("\t")[0] for line in listing.splitlines() if marker in line]
        assert pids, "no RabbitMQ connection named %s in:\n%s" % (worker.name, listing)
        for pid in pids:
            subprocess.run(["rabbitmqctl", "-q", "close_connection", pid, "flowtrace integration test"],
                           capture_output=True, text=True, timeout=60, check=True)
    else:
        raise AssertionError("no way to break a %s connection" % scheme)
    worker.wait_log("Connection to broker lost", count=lost + 1)
    worker.wait_log("Connected to ", count=connected + 1)
