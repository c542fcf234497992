"""``flowtrace demo`` (and ``make demo``): a real worker, a flow or each task outcome, the events, the trees."""

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from flowtrace import cli, view
from flowtrace import demo as demo_package
from flowtrace.demo import _flow

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
    """One ``python -m flowtrace demo ...`` subprocess and its output, split into its three parts."""

    def __init__(self, tmp: Path, *args):
        self.tmp = tmp
        env = dict(os.environ, TMPDIR=str(tmp), PYTHONPATH=str(ROOT), NO_COLOR="1")
        self.proc = subprocess.Popen([sys.executable, "-m", "flowtrace", "demo"] + list(args),
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=str(ROOT),
                                     env=env)
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
    """The outcome tour, run once for this module as a user runs it."""
    return DemoRun(tmp_path_factory.mktemp("demo-tmp"), "outcomes")


@pytest.fixture(scope="module")
def flow_demo(tmp_path_factory):
    """The flow demo, run once for this module as a user runs it: ``flowtrace demo`` with no argument."""
    return DemoRun(tmp_path_factory.mktemp("flow-demo-tmp"))


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


def worker_pid_gone(pid, records, producer_pid):
    """``(the worker's processes still alive, whether its process group is left)``, after a demo run.

    The worker's processes are ``pid`` and every process but the producer that wrote an event.
    """
    pids = {r["pid"] for r in records} - {producer_pid}
    try:
        os.killpg(pid, 0)
        group_left = True
    except ProcessLookupError:
        group_left = False
    return sorted(p for p in pids | {pid} if alive(p)), group_left


@pytest.mark.integration
class TestOutcomeDemo:
    """One run of ``python -m flowtrace demo outcomes``, with a real prefork worker on the embedded broker."""

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
        assert ([], False) == worker_pid_gone(pid, demo.records, demo.proc.pid)

    def test_removes_its_temporary_folder(self, demo):
        """Without --keep, nothing is left in the temporary folder."""
        assert [] == os.listdir(demo.tmp)


def scheduled(records):
    """What the dispatchers scheduled: ``{dispatcher id: [(node name, node id), ...]}``, in file order."""
    by_flow = {}
    for record in records:
        details = record["details"]
        if record["event"] == "TASK_SCHEDULE":
            by_flow.setdefault(details["dispatcher_id"], []).append((details["task_name"], details["task_id"]))
        elif record["event"] == "SUBFLOW_SCHEDULE":
            by_flow.setdefault(details["dispatcher_id"], []).append((details["child_flow_name"],
                                                                      details["child_dispatcher_id"]))
    return by_flow


def flow_root(records):
    """The dispatcher id of the flow the demo started, from its FLOW_SCHEDULE."""
    return [r["details"]["dispatcher_id"] for r in records if r["event"] == "FLOW_SCHEDULE"][0]


#: The documents of examples/flow_demo, in the order the foreach returns them.
DOCUMENTS = ["contract-7.docx", "invoice-0042.pdf", "receipt-913.jpg"]


