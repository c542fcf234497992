"""flowtrace.flow.execute: a flow run in one process, without a broker, through the real dispatcher and tasks."""

import json
import sys
from collections import Counter
from pathlib import Path

import pytest

from flowtrace import Trace, cli
from flowtrace.errors import UnknownFlowError
from flowtrace.flow.execute import ENDED, FAILED, Selective, execute
from flowtrace.flow.load import load_flows
from tests.flow.execution_order import labels, violations

DEMO = Path(__file__).resolve().parents[2] / "flowtrace" / "demo" / "apps"
INGEST = str(DEMO / "ingest.yml")
BATCH = {"batch": "inbox-2026-11-21", "urgent": False}
DOCUMENT = ("ingest_batch", "process_document")
STORED_BATCH, STORED_DOCUMENT = ("storage of", "ingest_batch"), ("storage of", "process_document")


@pytest.fixture
def ingest(tmp_path, monkeypatch):
    """The demo's flow, its task module importable and its storage in a temporary folder."""
    monkeypatch.setenv("INGEST_DIR", str(tmp_path))
    monkeypatch.syspath_prepend(str(DEMO))
    yield load_flows(INGEST)
    sys.modules.pop("ingest_tasks", None)


def records(execution):
    """The run's events as the JSON lines sink wrote them."""
    return [json.loads(line) for line in execution.lines]


#: What the demo flow does, whoever runs it: see tests/flow/execution_order.py.
DEMO_LABELS = Counter({
    (("ingest_batch",), None, "FLOW_SCHEDULE"): 1, (("ingest_batch",), None, "FLOW_START"): 1,
    (("ingest_batch",), None, "FLOW_END"): 1, (DOCUMENT, None, "FLOW_START"): 3, (DOCUMENT, None, "FLOW_END"): 2,
    (DOCUMENT, None, "FLOW_FAILURE"): 1,
    (("ingest_batch",), "process_document", "SUBFLOW_SCHEDULE"): 3,
    (("ingest_batch",), "process_document", "NODE_SUCCESSFUL"): 2,
    (("ingest_batch",), "process_document", "NODE_FAILURE"): 1,
    (("ingest_batch",), None, "FOREACH_RESULT"): 1, (("ingest_batch",), None, "EDGE_COND_FALSE"): 1,
    (("ingest_batch",), None, "FALLBACK_COND_TRUE"): 1, (("ingest_batch",), None, "FALLBACK_START"): 1,
    (DOCUMENT, "ExtractText", "NODE_FAILURE"): 1,
    # IndexDocument reads what ExtractText stored; the foreach and the two conditions read ListInbox's result.
    (STORED_DOCUMENT, "ExtractText", "STORAGE_STORE_ERROR"): 1,
    (STORED_DOCUMENT, "ExtractText", "STORAGE_RETRIEVE"): 2, (STORED_DOCUMENT, "ExtractText", "STORAGE_RETRIEVED"): 2,
    (STORED_BATCH, "ListInbox", "STORAGE_RETRIEVE"): 4, (STORED_BATCH, "ListInbox", "STORAGE_RETRIEVED"): 4,
    **{(flow, task, event): count
       for flow, task, count, failed in ((("ingest_batch",), "ListInbox", 1, 0),
                                         (("ingest_batch",), "ArchiveOriginals", 1, 0),
                                         (("ingest_batch",), "QueueForOcr", 1, 0),
                                         (DOCUMENT, "ExtractText", 3, 1), (DOCUMENT, "IndexDocument", 2, 0))
       for event, count in (("TASK_SCHEDULE", count), ("TASK_PUBLISH", count), ("TASK_START", count),
                            ("TASK_END", count - failed), ("TASK_FAILURE", failed),
                            ("NODE_SUCCESSFUL", count - failed))
       if count},
    **{(("storage of", flow[-1]), task, event): count - failed
       for flow, task, count, failed in ((("ingest_batch",), "ListInbox", 1, 0),
                                         (("ingest_batch",), "ArchiveOriginals", 1, 0),
                                         (("ingest_batch",), "QueueForOcr", 1, 0),
                                         (DOCUMENT, "ExtractText", 3, 1), (DOCUMENT, "IndexDocument", 2, 0))
       for event in ("STORAGE_STORE", "STORAGE_STORED")},
})
DEMO_LABELS = +DEMO_LABELS  # without the zero counts


