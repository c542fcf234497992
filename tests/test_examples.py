"""The examples run, as a user would run them, and do what they say."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


class TestSinksTour:
    def test_tour_runs_through_every_sink(self):
        """The tour exits 0, prints one valid JSON line per event, redacts the api_key and isolates its broken sink."""
        proc = subprocess.run([sys.executable, str(ROOT / "examples" / "sinks_tour" / "tour.py")],
                              capture_output=True, text=True, timeout=120, cwd=ROOT,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
        lines = [json.loads(line) for line in proc.stdout.splitlines()]
        names = [line["event"] for line in lines]
        assert (0, [
            "FLOW_SCHEDULE", "DISPATCHER_WAKEUP", "FLOW_START",
            "TASK_SCHEDULE", "TASK_START", "TASK_END", "NODE_SUCCESSFUL",
            "TASK_SCHEDULE", "TASK_START", "TASK_RETRY", "TASK_START", "TASK_END", "NODE_SUCCESSFUL",
            "FLOW_END",
        ], {"[redacted]"}, 0, 1) == (
            proc.returncode, names, {line["details"]["node_args"]["api_key"] for line in lines},
            proc.stdout.count("k-123") + proc.stderr.count("k-123"),
            proc.stderr.count("sink failures, isolated and counted: {'broken': 14}"))


FLOW_DEMO = ROOT / "examples" / "flow_demo"


class TestFlowDemoExample:
    """examples/flow_demo: the flow ``flowtrace demo`` runs (the demo itself is tested in tests/test_demo.py)."""

    def test_flowtrace_check_passes(self):
        """``flowtrace check ingest.yml``, run in the example's folder as its README says, finds no problem."""
        proc = subprocess.run([sys.executable, "-m", "flowtrace", "check", "ingest.yml"], capture_output=True,
                              text=True, timeout=120, cwd=FLOW_DEMO, env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert (0, "ok: 6 tasks, 2 flows, 1 storage in 1 file\n", "") == (proc.returncode, proc.stdout, proc.stderr)

    def test_flow_has_each_feature_the_demo_shows(self, monkeypatch):
        """ingest_batch has a foreach into a sub-flow, a condition that holds, one that does not, and a fallback."""
        import flowtrace
        from flowtrace.flow.conditions import describe

        monkeypatch.syspath_prepend(str(FLOW_DEMO))
        config = flowtrace.load_flows(str(FLOW_DEMO / "ingest.yml"))
        flow = config.flows["ingest_batch"]
        edges = [(edge.nodes_from, edge.nodes_to, describe(edge.condition),
                  edge.foreach and (edge.foreach.import_path, edge.foreach.function, edge.foreach.propagate_result))
                 for edge in flow.edges]
        assert ([
            ((), ("ListInbox",), "alwaysTrue()", None),
            (("ListInbox",), ("process_document",), "alwaysTrue()", ("ingest_tasks", "each_document", True)),
            (("ListInbox",), ("ArchiveOriginals",), "fieldLenGreater(ListInbox, key='documents', length=0)", None),
            (("ListInbox",), ("PageOnCall",), "fieldEqual(ListInbox, key='urgent', value=True)", None),
        ], [(("process_document",), ("QueueForOcr",))], True) == (
            edges, [(failure.nodes, failure.fallback) for failure in flow.failures],
            config.is_flow("process_document"))

    def test_tasks_read_the_inbox(self, monkeypatch):
        """The foreach returns one item per document, and the photo without a text layer fails for good."""
        import flowtrace

        monkeypatch.syspath_prepend(str(FLOW_DEMO))
        import ingest_tasks

        class Pool:
            def get(self, name):
                return {"ListInbox": {"batch": "b-1", "documents": ["a.pdf", "b.jpg"]}}[name]

        extract = ingest_tasks.ExtractText("process_document", "ExtractText", {}, "t-1", "d-1")
        with pytest.raises(flowtrace.FatalTaskError) as raised:
            extract.run({"batch": "b-1", "document": "receipt-913.jpg"})
        words = "Invoice 42 from Acme GmbH total 1280.00 EUR due 2026-12-21".split()
        assert ([{"batch": "b-1", "document": "a.pdf"}, {"batch": "b-1", "document": "b.jpg"}],
                "receipt-913.jpg has no text layer", {"document": "invoice-0042.pdf", "words": words}) == (
            ingest_tasks.each_document(Pool(), None), str(raised.value), extract.run({"document": "invoice-0042.pdf"}))
