"""The examples run, as a user would run them, and do what they say."""

import json
import os
import subprocess
import sys
from pathlib import Path

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
