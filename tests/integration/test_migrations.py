"""Migrations on real workers: a flow queued under one version of its YAML goes on under the next.

Version 1 of the flow ``migrated`` (``migration_flows/v1``) has the edges
``[] -> A`` and ``A -> B``; version 2 has ``A -> [B, C]`` instead of
``A -> B``, so a flow that fired ``A -> B`` is tainted. A worker of version 1
runs the flow until its dispatcher's message holds A finished and B sent (B
waits on a queue that only workers of version 2 consume, see
``migration_app.py``), and stops (warm shutdown): the dispatcher's message
stays in the broker, or goes back to it from the worker's timer. Then
``create_migration`` writes ``1.json`` with a strategy, and a worker of
version 2 starts: its dispatcher applies the migration, and the flow goes
on, starts over or fails, as the strategy says.
"""

import json
import os
import time
from typing import NamedTuple
from unittest import mock

import pytest

from flowtrace.flow.dispatcher import FlowError
from flowtrace.flow.migrations import create_migration
from flowtrace.flow.run import run_flow
from tests.integration.harness import Run, hook_failures
from tests.integration.migration_app import flows, make_migration_app, migration_dir

pytestmark = pytest.mark.integration

FLOW = "migrated"
NODES = ("A", "B", "C")
#: What 1.json holds besides its strategy: A -> B (old index 1) is gone, A -> [B, C] (new index 1) is new.
MIGRATION = {FLOW: {"translation": {"1": None},
                    "tainted_edges": {"1": {"from": ["A"], "to": ["B"], "condition_str": {"name": "alwaysTrue"}}},
                    "tainting_nodes": {"1": ["A"]}}}
#: The events a dispatcher's own wake-up writes, in its process's order.
OWN = ("DISPATCHER_WAKEUP", "DISPATCHER_RETRY", "FLOW_START", "FLOW_END", "FLOW_FAILURE", "FLOW_RETRY",
       "NODE_SUCCESSFUL", "NODE_FAILURE", "TASK_SCHEDULE", "MIGRATION", "MIGRATION_SKEW", "MIGRATION_TAINTED_FLOW",
       "MIGRATION_ERROR")


class Stopped(NamedTuple):
    """A flow left queued by a stopped worker of version 1."""

    run: Run
    result: object
    #: The state and countdown of the dispatcher's last message under version 1.
    state: dict
    countdown: float
    a_id: str
    b_id: str
    #: How many events the run's file held when the worker had stopped.
    offset: int


def _find(run, event, **match):
    return [r for r in run.events.refresh()
            if r["event"] == event and all(r["details"].get(key) == value for key, value in match.items())]


