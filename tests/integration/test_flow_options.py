"""Selinon's flow options that change a run, on real prefork workers: one flow each, one worker for them all.

The flows are in ``tests/integration/flows/options.yml`` and their tasks in
``flow_options_tasks.py``; ``test_flows.py`` describes how the events are
asserted.
"""

import time

import pytest

import flowtrace
from flowtrace.flow.dispatcher import FlowError
from flowtrace.storages.filesystem import FilesystemStorage
from tests.integration.flow_app import make_flow_app
from tests.integration.flow_options_tasks import gate_path
from tests.integration.harness import Run, hook_failures
from tests.integration.test_flows import FlowLog, finished, run_flow

pytestmark = pytest.mark.integration

EAGER_KEYS = ("flow_name", "dispatcher_id", "selective", "node_name", "node_id", "what")


@pytest.fixture(scope="module")
def options_run(broker, runs_dir):
    """One worker per broker, with the flows loaded. Concurrency 4: an eager flow's retry runs while the first
    attempt's Gate still occupies a process, and its own Gate another."""
    run = Run(broker, runs_dir, "options", app_module="tests.integration.flow_app", app_factory=make_flow_app)
    run.worker(concurrency=4)
    try:
        yield run
    finally:
        run.close()
    assert [] == hook_failures(run)


@pytest.fixture
def run(options_run, producing):
    """The shared run, with the pytest process as its traced producer."""
    producing(options_run)
    return options_run


def storage(run):
    found = FilesystemStorage(run.dir + "/results")
    found.connect()
    return found


class TestEagerFailures:
    def test_fails_at_once_and_retries(self, run):
        """OptBroken fails the flow while OptGate runs: EAGER_FAILURE, FLOW_FAILURE, a retry, then failure for good."""
        result = flowtrace.run_flow(run.app, "opt_eager")
        try:
            result.get(timeout=90, propagate=False)
            assert "FAILURE" == result.state, result.result
            run.events.wait(result.id, lambda rs: any(r["event"] == "TASK_FAILURE" for r in rs), timeout=30)
            log = FlowLog(run.events.refresh(), result.id)
            gates = [log.details(p)["task_id"] for p in log.find("TASK_SCHEDULE", task_name="OptGate")]
            broken = [log.details(p)["task_id"] for p in log.find("TASK_SCHEDULE", task_name="OptBroken")]
            # The gate is still shut: both attempts failed with their OptGate running.
            assert (2, 2, []) == (len(gates), len(broken), log.find("TASK_END", task_name="OptGate"))
            assert isinstance(result.result, FlowError)
            final = {"finished_nodes": {}, "failed_nodes": {"OptBroken": [broken[1]]},
                     "active_nodes": [["OptGate", gates[1]]]}
            assert final == result.result.state
            failures = log.find("FLOW_FAILURE")
            assert [True, False] == [log.details(p)["will_retry"] for p in failures]
            assert final == log.details(failures[1])["state"]
            eager = log.find("EAGER_FAILURE")
            for position, node_id in zip(eager, broken):
                details = log.details(position)
                assert sorted(EAGER_KEYS) == sorted(details)
                assert {"flow_name": "opt_eager", "dispatcher_id": result.id, "selective": False,
                        "node_name": "OptBroken", "node_id": node_id} == {
                            key: details[key] for key in EAGER_KEYS if key != "what"}
                assert "ValueError: broken on purpose" in details["what"]
            assert 2 == len(eager)
            log.before(log.one("NODE_FAILURE", node_id=broken[0]), eager[0], failures[0], log.one("FLOW_RETRY"),
                       log.one("TASK_SCHEDULE", task_id=broken[1]), log.one("NODE_FAILURE", node_id=broken[1]),
                       eager[1], failures[1])
            wakeups = len(log.find("DISPATCHER_WAKEUP"))
        finally:
            open(gate_path(run.dir, result.id), "w").close()
        # Once the gate opens, both gates end; the flow is over, so nothing handles them.
        for gate in gates:
            run.events.wait_terminal(gate)
        time.sleep(0.5)
        log = FlowLog(run.events.refresh(), result.id)
        assert (wakeups, [], []) == (len(log.find("DISPATCHER_WAKEUP")), log.find("NODE_SUCCESSFUL"),
                                     log.find("TASK_SCHEDULE", task_name="OptEcho"))