@pytest.mark.integration
class TestFlowDemo:
    """One run of ``python -m flowtrace demo``: the ingest_batch flow, run by a real prefork worker."""

    def test_exits_0(self, flow_demo):
        """The demo exits 0, and its progress on stderr names the worker it started and stopped."""
        pid = worker_pid(flow_demo.proc.stderr)
        stderr = re.sub(re.escape(str(flow_demo.tmp)) + r"/flowtrace-demo-\w+", "<dir>", flow_demo.proc.stderr)
        assert (0, [
            "flowtrace demo: starting a celery worker (prefork, 2 processes) in <dir>",
            "flowtrace demo: worker ready in <t> (pid %d)" % pid,
            "flowtrace demo: stopped the worker (pid %d, exit code 0)" % pid,
        ]) == (flow_demo.proc.returncode, re.sub(r"in \d+\.\ds", "in <t>", stderr).splitlines())

    def test_json_lines_parse(self, flow_demo):
        """Every line before the first blank one is an event in the documented envelope, FLOW_SCHEDULE first."""
        first = flow_demo.records[0]
        assert ([ENVELOPE] * len(flow_demo.records), ("FLOW_SCHEDULE", flow_demo.proc.pid, "ingest_batch")) == (
            [list(r) for r in flow_demo.records], (first["event"], first["pid"], first["details"]["flow_name"]))

    def test_dispatchers_schedule_every_node(self, flow_demo):
        """The flow starts ListInbox, one sub-flow per document, ArchiveOriginals and QueueForOcr, in that order."""
        nodes = scheduled(flow_demo.records)
        root = flow_root(flow_demo.records)
        subflows = [node_id for name, node_id in nodes[root] if name == "process_document"]
        assert (["ListInbox", "process_document", "process_document", "process_document", "ArchiveOriginals",
                 "QueueForOcr"], [["ExtractText", "IndexDocument"]] * 2 + [["ExtractText"]], 4) == (
            [name for name, _ in nodes[root]], [[name for name, _ in nodes[sub]] for sub in subflows], len(nodes))

    def test_dispatcher_decisions(self, flow_demo):
        """One foreach over the three documents, one false condition, one fallback for the unreadable document."""
        records = flow_demo.records
        root = flow_root(records)
        receipt = [r["details"]["child_dispatcher_id"] for r in records if r["event"] == "SUBFLOW_SCHEDULE"
                   and r["details"]["node_args"]["document"] == "receipt-913.jpg"]

        def found(event, *keys):
            return [{key: r["details"][key] for key in keys} for r in records if r["event"] == event]

        assert {
            "FOREACH_RESULT": [{"dispatcher_id": root, "foreach_str": "ingest_tasks.each_document",
                                "result": [{"batch": "inbox-2026-11-21", "document": name} for name in DOCUMENTS]}],
            "EDGE_COND_FALSE": [{"dispatcher_id": root, "nodes_from": ["ListInbox"], "nodes_to": ["PageOnCall"],
                                 "condition_str": "fieldEqual(ListInbox, key='urgent', value=True)"}],
            "FALLBACK_START": [{"dispatcher_id": root, "nodes": [{"name": "process_document", "id": receipt[0]}],
                                "fallback": ["QueueForOcr"]}],
            "FLOW_FAILURE": [{"dispatcher_id": receipt[0], "will_retry": False}],
            "FLOW_END": 3,
        } == {
            "FOREACH_RESULT": found("FOREACH_RESULT", "dispatcher_id", "foreach_str", "result"),
            "EDGE_COND_FALSE": found("EDGE_COND_FALSE", "dispatcher_id", "nodes_from", "nodes_to", "condition_str"),
            "FALLBACK_START": found("FALLBACK_START", "dispatcher_id", "nodes", "fallback"),
            "FLOW_FAILURE": found("FLOW_FAILURE", "dispatcher_id", "will_retry"),
            "FLOW_END": len(found("FLOW_END")),
        }

    def test_every_node_ends_once(self, flow_demo):
        """Each task and sub-flow has one final event: those of the unreadable document fail, the others end."""
        nodes = scheduled(flow_demo.records)
        finals = {}
        for record in flow_demo.records:
            if record["event"] in ("TASK_END", "TASK_FAILURE"):
                finals.setdefault(record["details"]["task_id"], []).append(record["event"])
        ends = sorted((name, finals.get(node_id)) for children in nodes.values() for name, node_id in children)
        assert [
            ("ArchiveOriginals", ["TASK_END"]),
            ("ExtractText", ["TASK_END"]), ("ExtractText", ["TASK_END"]), ("ExtractText", ["TASK_FAILURE"]),
            ("IndexDocument", ["TASK_END"]), ("IndexDocument", ["TASK_END"]),
            ("ListInbox", ["TASK_END"]),
            ("QueueForOcr", ["TASK_END"]),
            ("process_document", ["TASK_END"]), ("process_document", ["TASK_END"]),
            ("process_document", ["TASK_FAILURE"]),
        ] == ends

    def test_prints_the_tree_of_its_events(self, flow_demo):
        """After the JSON lines comes exactly what ``flowtrace view`` draws from them: one tree, the flow's."""
        out = io.StringIO()
        stats = view.render(flow_demo.lines, out=out)
        rows = re.findall(r"^[ ├└│─]*((?:flow )?\w+) \[\w+\]\s+(\w+)", flow_demo.tree_part, re.MULTILINE)
        assert (out.getvalue().rstrip("\n"), 1, 8, 4) == (flow_demo.tree_part, stats.trees, stats.tasks, stats.flows)
        assert [
            ("flow ingest_batch", "SUCCESS"), ("ListInbox", "SUCCESS"),
            ("flow process_document", "SUCCESS"), ("ExtractText", "SUCCESS"), ("IndexDocument", "SUCCESS"),
            ("flow process_document", "SUCCESS"), ("ExtractText", "SUCCESS"), ("IndexDocument", "SUCCESS"),
            ("flow process_document", "FAILURE"), ("ExtractText", "FAILURE"),
            ("ArchiveOriginals", "SUCCESS"), ("QueueForOcr", "SUCCESS"),
        ] == rows

    def test_summary(self, flow_demo):
        """The summary gives the flow's outcome and size, then each decision of its dispatchers, in log order."""
        records = flow_demo.records
        nodes = scheduled(records)
        root = flow_root(records)
        receipt = nodes[root][3][1]
        extract = nodes[receipt][0][1]
        summary = re.sub(r"in \d+\.\d\ds:", "in <t>:", re.sub(r"took \d+\.\ds", "took <t>", flow_demo.summary))
        assert [
            "flowtrace demo: flow ingest_batch SUCCESS in <t>: %d events, 4 flows, 8 tasks; the demo took <t>"
            % len(records),
            "  foreach ingest_tasks.each_document in ingest_batch [%s]: 3 items, one process_document each" % root[:8],
            "  condition true:  ListInbox -> ArchiveOriginals: fieldLenGreater(ListInbox, key='documents', length=0)",
            "  condition false: ListInbox -> PageOnCall: fieldEqual(ListInbox, key='urgent', value=True)",
            "  failed: ExtractText [%s] in process_document [%s]: FatalTaskError: receipt-913.jpg has no text layer"
            % (extract[:8], receipt[:8]),
            "  fallback: QueueForOcr started for process_document [%s]" % receipt[:8],
        ] == summary.splitlines()

    def test_no_worker_process_survives(self, flow_demo):
        """The worker and its pool processes are gone, and so is the rest of its process group."""
        pid = worker_pid(flow_demo.proc.stderr)
        assert ([], False) == worker_pid_gone(pid, flow_demo.records, flow_demo.proc.pid)

    def test_removes_its_temporary_folder(self, flow_demo):
        """Without --keep, nothing is left in the temporary folder: broker, results, storage, events."""
        assert [] == os.listdir(flow_demo.tmp)


