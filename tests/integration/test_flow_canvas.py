"""Flows as steps of Celery's canvas on a real prefork worker: the middle of a chain, the header of a chord.

The flows are those of ``tests/integration/flows/``; the other steps are the
integration app's ``it.ok``, which returns its argument. One worker per
broker serves every test here.
"""

import os
import time

import pytest
from celery import chain, chord

import flowtrace
from tests.integration.flow_app import make_flow_app
from tests.integration.harness import Run, hook_failures
from tests.integration.test_flows import FlowLog, check_flow

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def canvas_run(broker, runs_dir):
    """One worker (prefork, concurrency 2) per broker, with the flows loaded."""
    run = Run(broker, runs_dir, "canvas", app_module="tests.integration.flow_app", app_factory=make_flow_app)
    run.worker()
    try:
        yield run
    finally:
        run.close()
    assert [] == hook_failures(run)


@pytest.fixture
def run(canvas_run, producing):
    """The shared run, with the pytest process as its traced producer."""
    producing(canvas_run)
    return canvas_run


def _flow_log(run, dispatcher_id):
    """The flow's events once its dispatcher's task has ended, checked as test_flows checks every flow."""
    run.events.wait(dispatcher_id, lambda rs: any(r["event"] == "TASK_END" for r in rs), timeout=30)
    time.sleep(0.3)  # anything written late, such as a duplicate, shows now
    log = FlowLog(run.events.refresh(), dispatcher_id)
    check_flow(log, dispatcher_id, failed=False)
    return log


def _first(run, event, task_id):
    """The position in the whole log of the first ``event`` of ``task_id``, and its record."""
    records = run.events.refresh()
    position = next(i for i, r in enumerate(records) if r["event"] == event and r["details"].get("task_id") == task_id)
    return position, records[position]


class TestChain:
    def test_flow_in_the_middle(self, run):
        """it.ok -> linear -> it.ok: the flow runs on the first step's result, the last step gets the flow's result,
        the worker emits FLOW_SCHEDULE, and every step and node shares the chain's trace."""
        steps = chain(run.app.tasks["it.ok"].s({"order": 9}), flowtrace.flow_signature(run.app, "linear"),
                      run.app.tasks["it.ok"].s())
        last = steps.apply_async()
        final = last.get(timeout=90)
        flow_id, first_id = last.parent.id, last.parent.parent.id
        log = _flow_log(run, flow_id)
        assert final == run.app.AsyncResult(flow_id).get(timeout=10)
        ids = {name: ids[0] for name, ids in final["finished_nodes"].items()}
        assert ({"A", "B", "Tail"}, {}, []) == (set(ids), final["failed_nodes"], final["active_nodes"])
        schedule = log.records[log.one("FLOW_SCHEDULE", dispatcher_id=flow_id)]
        assert ({"flow_name": "linear", "dispatcher_id": flow_id, "node_args": {"order": 9}, "queue": run.queue,
                 "selective": False}, True) == (schedule["details"], schedule["pid"] != os.getpid())
        assert {"order": 9} == log.details(log.one("TASK_START", task_id=ids["A"]))["node_args"]
        # The last step starts only once the flow has ended.
        flow_end, _ = next((i, r) for i, r in enumerate(run.events.refresh())
                           if r["event"] == "FLOW_END" and r["details"]["dispatcher_id"] == flow_id)
        last_start, last_record = _first(run, "TASK_START", last.id)
        _, first_record = _first(run, "TASK_START", first_id)
        assert flow_end < last_start
        trace_ids = {first_record["trace_id"], schedule["trace_id"], last_record["trace_id"]} | {
            record["trace_id"] for record in log.records if record["event"] == "TASK_START"}
        assert [first_record["trace_id"]] == sorted(trace_ids)


class TestChord:
    def test_flows_as_the_header(self, run):
        """A chord of two flows: its body starts after both flows ended, and gets both flows' results in order."""
        header = [flowtrace.flow_signature(run.app, "linear", {"order": 1}),
                  flowtrace.flow_signature(run.app, "diamond", {"order": 2})]
        body = chord(header, run.app.tasks["it.ok"].s()).apply_async()
        results = body.get(timeout=120)
        flow_ids = [child.id for child in body.parent.results]
        logs = [_flow_log(run, flow_id) for flow_id in flow_ids]
        assert [run.app.AsyncResult(flow_id).get(timeout=10) for flow_id in flow_ids] == results
        assert [{"A", "B", "Tail"}, {"A", "B", "Cc", "Join"}] == [set(result["finished_nodes"]) for result in results]
        for log, flow_id, node_args in zip(logs, flow_ids, ({"order": 1}, {"order": 2})):
            assert node_args == log.details(log.one("FLOW_SCHEDULE", dispatcher_id=flow_id))["node_args"]
            # Each dispatcher retried itself while its nodes ran: the body waited through those retries.
            assert [] != log.find("DISPATCHER_RETRY", dispatcher_id=flow_id)
        records = run.events.refresh()
        ends = [i for i, r in enumerate(records) if r["event"] == "FLOW_END" and r["details"]["dispatcher_id"]
                in flow_ids]
        body_start, _ = _first(run, "TASK_START", body.id)
        assert (2, True) == (len(ends), max(ends) < body_start)
