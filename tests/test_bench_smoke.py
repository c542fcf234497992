"""The benchmarks run, as ``make bench`` would run them, and report a figure for everything they time.

Only that each benchmark works is checked: never its speed or its PASS/MISS
verdicts (bench/README.md).
"""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.integration


def _bench(script, *args, timeout=300):
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / script), "--quick", "--json", *args],
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    assert 0 == proc.returncode, proc.stderr[-4000:]
    return json.loads(proc.stdout)


def _redis_url():
    """A Redis listed in FLOWTRACE_TEST_BROKERS (which must answer), else a local one if it answers."""
    listed = [url.strip() for url in os.environ.get("FLOWTRACE_TEST_BROKERS", "").split(",")
              if url.strip().startswith("redis://")]
    url = listed[0] if listed else "redis://127.0.0.1:6379/5"
    parsed = urlparse(url)
    try:
        socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 6379), timeout=5).close()
    except OSError as exc:
        if listed:
            pytest.fail("Redis %s listed in FLOWTRACE_TEST_BROKERS is unreachable: %s" % (url, exc), pytrace=False)
        pytest.skip("worker_bench needs Redis; none answers at %s" % url)
    return url


class TestWorkerBench:
    def test_quick_run_measures_every_configuration(self):
        """A quick run gives positive tasks/s, CPU times and ratios for all three configurations, tracing every task."""
        out = _bench("worker_bench.py", "--broker", _redis_url())
        tasks = out["meta"]["n"] + out["meta"]["warmup"]

        def positive(row):
            numbers = [row["tasks_per_s"], row["ratio"], *row["rounds_tasks_per_s"], *row["rounds_seconds"],
                       *row["cpu_us_per_task"].values()]
            return all(isinstance(value, (int, float)) and value > 0 for value in numbers)

        assert (
            [("bare", True), ("flowtrace", True), ("otel", True)],
            [4 * tasks],
            [2 * tasks],
            True,
        ) == (
            [(row["config"], positive(row)) for row in out["results"]],
            out["results"][1]["traced_per_round"],
            out["results"][2]["traced_per_round"],
            out["valid"],
        )


class TestTraceBench:
    def test_quick_run_times_every_case(self):
        """A quick run gives positive nanoseconds and a ratio for both libraries in every case."""
        sys.path.insert(0, str(ROOT / "bench"))
        try:
            import trace_bench
        finally:
            sys.path.remove(str(ROOT / "bench"))
        out = _bench("trace_bench.py", timeout=120)

        def positive(row):
            return all(isinstance(row[key], (int, float)) and row[key] > 0
                       for key in ("flowtrace_ns", "selinon_ns", "ratio"))

        assert [(case[0], True) for case in trace_bench.CASES] == [
            (row["case"], positive(row)) for row in out["results"]]


class TestFlowLatencyBench:
    def test_quick_run_measures_both_modes(self):
        """A quick run on the embedded broker gives a reaction latency for every node, nudged and polled."""
        out = _bench("flow_latency.py", "--broker", "filesystem://", timeout=240)
        (row,) = out["results"]
        assert ("filesystem", 3, 3, True, True) == (
            row["broker"], row["nudge"]["reaction"]["n"], row["countdown"]["reaction"]["n"],
            row["nudge"]["reaction"]["median_ms"] > 0, row["ratio_median_reaction"] > 0)


class TestPropagationBench:
    def test_quick_run_times_both_operations(self):
        """A quick run gives positive nanoseconds and a ratio for publish and task start, in both settings."""
        out = _bench("propagation_bench.py", timeout=180)

        def positive(row):
            return all(isinstance(row[key], (int, float)) and row[key] > 0 for key in ("flowtrace_ns", "otel_ns", "ratio"))

        assert [("api", "publish", True), ("api", "task_start", True), ("sdk", "publish", True),
                ("sdk", "task_start", True)] == [(row["setting"], row["operation"], positive(row))
                                                 for row in out["results"]]



class TestFlowBench:
    def test_quick_run_measures_every_way(self):
        """A quick run times and counts the DAG and the foreach three ways, and times wake-ups at every size."""
        base = urlparse(_redis_url())
        out = _bench("flow_bench.py", "--broker", "redis://%s/8" % base.netloc, "--backend",
                     "redis://%s/9" % base.netloc, timeout=420)

        def positive(row, *keys):
            return all(isinstance(row[key], (int, float)) and row[key] > 0 for key in keys)

        assert (
            [("flowtrace", True, 1.0, 1.0), ("selinon", True, 1.0, 0.0), ("canvas", True, 1.0, 0.0)],
            ["flowtrace / selinon", "flowtrace / canvas"],
            [("flowtrace", 21, True), ("selinon", 21, True), ("canvas", 22, True)],
            {(shape, measure, size) for shape in ("fan-out", "foreach")
             for measure in ("advance", "dispatcher") for size in (10, 100, 1000)},
        ) == (
            [(row["way"], positive(row, "median_s", "p90_s", "messages_per_node"), row["task_messages_per_node"],
              row["broadcasts_per_node"]) for row in out["dag"]],
            [verdict["ratio"] for verdict in out["dag_targets"]],
            [(row["way"], row["nodes"], positive(row, "wall_s", "messages_per_flow")) for row in out["foreach"]],
            {(row["shape"], row["measure"], row["size"]) for row in out["wakeup"]
             if row["measure"] in ("advance", "dispatcher") and row["us"] > 0},
        )