class TestCommandLine:
    def test_demos_are_the_ones_the_parser_offers(self):
        """The parser's choices are the demos the command runs, the flow first (the default)."""
        parser = cli.build_parser()
        assert (("flow", "outcomes"), "flow", "outcomes") == (
            demo_package.DEMOS, parser.parse_args(["demo"]).which, parser.parse_args(["demo", "outcomes"]).which)

    def test_unknown_demo_is_a_usage_error(self, capsys):
        """A demo name that does not exist exits with 2 and names the choices, before anything starts."""
        code = cli.main(["demo", "orders"])
        last = capsys.readouterr().err.splitlines()[-1]
        # Python 3.12.8 changed how argparse quotes the choices; what comes before them is stable.
        assert (2, "flowtrace demo: error: argument DEMO: invalid choice: 'orders' (choose from") == (
            code, last[:last.index(" (choose from") + len(" (choose from")])

    def test_demo_apps_are_package_data_the_examples_link_to(self):
        """Both demos' apps ship in the package, and examples/ of a checkout shows those very files."""
        apps = Path(str(demo_package.APPS))
        shipped = sorted(p.name for p in apps.iterdir() if p.suffix in (".py", ".yml"))
        linked = sorted((p.relative_to(ROOT / "examples").as_posix(), p.resolve() == (apps / p.name).resolve())
                        for p in (ROOT / "examples").glob("*_demo/*") if p.suffix in (".py", ".yml"))
        assert (["demo_app.py", "ingest.yml", "ingest_app.py", "ingest_tasks.py"], [
            ("celery_demo/demo_app.py", True), ("flow_demo/ingest.yml", True),
            ("flow_demo/ingest_app.py", True), ("flow_demo/ingest_tasks.py", True),
        ]) == (shipped, linked)