class TestNodeArgsFromFirst:
    def test_the_first_result_is_the_arguments(self, run):
        """What OptFirst returns is the node_args of everything after it: a condition, a task, a sub-flow's task."""
        result, log = run_flow(run, "opt_first", {"order": 5})
        assert {"OptFirst": 1, "OptEcho": 1, "opt_first_inner": 1} == finished(result)
        made = {"made_by": "OptFirst", "from": {"order": 5}}
        first = log.details(log.one("TASK_SCHEDULE", task_name="OptFirst"))
        echoes = [log.details(p) for p in log.find("TASK_SCHEDULE", task_name="OptEcho")]
        inner = log.details(log.one("SUBFLOW_SCHEDULE"))
        assert ({"order": 5}, [made, made], made) == (first["node_args"], [e["node_args"] for e in echoes],
                                                      inner["node_args"])
        for echo in echoes:
            assert made == log.details(log.one("TASK_START", task_id=echo["task_id"]))["node_args"]
            assert made == storage(run).retrieve(echo["flow_name"], "OptEcho", echo["task_id"])["node_args"]
        # The state carries them; the dispatcher's message keeps the flow's own.
        retry = log.details(log.find("DISPATCHER_RETRY", dispatcher_id=result.id)[-1])
        assert (made, {"order": 5}) == (retry["state_dict"]["node_args"], retry["node_args"])


class TestCompound:
    def test_compound_finished(self, run):
        """OptCollect gets the OptEcho runs of opt_mid and of opt_deep inside it in one flat list, and reads by index."""
        result, log = run_flow(run, "opt_compound")
        assert {"opt_mid": 1, "OptCollect": 1} == finished(result)
        mid = log.details(log.one("SUBFLOW_SCHEDULE", child_flow_name="opt_mid"))["child_dispatcher_id"]
        deep = log.details(log.one("SUBFLOW_SCHEDULE", child_flow_name="opt_deep"))["child_dispatcher_id"]
        echoes = [log.details(log.one("TASK_SCHEDULE", task_name="OptEcho", dispatcher_id=flow_id))["task_id"]
                  for flow_id in (mid, deep)]
        collect = log.details(log.one("TASK_SCHEDULE", task_name="OptCollect"))
        assert {"opt_mid": {"OptEcho": echoes}} == collect["parent"]
        assert {"opt_mid": {"OptEcho": echoes}} == log.details(log.one("TASK_START",
                                                                       task_id=collect["task_id"]))["parent"]
        assert {"runs": 2, "first": "OptEcho"} == storage(run).retrieve("opt_compound", "OptCollect",
                                                                        collect["task_id"])

    def test_compound_and_parent_failures(self, run):
        """A failed sub-flow's failed tasks, nested ones too, reach its fallbacks flat: a task, and a sub-flow's task."""
        result, log = run_flow(run, "opt_rescue")
        assert {"OptInspect": 1, "opt_rescue_inner": 1} == finished(result)
        brittle = log.details(log.one("SUBFLOW_SCHEDULE", child_flow_name="opt_brittle"))["child_dispatcher_id"]
        deep = log.details(log.one("SUBFLOW_SCHEDULE", child_flow_name="opt_brittle_deep"))["child_dispatcher_id"]
        broken = [log.details(log.one("TASK_SCHEDULE", task_name="OptBroken", dispatcher_id=flow_id))["task_id"]
                  for flow_id in (brittle, deep)]
        parent = {"opt_brittle": {"OptBroken": broken}}
        inner = log.details(log.one("SUBFLOW_SCHEDULE", child_flow_name="opt_rescue_inner"))
        assert parent == inner["parent"]
        error = repr(ValueError("broken on purpose"))
        for flow_name in ("opt_rescue", "opt_rescue_inner"):
            inspect = log.details(log.one("TASK_SCHEDULE", task_name="OptInspect", flow_name=flow_name))
            assert parent == inspect["parent"]
            assert {"flow": flow_name, "errors": [error, error]} == storage(run).retrieve(
                flow_name, "OptInspect", inspect["task_id"])
        log.before(log.one("FLOW_FAILURE", dispatcher_id=brittle), log.one("NODE_FAILURE", node_id=brittle),
                   log.one("FALLBACK_START"), log.one("FLOW_END", dispatcher_id=result.id))
