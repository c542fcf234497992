"""``flowtrace demo`` (and ``make demo``): a real worker, every outcome, the events, the trees, a clean exit."""

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from flowtrace import cli, view

ROOT = Path(__file__).resolve().parent.parent

#: The keys of every JSON line, in the order the JSON sink writes them.
ENVELOPE = ["event", "event_id", "time", "node", "pid", "trace_id", "span_id", "details"]


def attempt(retries, *names):
    """``[(name, retries), ...]`` for the events of one attempt."""
    return [(name, retries) for name in names]


#: Each demo task's whole event sequence, attempt by attempt.
EXPECTED = {
    "add": attempt(0, "TASK_PUBLISH", "TASK_RECEIVED", "TASK_START", "TASK_END"),
    "flaky": (attempt(0, "TASK_PUBLISH", "TASK_RECEIVED", "TASK_START", "TASK_RETRY")
              + attempt(1, "TASK_PUBLISH", "TASK_RECEIVED", "TASK_START", "TASK_END")),
    "divide": attempt(0, "TASK_PUBLISH", "TASK_RECEIVED", "TASK_START", "TASK_FAILURE"),
    "skip": attempt(0, "TASK_PUBLISH", "TASK_RECEIVED", "TASK_START", "TASK_IGNORED"),
    "refuse": attempt(0, "TASK_PUBLISH", "TASK_RECEIVED", "TASK_START", "TASK_REJECTED"),
    "slow": attempt(0, "TASK_PUBLISH", "TASK_RECEIVED", "TASK_REVOKED"),
    "expired": attempt(0, "TASK_PUBLISH", "TASK_REVOKED"),
}


class DemoRun:
    """One ``python -m flowtrace demo`` subprocess and its output, split into its three parts."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        env = dict(os.environ, TMPDIR=str(tmp), PYTHONPATH=str(ROOT), NO_COLOR="1")
        self.proc = subprocess.Popen([sys.executable, "-m", "flowtrace", "demo"], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, cwd=str(ROOT), env=env)
        self.proc.stdout, self.proc.stderr = self.proc.communicate(timeout=240)
        out = self.proc.stdout
        self.json_part, _, rest = out.partition("\n\n")
        self.tree_part, _, summary = rest.rstrip("\n").rpartition("\n\n")
        self.summary = summary
        self.lines = self.json_part.splitlines()
        self.records = [json.loads(line) for line in self.lines]

    def for_task(self, task_id):
        """``(event, retries)`` of one task, attempt by attempt, in file order within each attempt.

        Attempts run in different processes, so only the order within one attempt is causal.
        """
        records = [r for r in self.records if r["details"]["task_id"] == task_id]
        records.sort(key=lambda r: r["details"]["retries"])  # stable: file order within an attempt
        return [(r["event"], r["details"]["retries"]) for r in records]

    def task_ids(self):
        """Each demo task's id, found from what its TASK_PUBLISH says."""
        ids = {}
        for record in self.records:
            details = record["details"]
            if record["event"] != "TASK_PUBLISH" or details["retries"]:
                continue
            label = details["task_name"].split(".", 1)[1]
            if label == "add" and details.get("expires"):
                label = "expired"
            ids[label] = details["task_id"]
        return ids

    def details(self, label, event):
        """The details of ``label``'s last ``event``."""
        task_id = self.task_ids()[label]
        return [r["details"] for r in self.records if r["details"]["task_id"] == task_id and r["event"] == event][-1]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo, run once for this module as a user runs it."""
    return DemoRun(tmp_path_factory.mktemp("demo-tmp"))


def pick(details, *keys):
    """The subset of ``details`` with ``keys``."""
    return {key: details[key] for key in keys if key in details}


def worker_pid(stderr):
    """The worker's process id, from the demo's progress lines."""
    pids = set(re.findall(r"\(pid (\d+)", stderr))
    assert 1 == len(pids), stderr
    return int(pids.pop())


def alive(pid):
    """Whether a process with this id exists (zombies count)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@pytest.mark.integration