class TestKeep:
    def test_refuses_a_folder_that_is_not_empty(self, tmp_path, capsys):
        """--keep with a folder holding files fails at once, before any worker starts."""
        (tmp_path / "old.txt").write_text("x")
        assert 1 == cli.main(["demo", "--keep", str(tmp_path)])
        assert ("", "flowtrace demo: error: --keep needs a new or empty folder, and %s is not one\n" % tmp_path) == (
            capsys.readouterr())


class TestFailures:
    def test_worker_that_cannot_start_is_an_error_without_traceback(self, tmp_path, monkeypatch, capsys):
        """A worker that exits before it is ready makes the demo print its log and one error line, and exit 1."""
        real = _flow.Worker

        def broken(folder, app_dir, app_module, *args):
            return real(folder, app_dir, "no_such_app", *args)

        monkeypatch.setattr(_flow, "Worker", broken)
        folder = tmp_path / "run"
        code = cli.main(["demo", "--keep", str(folder)])
        out, err = capsys.readouterr()
        lines = err.splitlines()
        pid = worker_pid(err)
        assert (1, "", [
            "flowtrace demo: starting a celery worker (prefork, 2 processes) in %s" % folder,
            "flowtrace demo: stopped the worker (pid %d, exit code 2)" % pid,
            "flowtrace demo: failed; the worker's last log lines:",
        ], [
            "flowtrace demo: the demo's files are in %s" % folder,
            "flowtrace demo: error: the worker exited (exit code 2) while waiting for the worker to be ready",
        ], False, ([], False)) == (
            code, out, lines[:3], lines[-2:], "Traceback" in err, worker_pid_gone(pid, [], os.getpid()))

    def test_app_missing_from_the_package_is_an_error(self, tmp_path, monkeypatch, capsys):
        """A broken install, whose demo apps folder lacks the app, makes the demo say so and exit 1."""
        monkeypatch.setattr(demo_package, "APPS", tmp_path)
        code = cli.main(["demo"])
        assert (1, "", "flowtrace demo: error: the demo app %s is missing from the installed flowtrace package; "
                       "reinstall flowtrace\n" % (tmp_path / "ingest_app.py")) == (code, *capsys.readouterr())


class TestMakeDemo:
    """``make demo`` runs what the README and the quick start say it runs."""

    @staticmethod
    def recipe(target):
        makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
        found = re.search(r"^%s:.*\n((?:\t.*\n)+)" % re.escape(target), makefile, re.MULTILINE).group(1)
        return [line.strip() for line in found.splitlines()]

    def test_recipe_is_the_documented_command(self):
        """The Makefile's demo recipe is ``$(PY) -m flowtrace demo``, as README.md and docs/quickstart.rst say."""
        readme = (ROOT / "README.md").read_text(encoding="utf-8")
        quickstart = (ROOT / "docs" / "quickstart.rst").read_text(encoding="utf-8")
        assert (["$(PY) -m flowtrace demo"], True, True) == (
            self.recipe("demo"),
            "`make demo` runs `python -m flowtrace demo`" in " ".join(readme.split()),
            "``make demo`` runs ``python -m flowtrace demo``" in " ".join(quickstart.split()))

    def test_outcome_tour_has_its_own_target(self):
        """``make demo-outcomes`` runs the outcome tour, as README.md says."""
        readme = (ROOT / "README.md").read_text(encoding="utf-8")
        assert (["$(PY) -m flowtrace demo outcomes"], True) == (
            self.recipe("demo-outcomes"),
            "`make demo-outcomes` runs `python -m flowtrace demo outcomes`" in " ".join(readme.split()))
