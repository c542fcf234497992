"""The package as users install it: the wheel, with ``[all]``, in a fresh virtual environment outside the checkout.

The sdist is built from this checkout and the wheel from the sdist, so a file
missing from either fails here. Every command runs in a folder of its own,
with no ``PYTHONPATH``, so nothing of the checkout can stand in for what the
wheel lacks.
"""

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
import venv
import zipfile
from pathlib import Path
from urllib.parse import urlparse

import pytest

import flowtrace
from flowtrace import events
from tests.integration.harness import brokers, check_reachable

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.integration


class Installed:
    """A virtual environment with the built wheel installed with ``[all]``, and a folder outside the checkout."""

    def __init__(self, base: Path):
        self.base = base
        dist = base / "dist"
        subprocess.run([sys.executable, "-m", "build", "--outdir", str(dist), str(ROOT)], check=True,
                       capture_output=True, timeout=600)
        (self.wheel,) = dist.glob("flowtrace-*.whl")
        self.venv = base / "venv"
        venv.EnvBuilder(with_pip=True).create(self.venv)
        self.bin = self.venv / "bin"
        subprocess.run([str(self.bin / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        "%s[all]" % self.wheel], check=True, capture_output=True, timeout=600)
        self.away = base / "elsewhere"
        self.away.mkdir()

    def env(self, **extra):
        """The environment of a command: this one's, without anything that would import the checkout."""
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        env.update(NO_COLOR="1", TMPDIR=str(self.base), PATH="%s%s%s" % (self.bin, os.pathsep, env.get("PATH", "")))
        env.update(extra)
        return env

    def run(self, *command, timeout=120, cwd=None):
        return subprocess.run([str(self.bin / command[0]), *command[1:]], capture_output=True, text=True,
                              timeout=timeout, cwd=str(cwd or self.away), env=self.env())


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The wheel, built and installed once for this module."""
    return Installed(tmp_path_factory.mktemp("package"))


def _package_files():
    """The files under flowtrace/ in this checkout, byte-code aside: what the wheel must hold."""
    return sorted(path.relative_to(ROOT).as_posix() for path in (ROOT / "flowtrace").rglob("*")
                  if path.is_file() and "__pycache__" not in path.parts)


class TestWheel:
    def test_holds_every_file_of_the_package(self, installed):
        """The wheel's flowtrace/ files are exactly the checkout's: modules, py.typed, the demo apps."""
        with zipfile.ZipFile(installed.wheel) as wheel:
            inside = sorted(name for name in wheel.namelist() if name.startswith("flowtrace/"))
        assert (_package_files(), True, True) == (
            inside, "flowtrace/py.typed" in inside, "flowtrace/demo/apps/ingest.yml" in inside)

    def test_imports_from_the_environment_not_the_checkout(self, installed):
        """The installed flowtrace is the venv's copy, of this checkout's version."""
        proc = installed.run("python", "-c", "import flowtrace; print(flowtrace.__file__); print(flowtrace.__version__)")
        path, version = proc.stdout.splitlines()
        assert (0, True, flowtrace.__version__) == (
            proc.returncode, Path(path).is_relative_to(installed.venv), version)

    def test_version(self, installed):
        """``flowtrace --version`` prints the package's version."""
        proc = installed.run("flowtrace", "--version")
        assert (0, "flowtrace %s\n" % flowtrace.__version__, "") == (proc.returncode, proc.stdout, proc.stderr)

    def test_events_json_is_the_catalogue(self, installed):
        """``flowtrace events --json`` lists every event of the catalogue, by value and name."""
        proc = installed.run("flowtrace", "events", "--json")
        listed = json.loads(proc.stdout)
        assert (0, [(row.value, row.name) for row in events.EVENTS]) == (
            proc.returncode, [(row["value"], row["name"]) for row in listed])

    @pytest.mark.parametrize("which, first, summary", [
        ((), "FLOW_SCHEDULE",
         "flowtrace demo: flow ingest_batch SUCCESS in <t>: <n> events, 4 flows, 8 tasks; the demo took <t>"),
        (("outcomes",), "TASK_PUBLISH",
         "flowtrace demo: 29 events from 7 tasks in <t>: add SUCCESS (4 events), flaky SUCCESS after 1 retry "
         "(8 events), divide FAILURE (4 events), skip IGNORED (4 events), refuse REJECTED (4 events), "
         "slow REVOKED (3 events), expired REVOKED (2 events)"),
    ], ids=["flow", "outcomes"])
    def test_demo_runs_from_any_folder(self, installed, which, first, summary):
        """``flowtrace demo`` and ``flowtrace demo outcomes`` run from a folder outside the checkout, as in one."""
        proc = installed.run("flowtrace", "demo", *which, timeout=240)
        json_part, _, rest = proc.stdout.partition("\n\n")
        records = [json.loads(line) for line in json_part.splitlines()]
        last = rest.rstrip("\n").rpartition("\n\n")[2].splitlines()[0]
        last = re.sub(r"in \d+\.\d+s:", "in <t>:", re.sub(r"took \d+\.\ds", "took <t>", last))
        assert (0, first, summary.replace("<n>", str(len(records))), False) == (
            proc.returncode, records[0]["event"], last, "Traceback" in proc.stderr), proc.stderr[-3000:]


def _redis_url():
    """A Redis for the worker: the first listed in FLOWTRACE_TEST_BROKERS (which must answer), else a local one."""
    listed = [url for url in brokers() if urlparse(url).scheme == "redis"]
    if listed:
        check_reachable(listed[0])
        parsed = urlparse(listed[0])
        return "redis://%s:%d/12" % (parsed.hostname or "127.0.0.1", parsed.port or 6379)
    url = "redis://127.0.0.1:6379/12"
    import socket

    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=5).close()
    except OSError as exc:
        pytest.skip("no Redis listed in FLOWTRACE_TEST_BROKERS and none answers at %s: %s" % (url, exc))
    return url


