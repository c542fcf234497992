"""Selinon's YAML wiring run by real prefork workers: storage and node-state caches, Selinon's built-in
Redis and PostgreSQL adapters (on flowtrace's), and the trace sent to a storage.

One worker per broker serves every test here; its flows are in ``wiring_flows/``. The storages are the
real Redis (db 11) and PostgreSQL (table ``flowtrace_it_wiring``) of the development machine.
"""

import glob
import json
import os
from collections import Counter

import pytest
import redis
import sqlalchemy


from flowtrace import Trace
from tests.integration.harness import Run, hook_failures
from tests.integration.test_flows import finished, run_flow
from tests.integration.wiring_app import make_wiring_app

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def wiring_run(broker, runs_dir):
    """One worker (prefork, concurrency 2) per broker, with wiring_flows/ loaded."""
    run = Run(broker, runs_dir, "wiring", app_module="tests.integration.wiring_app", app_factory=make_wiring_app)
    run.worker()
    try:
        yield run
    finally:
        run.close()
    assert [] == hook_failures(run)


@pytest.fixture
def run(wiring_run, producing):
    """The shared run, with the pytest process as its traced producer."""
    producing(wiring_run)
    return wiring_run


def ids(result):
    return {name: node_ids[0] for name, node_ids in result.result["finished_nodes"].items()}


class TestWiring:
    def test_result_cache_saves_a_read_on_selinons_redis(self, run):
        """The dispatcher reads Produce's result twice: one STORAGE_RETRIEVE, one TASK_RESULT_CACHE_HIT; in Redis db 11."""
        result, log = run_flow(run, "wiring_result_cache")
        assert {"Produce": 1, "Left": 1, "Right": 1} == finished(result)
        produce = ids(result)["Produce"]
        reads = [log.records[i]["event"] for i in range(len(log.records))
                 if log.records[i]["event"].startswith(("STORAGE_RETRIEVE", "TASK_RESULT_CACHE"))
                 and log.records[i]["details"].get("task_id") == produce]
        assert ["TASK_RESULT_CACHE_GET", "TASK_RESULT_CACHE_MISS", "STORAGE_RETRIEVE", "STORAGE_RETRIEVED",
                "TASK_RESULT_CACHE_ADD", "TASK_RESULT_CACHE_GET", "TASK_RESULT_CACHE_HIT"] == reads
        stored = redis.Redis(host="127.0.0.1", port=6379, db=11).hget(
            "flowtrace:result:wiring_result_cache:Produce:%s" % produce, "result")
        assert {"side": "left"} == json.loads(stored)

    def test_node_state_cache_and_selinons_postgresql(self, run):
        """The outer dispatcher reads the ended sub-flow's state once from the backend and once from its cache."""
        result, log = run_flow(run, "wiring_outer")
        assert {"wiring_inner": 1, "Collect": 1} == finished(result)
        inner = ids(result)["wiring_inner"]
        events = [log.records[i]["event"] for i in range(len(log.records))
                  if log.records[i]["event"].startswith("NODE_STATE_CACHE")
                  and log.records[i]["details"].get("node_id") == inner]
        # Read while it runs (a miss, nothing added), then once ended: added, and read again as a hit.
        assert ["NODE_STATE_CACHE_ADD", "NODE_STATE_CACHE_GET", "NODE_STATE_CACHE_HIT"] == events[-3:]
        assert (1, 1, set()) == (events.count("NODE_STATE_CACHE_ADD"), events.count("NODE_STATE_CACHE_HIT"),
                                 set(events) - {"NODE_STATE_CACHE_GET", "NODE_STATE_CACHE_MISS",
                                                "NODE_STATE_CACHE_ADD", "NODE_STATE_CACHE_HIT"})
        collect = ids(result)["Collect"]
        engine = sqlalchemy.create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/test")
        with engine.connect() as connection:
            row = connection.execute(sqlalchemy.text(
                "SELECT result FROM flowtrace_it_wiring WHERE flow_name = 'wiring_outer' AND task_name = 'Collect' "
                "AND task_id = :id"), {"id": collect}).one()
        engine.dispose()
        assert ({"inner": None},) == tuple(row)

    def test_the_trace_lands_in_the_storage(self, run):
        """global: trace: storage: the worker's events for a flow are in TraceFiles, as in the JSON log."""
        result, log = run_flow(run, "wiring_inner")
        lines = []
        for path in glob.glob(os.path.join(run.dir, "trace-storage", "trace-*.jsonl")):
            with open(path, encoding="utf-8") as f:
                lines.extend(json.loads(line) for line in f)
        nodes = {result.id} | {log.details(i)["task_id"] for i in log.find("TASK_SCHEDULE")}

        def ours(details):
            return bool(nodes & {details.get("dispatcher_id"), details.get("task_id")})

        worker = Counter(r["event"] for r in log.records if r["pid"] != os.getpid() and ours(r["details"]))
        stored = Counter(Trace.event2str(line["event"]) for line in lines if ours(line["details"]))
        assert worker == stored
        assert {"DISPATCHER_WAKEUP", "FLOW_START", "TASK_SCHEDULE", "TASK_START", "TASK_END", "STORAGE_STORE",
                "FLOW_END"} <= set(stored)