class TestExecute:
    """execute() runs a flow to its end in this process."""

    def test_demo_flow(self, ingest):
        """The demo flow ends: every node as on real workers, the failed document handled by the fallback."""
        execution = execute(ingest, "ingest_batch", BATCH)
        finished = {name: len(ids) for name, ids in execution.state["finished_nodes"].items()}
        assert (ENDED, True, {"ListInbox": 1, "ArchiveOriginals": 1, "process_document": 2, "QueueForOcr": 1},
                {}, [], []) == (
            execution.outcome, execution.succeeded, finished, execution.state["failed_nodes"],
            execution.state["active_nodes"], execution.left)

    def test_demo_events_keep_the_causal_order(self, ingest):
        """The events are those a real worker emits for the flow, in an order that keeps every causal rule."""
        execution = execute(ingest, "ingest_batch", BATCH)
        found = records(execution)
        assert (DEMO_LABELS, []) == (labels(found), violations(found, ingest))

    def test_concurrency(self, ingest):
        """With two threads the flow does the same, in an order that keeps every causal rule."""
        execution = execute(ingest, "ingest_batch", BATCH, concurrency=2)
        found = records(execution)
        assert (ENDED, DEMO_LABELS, []) == (execution.outcome, labels(found), violations(found, ingest))

    def test_events_and_lines_agree(self, ingest):
        """Execution.events and Execution.lines hold the same events, in the same order."""
        execution = execute(ingest, "ingest_batch", BATCH)
        assert [Trace.event2str(event) for event, _ in execution.events] == [
            record["event"] for record in records(execution)]

    def test_task_events_carry_the_flow(self, ingest):
        """A flow task's TASK_START names its flow, dispatcher and queue, as on a worker."""
        execution = execute(ingest, "ingest_batch", BATCH)
        start = [msg for event, msg in execution.events
                 if event == Trace.TASK_START and msg["task_name"] == "ListInbox"][0]
        assert ("ingest_batch", execution.dispatcher_id, "celery", BATCH) == (
            start["flow_name"], start["dispatcher_id"], start["queue"], start["node_args"])

    def test_failed_flow(self, ingest, tmp_path):
        """A flow whose task fails for good fails, and its state says which node failed."""
        execution = execute(ingest, "process_document", {"batch": "b", "document": "receipt-913.jpg"})
        assert (FAILED, ["ExtractText"], {}) == (execution.outcome, list(execution.state["failed_nodes"]),
                                                 execution.state["finished_nodes"])

    def test_unknown_flow(self, ingest):
        """An unknown flow is refused before anything runs, naming the flows there are."""
        with pytest.raises(UnknownFlowError) as raised:
            execute(ingest, "nope")
        assert "there is no flow 'nope'; the flows are ingest_batch, process_document" == str(raised.value)

    @pytest.mark.parametrize("options, message", [
        ({"concurrency": 0}, "concurrency must be an int of 1 or more, got 0"),
        ({"sleep_time": 0}, "sleep_time must be a number of seconds above 0, got 0"),
    ])
    def test_bad_options(self, ingest, options, message):
        """Out-of-range options are refused with a ValueError that names the value."""
        with pytest.raises(ValueError) as raised:
            execute(ingest, "ingest_batch", **options)
        assert message == str(raised.value)

    def test_selective_run_runs_only_the_path(self, ingest):
        """A selective run of the first task runs it alone; every flow event carries the selection."""
        execution = execute(ingest, "ingest_batch", BATCH, selective=Selective(("ListInbox",)))
        selection = {"task_names": ["ListInbox"], "waiting_edges_subset": {"ingest_batch": {"0": ["ListInbox"]}}}
        assert (True, {"ListInbox": 1}, {}) == (
            execution.succeeded, {name: len(ids) for name, ids in execution.state["finished_nodes"].items()},
            execution.state["failed_nodes"])
        carried = [(Trace.event2str(event), msg["selective"]) for event, msg in execution.events if "selective" in msg]
        assert ([(name, selection) for name in ("FLOW_SCHEDULE", "DISPATCHER_WAKEUP", "FLOW_START")],
                [(name, selection) for name, _ in carried]) == (carried[:3], carried)