_APP = '''\
import os

from celery import Celery

import flowtrace
from flowtrace import Trace

app = Celery("wheel_redis", broker=os.environ["WHEEL_BROKER"], backend=os.environ["WHEEL_BROKER"])
app.conf.update(task_default_queue=os.environ["WHEEL_QUEUE"], broker_connection_retry_on_startup=True)
Trace.trace_by_json(os.environ["WHEEL_EVENTS"])
flowtrace.instrument(app)


@app.task(name="wheel.add")
def add(x, y):
    return x + y
'''


class TestRedisWorker:
    def test_worker_on_redis_with_all_alone(self, installed, tmp_path):
        """A prefork worker of the [all] environment runs a task over Redis, traced from publish to end."""
        folder = tmp_path / "app"
        folder.mkdir()
        (folder / "wheel_app.py").write_text(_APP)
        events_path = tmp_path / "events.jsonl"
        env = installed.env(WHEEL_BROKER=_redis_url(), WHEEL_QUEUE="wheel-%s" % uuid.uuid4().hex,
                            WHEEL_EVENTS=str(events_path), PYTHONPATH=str(folder))
        log = open(tmp_path / "worker.log", "wb")
        worker = subprocess.Popen([str(installed.bin / "celery"), "-A", "wheel_app", "worker", "--pool=prefork",
                                   "--concurrency=1", "--loglevel=info", "--without-heartbeat", "--without-gossip",
                                   "--without-mingle"], cwd=str(folder), env=env, stdout=log,
                                  stderr=subprocess.STDOUT, start_new_session=True)
        try:
            producer = subprocess.run(
                [str(installed.bin / "python"), "-c",
                 "import wheel_app; r = wheel_app.add.delay(2, 3); print(r.id); print(r.get(timeout=60))"],
                cwd=str(folder), env=env, capture_output=True, text=True, timeout=90)
            task_id, result = producer.stdout.split()
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                names = [r["event"] for r in map(json.loads, events_path.read_text().splitlines())
                         if r["details"].get("task_id") == task_id]
                if "TASK_END" in names:
                    break
                time.sleep(0.1)
        finally:
            os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait(10)
            log.close()
        worker_log = (tmp_path / "worker.log").read_text(errors="replace")
        assert (0, "5", ["TASK_PUBLISH", "TASK_RECEIVED", "TASK_START", "TASK_END"], False) == (
            producer.returncode, result, names, "Traceback" in worker_log), producer.stderr + worker_log[-3000:]