def _wait(what, found, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not found():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for %s" % what)
        time.sleep(0.05)
    return found()


def _flow_message(stopped):
    return {"flow_name": FLOW, "dispatcher_id": stopped.result.id, "node_args": None, "queue": stopped.run.queue,
            "selective": False}


def _migration_base(stopped):
    """The keys every MIGRATION* event of the first wake-up under version 2 carries."""
    return dict(_flow_message(stopped), state=stopped.state, retry=stopped.countdown, retried_count=0, parent=None,
                migration_version=0)


@pytest.fixture
def stopped(broker, runs_dir, producing):
    """A flow run by a worker of version 1 until A finished and B was sent, then that worker stopped."""
    run = Run(broker, runs_dir, "migrations", app_module="tests.integration.migration_app",
              app_factory=make_migration_app)
    os.makedirs(migration_dir(run.dir))  # the folder of version 1: no migration yet
    producing(run)
    try:
        worker = run.worker("v1", FLOWTRACE_IT_FLOWS="v1")
        result = run_flow(run.app, FLOW)

        def b_sent():
            return [r for r in _find(run, "DISPATCHER_RETRY", dispatcher_id=result.id)
                    if [name for name, _ in r["details"]["state_dict"]["active_nodes"]] == ["B"]]

        _wait("the dispatcher's state with B sent", b_sent)
        worker.stop(grace=30)
        assert 0 == worker.proc.returncode, worker.log()[-4000:]
        last = _find(run, "DISPATCHER_RETRY", dispatcher_id=result.id)[-1]["details"]
        (a_id,), ((_, b_id),) = last["state_dict"]["finished_nodes"]["A"], last["state_dict"]["active_nodes"]
        assert {"finished_nodes": {"A": [a_id]}, "failed_nodes": {},
                "active_nodes": [["B", b_id]]} == last["state_dict"]
        # Under version 1: the flow did not end, nothing was migrated, and B never started.
        v1 = run.events.refresh()
        assert [] == [r["event"] for r in v1 if r["event"] in ("FLOW_END", "FLOW_FAILURE")
                      or r["event"].startswith("MIGRATION")]
        assert [] == _find(run, "TASK_START", task_id=b_id)
        yield Stopped(run, result, last["state_dict"], last["countdown"], a_id, b_id, len(v1))
    finally:
        run.close()
    assert [] == hook_failures(run)


def migrate_and_restart(stopped, strategy, failed=False):
    """Write 1.json with ``strategy``, start a worker of version 2, and wait for the flow's end.

    Returns the flow's events written since the worker of version 1 stopped, in file order.
    """
    run = stopped.run
    # No folder given: the one of version 2's global: migration_dir, with {FLOWTRACE_IT_DIR} expanded.
    with mock.patch.dict(os.environ, FLOWTRACE_IT_DIR=run.dir):
        path = create_migration([flows("v1")], [flows("v2")], tainted_flow_strategy=strategy, meta=False)
    assert os.path.join(migration_dir(run.dir), "1.json") == path
    with open(path) as handle:
        assert {"migration": MIGRATION, "tainted_flow_strategy": strategy} == json.load(handle)
    run.worker("v2", FLOWTRACE_IT_FLOWS="v2")
    stopped.result.get(timeout=60, propagate=False)
    assert ("FAILURE" if failed else "SUCCESS") == stopped.result.state, stopped.result.result
    end = "TASK_FAILURE" if failed else "TASK_END"
    _wait("the dispatcher's %s" % end, lambda: _find(run, end, task_id=stopped.result.id))
    time.sleep(0.3)  # anything written late, such as a duplicate, shows now
    return [r for r in run.events.refresh()[stopped.offset:]
            if stopped.result.id in (r["details"].get("dispatcher_id"), r["details"].get("task_id"))]


def own(records):
    """The dispatcher's own events (not those of its nodes' processes), as (event, details)."""
    return [(r["event"], r["details"]) for r in records if r["event"] in OWN]


def first_wakeup(stopped, records):
    """The dispatcher's own events of its first wake-up under version 2: the one that migrates."""
    events = own(records)
    assert "DISPATCHER_WAKEUP" == events[0][0], events
    assert (stopped.state, stopped.countdown) == (events[0][1]["state"], events[0][1]["retry"])
    ends = [i for i, (event, _) in enumerate(events) if i and event == "DISPATCHER_WAKEUP"]
    return events[:ends[0] if ends else None]


def started(records, name):
    """The ids of the ``name`` tasks that started, in file order."""
    return [r["details"]["task_id"] for r in records
            if r["event"] == "TASK_START" and r["details"].get("task_name") == name]


class TestTaintedFlow:
    """A flow whose fired edge A -> B is gone in version 2, under each tainted-flow strategy."""

    def test_ignore(self, stopped):
        """IGNORE: the flow goes on as far as it got, so it ends with A and B, and C never runs."""
        records = migrate_and_restart(stopped, "IGNORE")
        base = _migration_base(stopped)
        tainted = dict(base, migration_version=1, latest_migration_version=1, tainting_nodes=None,
                       tainted_edge=MIGRATION[FLOW]["tainted_edges"]["1"], tainted_flow_strategy="IGNORE")
        migrated = dict(base, new_migration_version=1, old_migration_version=0, tainted=True)
        wakeup = first_wakeup(stopped, records)
        assert [("MIGRATION_TAINTED_FLOW", tainted), ("MIGRATION", migrated)] == wakeup[1:3]
        assert wakeup[1:3] == [(event, details) for event, details in own(records) if event.startswith("MIGRATION")]
        final = {"finished_nodes": {"A": [stopped.a_id], "B": [stopped.b_id]}, "failed_nodes": {},
                 "active_nodes": []}
        assert final == stopped.result.result
        assert [("FLOW_END", dict(_flow_message(stopped), state=final))] == [
            (event, details) for event, details in own(records) if event.startswith("FLOW_")]
        assert ([], [stopped.b_id], []) == tuple(started(records, name) for name in NODES)

    def test_retry(self, stopped):
        """RETRY: the flow starts over under version 2, so it ends with new runs of A and B, and with C."""
        records = migrate_and_restart(stopped, "RETRY")
        tainted = dict(_migration_base(stopped), migration_version=1, latest_migration_version=1,
                       tainting_nodes=None, tainted_edge=MIGRATION[FLOW]["tainted_edges"]["1"],
                       tainted_flow_strategy="RETRY")
        wakeup = first_wakeup(stopped, records)
        assert [("MIGRATION_TAINTED_FLOW", tainted)] == wakeup[1:]
        assert wakeup[1:] == [(event, details) for event, details in own(records) if event.startswith("MIGRATION")]
        # The next wake-up starts the flow afresh, its retried_count unchanged, at the new version: nothing to migrate.
        restart = own(records)[len(wakeup)]
        assert ("DISPATCHER_WAKEUP", dict(_flow_message(stopped), state=None, retry=None, retried_count=0,
                                          parent=None)) == restart
        (a_id,), (b_id,), (c_id,) = (stopped.result.result["finished_nodes"][name] for name in NODES)
        final = {"finished_nodes": {"A": [a_id], "B": [b_id], "C": [c_id]}, "failed_nodes": {}, "active_nodes": []}
        assert final == stopped.result.result
        assert set() == {a_id, b_id} & {stopped.a_id, stopped.b_id}
        assert [("FLOW_START", _flow_message(stopped)), ("FLOW_END", dict(_flow_message(stopped), state=final))] == [
            (event, details) for event, details in own(records) if event.startswith("FLOW_")]
        # The B that version 1 sent still runs (its message was queued), outside the flow that started over.
        assert ([a_id], sorted([stopped.b_id, b_id]), [c_id]) == (
            started(records, "A"), sorted(started(records, "B")), started(records, "C"))

    def test_fail(self, stopped):
        """FAIL: the flow fails at once, whatever its max_retry, with the state version 1 left it in."""
        records = migrate_and_restart(stopped, "FAIL", failed=True)
        tainted = dict(_migration_base(stopped), migration_version=1, latest_migration_version=1,
                       tainting_nodes=None, tainted_edge=MIGRATION[FLOW]["tainted_edges"]["1"],
                       tainted_flow_strategy="FAIL")
        failure = dict(_flow_message(stopped), state=stopped.state, will_retry=False)
        assert [("MIGRATION_TAINTED_FLOW", tainted), ("FLOW_FAILURE", failure)] == first_wakeup(stopped, records)[1:]
        assert ["DISPATCHER_WAKEUP", "MIGRATION_TAINTED_FLOW", "FLOW_FAILURE"] == [event for event, _ in own(records)]
        assert (FlowError, stopped.state) == (type(stopped.result.result), stopped.result.result.state)
        assert ([], []) == (started(records, "A"), started(records, "C"))