class TestDemo:
    """One run of ``python -m flowtrace demo``, with a real prefork worker on the embedded broker."""

    def test_exits_0(self, demo):
        """The demo exits 0, and its progress on stderr names the worker it started and stopped."""
        pid = worker_pid(demo.proc.stderr)
        stderr = re.sub(re.escape(str(demo.tmp)) + r"/flowtrace-demo-\w+", "<dir>", demo.proc.stderr)
        assert (0, [
            "flowtrace demo: starting a celery worker (prefork, 2 processes) in <dir>",
            "flowtrace demo: worker ready in <t> (pid %d)" % pid,
            "flowtrace demo: stopped the worker (pid %d, exit code 0)" % pid,
        ]) == (demo.proc.returncode, re.sub(r"in \d+\.\ds", "in <t>", stderr).splitlines())

    def test_json_lines_parse(self, demo):
        """Every line before the first blank one is a JSON event with the documented envelope."""
        assert ([ENVELOPE] * len(demo.records), 29) == ([list(r) for r in demo.records], len(demo.records))

    def test_every_outcome_has_its_whole_sequence(self, demo):
        """Each task's events, attempt by attempt, are exactly those of its outcome."""
        ids = demo.task_ids()
        assert EXPECTED == {label: demo.for_task(task_id) for label, task_id in ids.items()}

    def test_outcome_details(self, demo):
        """The terminal events say why each task ended as it did."""
        assert {
            "flaky": {"state": "RETRY", "exc_type": "ConnectionError", "exc_message": "upstream busy",
                      "countdown": 0.2},
            "divide": {"state": "FAILURE", "exc_type": "ZeroDivisionError", "exc_message": "division by zero",
                       "expected": False},
            "skip": {"state": "IGNORED"},
            "refuse": {"state": "REJECTED", "reason": "refusing this input", "requeue": False},
            "slow": {"state": "REVOKED", "reason": "revoked", "expired": False, "terminated": False},
            "expired": {"state": "REVOKED", "reason": "expired", "expired": True, "terminated": False},
        } == {
            "flaky": pick(demo.details("flaky", "TASK_RETRY"), "state", "exc_type", "exc_message", "countdown"),
            "divide": pick(demo.details("divide", "TASK_FAILURE"), "state", "exc_type", "exc_message", "expected"),
            "skip": pick(demo.details("skip", "TASK_IGNORED"), "state"),
            "refuse": pick(demo.details("refuse", "TASK_REJECTED"), "state", "reason", "requeue"),
            "slow": pick(demo.details("slow", "TASK_REVOKED"), "state", "reason", "expired", "terminated"),
            "expired": pick(demo.details("expired", "TASK_REVOKED"), "state", "reason", "expired", "terminated"),
        }

    def test_each_event_comes_from_the_process_that_saw_it(self, demo):
        """The demo publishes, the worker's main process receives and revokes, its pool processes run the tasks."""
        main = worker_pid(demo.proc.stderr)
        by_event = {}
        for record in demo.records:
            by_event.setdefault((record["event"], record["details"]["retries"]), set()).add(record["pid"])
        pool = by_event[("TASK_START", 0)] | by_event[("TASK_START", 1)]
        assert {
            ("TASK_PUBLISH", 0): {demo.proc.pid},
            ("TASK_RECEIVED", 0): {main}, ("TASK_RECEIVED", 1): {main},
            ("TASK_REVOKED", 0): {main},
        } == {key: pids for key, pids in by_event.items() if key in (
            ("TASK_PUBLISH", 0), ("TASK_RECEIVED", 0), ("TASK_RECEIVED", 1), ("TASK_REVOKED", 0))}
        assert (set(), set()) == (pool & {main, demo.proc.pid}, (by_event[("TASK_PUBLISH", 1)] | by_event[
            ("TASK_RETRY", 0)] | by_event[("TASK_END", 0)] | by_event[("TASK_END", 1)]) - pool)

    def test_prints_the_trees_of_its_events(self, demo):
        """After the JSON lines comes exactly what ``flowtrace view`` draws from them: one tree per task."""
        out = io.StringIO()
        stats = view.render(demo.lines, out=out)
        assert (out.getvalue().rstrip("\n"), 7, 7) == (demo.tree_part, stats.trees, stats.tasks)
        states = re.findall(r"^demo\.\w+ \[\w+\]\s+(\w+)", demo.tree_part, re.MULTILINE)
        assert ["REVOKED", "SUCCESS", "SUCCESS", "FAILURE", "IGNORED", "REJECTED", "REVOKED"] == states

    def test_summary(self, demo):
        """The last line counts the events of each outcome."""
        assert ("flowtrace demo: 29 events from 7 tasks in <t>: add SUCCESS (4 events), "
                "flaky SUCCESS after 1 retry (8 events), divide FAILURE (4 events), skip IGNORED (4 events), "
                "refuse REJECTED (4 events), slow REVOKED (3 events), expired REVOKED (2 events)"
                ) == re.sub(r"in \d+\.\ds:", "in <t>:", demo.summary)

    def test_no_worker_process_survives(self, demo):
        """The worker and its pool processes are gone, and so is the rest of its process group."""
        pid = worker_pid(demo.proc.stderr)
        pids = {r["pid"] for r in demo.records} - {demo.proc.pid}
        # The main process and the pool processes that ran a task: one or both of the two.
        assert (True, True) == (pid in pids, len(pids) in (2, 3))
        try:
            os.killpg(pid, 0)
            group_left = True
        except ProcessLookupError:
            group_left = False
        assert ([], False) == (sorted(p for p in pids | {pid} if alive(p)), group_left)

    def test_removes_its_temporary_folder(self, demo):
        """Without --keep, nothing is left in the temporary folder."""
        assert [] == os.listdir(demo.tmp)


class TestKeep:
    def test_refuses_a_folder_that_is_not_empty(self, tmp_path, capsys):
        """--keep with a folder holding files fails at once, before any worker starts."""
        (tmp_path / "old.txt").write_text("x")
        assert 1 == cli.main(["demo", "--keep", str(tmp_path)])
        assert ("", "flowtrace demo: error: --keep needs a new or empty folder, and %s is not one\n" % tmp_path) == (
            capsys.readouterr())


class TestMakeDemo:
    """``make demo`` runs what the README and the quick start say it runs."""

    def test_recipe_is_the_documented_command(self):
        """The Makefile's demo recipe is ``$(PY) -m flowtrace demo``, as README.md and docs/quickstart.rst say."""
        makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
        recipe = re.search(r"^demo:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE).group(1)
        readme = (ROOT / "README.md").read_text(encoding="utf-8")
        quickstart = (ROOT / "docs" / "quickstart.rst").read_text(encoding="utf-8")
        assert (["$(PY) -m flowtrace demo"], True, True) == (
            [line.strip() for line in recipe.splitlines()],
            "`make demo` runs `python -m flowtrace demo`" in " ".join(readme.split()),
            "``make demo`` runs ``python -m flowtrace demo``" in " ".join(quickstart.split()))