class TestCommand:
    """flowtrace execute."""

    def test_runs_the_demo_flow_and_draws_it(self, ingest, tmp_path, capsys):
        """It exits 0, draws the tree of every node and writes the events to --json."""
        out = tmp_path / "events.jsonl"
        code = cli.main(["execute", INGEST, "--flow-name", "ingest_batch", "--node-args", json.dumps(BATCH),
                         "--json", str(out)])
        lines = capsys.readouterr().out.splitlines()
        names = [line.split("[")[0].strip(" ├└│─") for line in lines[1:-1]]
        found = [json.loads(line) for line in out.read_text().splitlines()]
        assert (0, ["flow ingest_batch", "ListInbox", "flow process_document", "ExtractText", "IndexDocument",
                    "flow process_document", "ExtractText", "IndexDocument", "flow process_document", "ExtractText",
                    "ArchiveOriginals", "QueueForOcr"], "flow ingest_batch ended", DEMO_LABELS) == (
            code, names, lines[-1].split(" (")[0], labels(found))

    def test_selinon_style_options(self, ingest, tmp_path, capsys):
        """--nodes-definition and --flow-definitions name the YAML, and --node-args-file the arguments."""
        args = tmp_path / "args.json"
        args.write_text(json.dumps({"batch": "b", "document": "receipt-913.jpg"}))
        code = cli.main(["execute", "--nodes-definition", INGEST, "--flow-name", "process_document",
                         "--node-args-file", str(args), "--no-view"])
        assert (1, "flow process_document failed") == (code, capsys.readouterr().out.split(" (")[0])

    @pytest.mark.parametrize("argv, message", [
        (["--flow-name", "nope"], "there is no flow 'nope'; the flows are ingest_batch, process_document"),
        (["--flow-name", "ingest_batch", "--node-args", "{bad"],
         "--node-args is not JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
        (["--flow-name", "ingest_batch", "--node-args", "1", "--node-args-file", "x"],
         "give the flow's arguments with --node-args or --node-args-file, not both"),
        (["--flow-name", "ingest_batch", "--run-subsequent"], "--run-subsequent needs --selective-task-names"),
    ])
    def test_bad_input(self, ingest, capsys, argv, message):
        """Bad input is one error line on stderr, exit code 1, no traceback."""
        code = cli.main(["execute", INGEST] + argv)
        captured = capsys.readouterr()
        assert (1, "flowtrace execute: error: %s\n" % message) == (code, captured.err)

    def test_help_says_it_is_for_development(self, capsys):
        """The help says the command is for development and no proof of cross-process behaviour."""
        with pytest.raises(SystemExit):
            cli.build_parser().parse_args(["execute", "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert ("(for development: no proof of how it runs across processes)" in text,
                "no message leaves the process" in text) == (True, True)


class TestTraceConfiguration:
    """The YAML's global: trace reaches Trace only when asked."""

    YAML = """\
tasks:
  - {name: ListInbox, import: ingest_tasks}
flows: [solo]
flow-definitions:
  - name: solo
    edges:
      - {from: [], to: ListInbox}
global:
  trace:
    - function: {import: flowtrace.testing, name: EventCapture}
"""

    def test_left_alone_by_default(self, ingest, tmp_path):
        """Without configure_trace, the sinks are those the process had, before and after the run."""
        path = tmp_path / "solo.yml"
        path.write_text(self.YAML)
        before = Trace.sinks()
        execution = execute(str(path), "solo", BATCH)
        assert (ENDED, before) == (execution.outcome, Trace.sinks())
