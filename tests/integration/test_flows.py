"""Flows run by real prefork workers: each flow's events, asserted as a partial order.

The flows are in ``tests/integration/flows/`` and their tasks in
``flow_tasks.py``. Events from different processes land in one file in the
order they were written, which is causal wherever the code makes it so: an
event that schedules a node is written before its message is sent, and a
node's end is written before it nudges its dispatcher. The tests assert what
must come before what, and what must appear exactly once; nothing about
timing.
"""

import os
import time

import pytest

import flowtrace
from flowtrace.flow.dispatcher import FlowError
from flowtrace.storages.filesystem import FilesystemStorage
from flowtrace.testing import capture_events
from tests.integration.flow_app import COUNTDOWN_WITH_OUTAGE, make_flow_app
from tests.integration.flow_tasks import OUTAGE_READS, outage_marker
from tests.integration.harness import Run, hook_failures

pytestmark = pytest.mark.integration

FLOW_KEYS = ("flow_name", "dispatcher_id", "parent", "node_args")
TASK_EVENTS = ("TASK_START", "TASK_END", "TASK_RETRY", "TASK_FAILURE", "TASK_DISCARD_RESULT")


def _flow_run(broker, runs_dir, label, **env):
    run = Run(broker, runs_dir, label, app_module="tests.integration.flow_app", app_factory=make_flow_app)
    run.worker(**env)
    return run


@pytest.fixture(scope="module")
def flow_run(broker, runs_dir):
    """One worker (prefork, concurrency 2) per broker, with the flows loaded; nudges on."""
    run = _flow_run(broker, runs_dir, "flows")
    try:
        yield run
    finally:
        run.close()
    assert [] == hook_failures(run)


@pytest.fixture
def run(flow_run, producing):
    """The shared run, with the pytest process as its traced producer (FLOW_SCHEDULE, TASK_PUBLISH)."""
    producing(flow_run)
    return flow_run


class FlowLog:
    """The events of one flow and its sub-flows, in file order, with partial-order assertions."""

    def __init__(self, records, dispatcher_id):
        ids = {dispatcher_id}
        for record in records:  # sub-flows are scheduled after their parent's events: one pass suffices
            details = record["details"]
            if record["event"] == "SUBFLOW_SCHEDULE" and details.get("dispatcher_id") in ids:
                ids.add(details["child_dispatcher_id"])
        nodes = {r["details"]["task_id"] for r in records
                 if r["event"] == "TASK_SCHEDULE" and r["details"].get("dispatcher_id") in ids}
        self.dispatcher_ids = ids
        self.records = [r for r in records
                        if r["details"].get("dispatcher_id") in ids or r["details"].get("task_id") in ids | nodes]

    def find(self, event, **match):
        """Positions of ``event`` whose details hold every ``match`` item."""
        return [i for i, r in enumerate(self.records)
                if r["event"] == event and all(r["details"].get(k) == v for k, v in match.items())]

    def one(self, event, **match):
        """The position of the one ``event`` matching; fails unless there is exactly one."""
        found = self.find(event, **match)
        assert 1 == len(found), "%s %r: expected exactly one, found %d in\n%s" % (event, match, len(found),
                                                                                  self.dump())
        return found[0]

    def none(self, event, **match):
        assert [] == self.find(event, **match), "%s %r should not occur" % (event, match)

    def details(self, position):
        return self.records[position]["details"]

    def before(self, *positions):
        """Each position comes before the next."""
        assert list(positions) == sorted(positions), "out of order: %s" % [
            (self.records[p]["event"], p) for p in positions]

    def dump(self):
        return "\n".join("%3d %s %s" % (i, r["event"], {k: r["details"].get(k) for k in (
            "task_name", "node_name", "task_id", "node_id", "flow_name", "retries")})
            for i, r in enumerate(self.records))


def run_flow(run, flow_name, node_args=None, failed=False):
    """Start a flow, wait for its dispatcher to end, and return (AsyncResult, FlowLog)."""
    return wait_flow(run, flowtrace.run_flow(run.app, flow_name, node_args), failed)


def run_selective(run, flow_name, task_names, node_args=None, **options):
    """Start a selective run of a flow, wait for its dispatcher to end, and return (AsyncResult, FlowLog)."""
    return wait_flow(run, flowtrace.run_flow_selective(run.app, flow_name, task_names, node_args, **options))


def wait_flow(run, result, failed=False):
    """Wait for the dispatcher of ``result`` to end, and return (AsyncResult, FlowLog)."""
    result.get(timeout=90, propagate=False)
    assert ("FAILURE" if failed else "SUCCESS") == result.state, result.result
    end = "TASK_FAILURE" if failed else "TASK_END"
    run.events.wait(result.id, lambda rs: any(r["event"] == end for r in rs), timeout=30)
    time.sleep(0.3)  # anything written late, such as a duplicate, shows now
    log = FlowLog(run.events.refresh(), result.id)
    check_flow(log, result.id, failed)
    return result, log


def check_flow(log, dispatcher_id, failed):
    """What holds for every flow: scheduling, task events and wake-ups in their causal order."""
    schedule = log.one("FLOW_SCHEDULE", dispatcher_id=dispatcher_id)
    assert 0 == schedule
    for flow_id in log.dispatcher_ids:
        wakeups = log.find("DISPATCHER_WAKEUP", dispatcher_id=flow_id)
        starts = log.find("FLOW_START", dispatcher_id=flow_id)
        assert wakeups and starts, log.dump()
        log.before(wakeups[0], starts[0])
        ends = log.find("FLOW_END", dispatcher_id=flow_id) + log.find("FLOW_FAILURE", dispatcher_id=flow_id,
                                                                      will_retry=False)
        assert 1 == len(ends), log.dump()
        retries = log.find("DISPATCHER_RETRY", dispatcher_id=flow_id) + log.find("FLOW_RETRY",
                                                                                dispatcher_id=flow_id)
        # Every wake-up but the last ends with a retry; the last one ends the flow.
        assert len(wakeups) - 1 == len(retries), log.dump()
        assert wakeups[-1] < ends[0] and all(position < ends[0] for position in retries)
        log.none("DISPATCHER_FAILURE", dispatcher_id=flow_id)
    for position in log.find("TASK_SCHEDULE"):
        scheduled = log.details(position)
        node_id = scheduled["task_id"]
        first_start = log.one("TASK_START", task_id=node_id, retries=0)
        log.before(position, first_start)
        expected = {key: scheduled[key] for key in FLOW_KEYS}
        for event in TASK_EVENTS:
            for found in log.find(event, task_id=node_id):
                assert expected == {key: log.details(found).get(key) for key in FLOW_KEYS}, (event, node_id)
        outcome = log.find("NODE_SUCCESSFUL", node_id=node_id) + log.find("NODE_FAILURE", node_id=node_id)
        assert 1 == len(outcome), log.dump()
        last_start = log.find("TASK_START", task_id=node_id)[-1]
        log.before(last_start, outcome[0])
        ends = log.find("TASK_END", task_id=node_id) + log.find("TASK_FAILURE", task_id=node_id)
        assert 1 == len(ends), log.dump()
    assert bool(log.find("FLOW_FAILURE", dispatcher_id=dispatcher_id, will_retry=False)) == failed


def finished(result):
    """The names of the finished nodes in the dispatcher's result, with how often each ran."""
    return {name: len(ids) for name, ids in result.result["finished_nodes"].items()}


class TestFlows:
    """The flows of the issue, one test each, on every broker."""

    def test_linear(self, run):
        """A -> B -> Tail: each node is scheduled once its predecessor succeeded; secrets never reach the log."""
        result, log = run_flow(run, "linear", {"order": 7, "password": "hunter2"})
        assert {"A": 1, "B": 1, "Tail": 1} == finished(result)
        ids = {name: ids[0] for name, ids in result.result["finished_nodes"].items()}
        log.before(log.one("NODE_SUCCESSFUL", node_id=ids["A"]), log.one("TASK_SCHEDULE", task_id=ids["B"]),
                   log.one("NODE_SUCCESSFUL", node_id=ids["B"]), log.one("TASK_SCHEDULE", task_id=ids["Tail"]),
                   log.one("NODE_SUCCESSFUL", node_id=ids["Tail"]), log.one("FLOW_END"))
        start = log.details(log.one("TASK_START", task_id=ids["B"]))
        assert {"flow_name": "linear", "dispatcher_id": result.id, "parent": {"A": ids["A"]},
                "node_args": {"order": 7, "password": "[redacted]"}} == {key: start[key] for key in FLOW_KEYS}
        discard = log.one("TASK_DISCARD_RESULT", task_id=ids["Tail"])
        log.before(log.one("TASK_START", task_id=ids["Tail"]), discard, log.one("TASK_END", task_id=ids["Tail"]))
        assert {"discarded": True} == log.details(discard)["result"]
        assert not [r for r in run.events.records if "hunter2" in repr(r)]

    def test_diamond(self, run):
        """A -> (B, Cc) -> Join: Join is scheduled once, after both branches succeeded, with both as parents."""
        result, log = run_flow(run, "diamond")
        assert {"A": 1, "B": 1, "Cc": 1, "Join": 1} == finished(result)
        ids = {name: ids[0] for name, ids in result.result["finished_nodes"].items()}
        join = log.one("TASK_SCHEDULE", task_name="Join")
        for branch in ("B", "Cc"):
            log.before(log.one("NODE_SUCCESSFUL", node_id=ids["A"]), log.one("TASK_SCHEDULE", task_id=ids[branch]),
                       log.one("NODE_SUCCESSFUL", node_id=ids[branch]), join)
        assert {"B": ids["B"], "Cc": ids["Cc"]} == log.details(join)["parent"]
        storage = FilesystemStorage(run.dir + "/results")
        storage.connect()
        assert {"joined": ["B", "Cc"]} == storage.retrieve("diamond", "Join", ids["Join"])

    def test_condition_false(self, run):
        """An edge whose condition is false emits EDGE_COND_FALSE once and starts nothing; the flow still ends."""
        result, log = run_flow(run, "condition", {"go": False})
        assert {"A": 1} == finished(result)
        a_id = result.result["finished_nodes"]["A"][0]
        false = log.one("EDGE_COND_FALSE")
        log.before(log.one("NODE_SUCCESSFUL", node_id=a_id), false, log.one("FLOW_END"))
        details = log.details(false)
        assert {"nodes_from": ["A"], "nodes_to": ["B"], "condition_str": "fieldEqual(A, key='go', value=True)",
                "parent": {"A": a_id}, "foreach_str": None} == {key: details[key] for key in (
                    "nodes_from", "nodes_to", "condition_str", "parent", "foreach_str")}
        log.none("TASK_SCHEDULE", task_name="B")

    def test_foreach_50(self, run):
        """A foreach over 50 items reports them once (FOREACH_RESULT) and schedules 50 nodes after it."""
        result, log = run_flow(run, "fanout", {"count": 50})
        assert {"Items": 1, "Each": 50} == finished(result)
        foreach = log.one("FOREACH_RESULT")
        assert list(range(50)) == log.details(foreach)["result"]
        assert "tests.integration.flow_tasks.items" == log.details(foreach)["foreach_str"]
        log.before(log.one("NODE_SUCCESSFUL", node_id=result.result["finished_nodes"]["Items"][0]), foreach)
        each = log.find("TASK_SCHEDULE", task_name="Each")
        assert 50 == len(each)
        assert foreach < min(each)
        assert max(log.find("NODE_SUCCESSFUL")) < log.one("FLOW_END")

    def test_subflow(self, run):
        """A sub-flow is a child dispatcher: scheduled once, started and ended within its parent's node."""
        result, log = run_flow(run, "outer", {"order": 3})
        assert {"A": 1, "inner": 1, "Summary": 1} == finished(result)
        child = result.result["finished_nodes"]["inner"][0]
        scheduled = log.one("SUBFLOW_SCHEDULE", child_dispatcher_id=child)
        assert {"child_flow_name": "inner", "node_args": {"order": 3}, "parent": None} == {
            key: log.details(scheduled)[key] for key in ("child_flow_name", "node_args", "parent")}
        log.before(log.one("NODE_SUCCESSFUL", node_id=result.result["finished_nodes"]["A"][0]), scheduled,
                   log.find("DISPATCHER_WAKEUP", dispatcher_id=child)[0], log.one("FLOW_START", dispatcher_id=child),
                   log.one("FLOW_END", dispatcher_id=child), log.one("NODE_SUCCESSFUL", node_id=child),
                   log.one("TASK_SCHEDULE", task_name="Summary"), log.one("FLOW_END", dispatcher_id=result.id))
        inner_b = log.details(log.one("TASK_SCHEDULE", task_name="B", dispatcher_id=child))
        assert {"order": 3} == inner_b["node_args"]
        inner_tail = log.details(log.one("TASK_SCHEDULE", task_name="Tail", dispatcher_id=child))
        summary = log.details(log.one("TASK_SCHEDULE", task_name="Summary"))
        assert {"inner": {"B": [inner_b["task_id"]], "Tail": [inner_tail["task_id"]]}} == summary["parent"]

    def test_retry_then_success(self, run):
        """A task that fails once is retried (TASK_RETRY) and its second attempt succeeds; the node succeeds once."""
        result, log = run_flow(run, "retried")
        assert {"Flaky": 1, "Tail": 1} == finished(result)
        flaky = result.result["finished_nodes"]["Flaky"][0]
        # An attempt's TASK_RETRY and the next attempt's TASK_START come from two processes: either may be first.
        first = log.one("TASK_START", task_id=flaky, retries=0)
        log.before(first, log.one("TASK_RETRY", task_id=flaky), log.one("NODE_SUCCESSFUL", node_id=flaky))
        log.before(first, log.one("TASK_START", task_id=flaky, retries=1), log.one("NODE_SUCCESSFUL", node_id=flaky))
        assert 1 == log.details(log.one("TASK_START", task_id=flaky, retries=1))["retried_count"]
        assert "ConnectionError" == log.details(log.one("TASK_RETRY", task_id=flaky))["exc_type"]
        log.none("NODE_FAILURE")

    def test_failure_with_fallback(self, run):
        """A failed node's fallbacks are tried in turn (one's condition is false); the flow ends successfully."""
        result, log = run_flow(run, "fallback")
        assert {"Recover": 1} == finished(result)
        broken = log.details(log.one("TASK_SCHEDULE", task_name="Broken"))["task_id"]
        recover = log.one("TASK_SCHEDULE", task_name="Recover")
        log.one("TASK_FAILURE", task_id=broken)
        log.before(log.one("TASK_START", task_id=broken), log.one("NODE_FAILURE", node_id=broken),
                   log.one("FALLBACK_COND_FALSE"), log.one("FALLBACK_COND_TRUE"), log.one("FALLBACK_START"), recover,
                   log.one("FLOW_END"))
        assert ("argsFieldExist(key='quiet')", ["B"]) == (log.details(log.one("FALLBACK_COND_FALSE"))["condition_str"],
                                                         log.details(log.one("FALLBACK_COND_FALSE"))["fallback"])
        expected = {"nodes": [{"name": "Broken", "id": broken}], "fallback": ["Recover"]}
        assert expected == {key: log.details(log.one("FALLBACK_START"))[key] for key in expected}
        assert {"Broken": broken} == log.details(recover)["parent"]
        assert "ValueError: broken on purpose" in log.details(log.one("NODE_FAILURE"))["what"]
        log.none("TASK_SCHEDULE", task_name="B")
        log.none("FLOW_FAILURE")

    def test_flow_failure(self, run):
        """A flow without fallback fails, is retried as a whole (max_retry 1), and fails for good with its state."""
        result, log = run_flow(run, "failing", failed=True)
        first, second = log.find("FLOW_FAILURE")
        assert (True, False) == (log.details(first)["will_retry"], log.details(second)["will_retry"])
        flow_retry = log.one("FLOW_RETRY")
        assert {"retried_count": 1, "max_retry": 1} == {key: log.details(flow_retry)[key] for key in (
            "retried_count", "max_retry")}
        starts = log.find("FLOW_START")
        assert 2 == len(starts)
        log.before(starts[0], first, flow_retry, starts[1], second)
        assert isinstance(result.result, FlowError)
        final = result.result.state
        assert final == log.details(second)["state"]
        assert (["A"], ["Broken"], []) == (list(final["finished_nodes"]), list(final["failed_nodes"]),
                                          final["active_nodes"])
        # The final state is the second run's: its A and Broken were scheduled after the flow's retry.
        assert flow_retry < log.one("TASK_SCHEDULE", task_id=final["failed_nodes"]["Broken"][0])
        failure = log.details(log.one("TASK_FAILURE", task_id=result.id))
        assert ("flowtrace.errors.FlowError", True) == (failure["exc_type"], failure["expected"])

    def test_storage_outage(self, run):
        """A storage that is down gives STORAGE_ISSUE and a retry; the second attempt stores the result."""
        result, log = run_flow(run, "outage")
        assert {"Fragile": 1, "Tail": 1} == finished(result)
        fragile = result.result["finished_nodes"]["Fragile"][0]
        issue = log.one("STORAGE_ISSUE", task_id=fragile)
        log.before(log.one("TASK_START", task_id=fragile, retries=0), issue, log.one("TASK_RETRY", task_id=fragile))
        log.before(issue, log.one("TASK_START", task_id=fragile, retries=1), log.one("STORAGE_STORED", task_id=fragile),
                   log.one("TASK_END", task_id=fragile), log.one("NODE_SUCCESSFUL", node_id=fragile))
        assert "the storage is down" in log.details(log.one("STORAGE_ISSUE"))["what"]
        storage = FilesystemStorage(run.dir + "/flaky-storage")
        storage.connect()
        assert "Fragile" == storage.retrieve("outage", "Fragile", fragile)["task"]


class TestSelective:
    """Selective runs (run_flow_selective, and an edge's ``selective``) on the shared worker."""

    def test_one_task_deep_in_a_flow(self, run):
        """Only the path to SelC runs: SelX and the edge after SelC are skipped, and every event carries the
        selection."""
        result, log = run_selective(run, "selective", ["SelC"])
        assert {"SelA": 1, "SelB": 1, "SelC": 1} == finished(result)
        selection = {"task_names": ["SelC"],
                     "waiting_edges_subset": {"selective": {"0": ["SelA"], "1": ["SelB"], "2": ["SelC"]}}}
        mine = [r for r in log.records if r["details"].get("dispatcher_id") == result.id and "selective" in r["details"]]
        assert [selection] * len(mine) == [r["details"]["selective"] for r in mine]
        assert ["SelX"] == [log.details(p)["omitted_node"] for p in log.find("SELECTIVE_OMIT_NODE")]
        omitted = log.details(log.one("SELECTIVE_OMIT_EDGE"))
        assert (["SelC"], ["SelD"]) == (omitted["nodes_from"], omitted["nodes_to"])
        assert [("SelA", None), ("SelB", None)] == [(log.details(p)["node_name"], log.details(p)["result"])
                                                    for p in log.find("SELECTIVE_RUN_FUNC")]

    def test_run_subsequent(self, run):
        """With run_subsequent, what follows SelB runs too; SelX is still skipped."""
        result, log = run_selective(run, "selective", ["SelB"], run_subsequent=True)
        assert {"SelA": 1, "SelB": 1, "SelC": 1, "SelD": 1} == finished(result)
        log.none("TASK_SCHEDULE", task_name="SelX")

    def test_reuse(self, run):
        """SelA's run function names an earlier run of SelA: SelA is not sent, and SelB runs after that run."""
        earlier, _ = run_selective(run, "selective", "SelA")
        assert {"SelA": 1} == finished(earlier)
        a_id = earlier.result["finished_nodes"]["SelA"][0]
        result, log = run_selective(run, "selective", ["SelB"], {"reuse": a_id})
        b_id = result.result["finished_nodes"]["SelB"][0]
        assert {"SelA": [a_id], "SelB": [b_id]} == result.result["finished_nodes"]
        log.none("TASK_SCHEDULE", task_name="SelA")
        reuse = log.details(log.one("SELECTIVE_TASK_REUSE"))
        assert ("SelA", a_id) == (reuse["task_name"], reuse["task_id"])
        log.before(log.one("SELECTIVE_TASK_REUSE"), log.one("NODE_SUCCESSFUL", node_id=a_id),
                   log.one("TASK_SCHEDULE", task_id=b_id))
        storage = FilesystemStorage(run.dir + "/results")
        storage.connect()
        assert {"task": "SelB", "node_args": {"reuse": a_id}, "parents": ["SelA"], "go": False} \
            == storage.retrieve("selective", "SelB", b_id)

    def test_into_a_subflow(self, run):
        """follow_subflows runs the sub-flow's path to SelC only; an edge's ``selective`` runs its SelB only."""
        followed = flowtrace.run_flow_selective(run.app, "sel_outer", ["SelC"], follow_subflows=True)
        by_edge = flowtrace.run_flow(run.app, "sel_edge")
        result, log = wait_flow(run, followed)
        assert {"SelA": 1, "sel_inner": 1} == finished(result)
        child = result.result["finished_nodes"]["sel_inner"][0]
        selection = {"task_names": ["SelC"], "waiting_edges_subset": {
            "sel_outer": {"0": ["SelA"], "1": ["sel_inner"]}, "sel_inner": {"0": ["SelB"], "1": ["SelC"]}}}
        assert selection == log.details(log.one("SUBFLOW_SCHEDULE", child_dispatcher_id=child))["child_selective"]
        assert {"SelB": 1, "SelC": 1} == finished(run.app.AsyncResult(child))
        assert [("sel_inner", ["SelD"]), ("sel_outer", ["SelX"])] == sorted(
            (log.details(p)["flow_name"], log.details(p)["nodes_to"]) for p in log.find("SELECTIVE_OMIT_EDGE"))
        result, log = wait_flow(run, by_edge)
        child = result.result["finished_nodes"]["sel_inner"][0]
        scheduled = log.details(log.one("SUBFLOW_SCHEDULE", child_dispatcher_id=child))
        assert ({"tasks": ["SelB"], "run_subsequent": False, "follow_subflows": False},
                {"task_names": ["SelB"], "waiting_edges_subset": {"sel_inner": {"0": ["SelB"]}}}, False) \
            == (scheduled["selective_edge_conf"], scheduled["child_selective"], scheduled["selective"])
        assert {"SelB": 1} == finished(run.app.AsyncResult(child))

    def test_no_path(self, run):
        """A task the flow cannot reach: SelectiveNoPathError in the caller, and nothing is sent."""
        with capture_events() as captured:
            with pytest.raises(flowtrace.SelectiveNoPathError, match="there is no path to 'SelB' in flow 'linear'"):
                flowtrace.run_flow_selective(run.app, "linear", ["SelB"])
        assert [] == captured


class TestDispatcherFailure:
    """What the dispatcher cannot handle fails the flow, with its state."""

    def test_a_foreach_function_that_raises(self, run):
        """DISPATCHER_FAILURE once, with the traceback; the flow fails with the nodes that finished."""
        result = flowtrace.run_flow(run.app, "buggy")
        result.get(timeout=90, propagate=False)
        assert "FAILURE" == result.state
        run.events.wait(result.id, lambda rs: any(r["event"] == "TASK_FAILURE" for r in rs), timeout=30)
        time.sleep(0.3)
        log = FlowLog(run.events.refresh(), result.id)
        a_id = log.details(log.one("TASK_SCHEDULE", task_name="A"))["task_id"]
        failure = log.one("DISPATCHER_FAILURE")
        log.before(log.one("NODE_SUCCESSFUL", node_id=a_id), failure, log.one("TASK_FAILURE", task_id=result.id))
        assert "KeyError: 'a bug in a foreach function'" in log.details(failure)["what"]
        assert {"finished_nodes": {"A": [a_id]}, "failed_nodes": {}, "active_nodes": []} == result.result.state
        log.none("FOREACH_RESULT")
        log.none("FLOW_END")


def _seconds(record):
    """A record's ``time`` (ISO-8601 UTC) as seconds since the epoch."""
    from datetime import datetime

    return datetime.strptime(record["time"], "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()


class TestSamplingAndThrottling:
    """``sampling`` sets the safety-net countdown, and ``throttling`` spaces a node's starts, on the shared worker."""

    def test_sampling_sets_the_countdown(self, run):
        """A constant strategy of 300 s is every DISPATCHER_RETRY's countdown, and nudges still end the flow at once."""
        result, log = run_flow(run, "sampled")  # within run_flow's 90 s: no wake-up waited its 300 s
        assert {"A": 1, "B": 1} == finished(result)
        countdowns = [log.details(p)["countdown"] for p in log.find("DISPATCHER_RETRY")]
        assert ([300] * len(countdowns), True) == (countdowns, len(countdowns) >= 2)

    def test_a_failing_strategy_gives_way(self, run):
        """A strategy that raises: the dispatcher's own countdown (30 s after a change), and the flow ends."""
        result, log = run_flow(run, "missampled")
        assert {"A": 1, "B": 1} == finished(result)
        countdowns = [log.details(p)["countdown"] for p in log.find("DISPATCHER_RETRY")]
        assert ([30.0] * len(countdowns), True) == (countdowns, len(countdowns) >= 2)

    def test_throttled_task(self, run):
        """Paced (throttled by 3 s) starts at once, then with a countdown, and its second run starts 3 s after the first
        was scheduled or later."""
        result, log = run_flow(run, "paced")
        assert {"A": 1, "Paced": 2} == finished(result)
        first, second = log.find("TASK_SCHEDULE", task_name="Paced")
        countdown = log.details(second)["countdown"]
        assert (None, True) == (log.details(first)["countdown"], 0 < countdown <= 3)
        started = log.one("TASK_START", task_id=log.details(second)["task_id"])
        gap = _seconds(log.records[started]) - _seconds(log.records[first])
        assert gap >= 2.95, gap  # the slot is taken a moment before TASK_SCHEDULE is written


class TestSafetyNet:
    """With nudges off, dispatchers still wake: on their countdown, as Selinon's do."""

    def test_countdown_alone(self, broker, runs_dir, producing):
        """The diamond flow ends with nudges turned off; its dispatcher woke on the countdown only."""
        run = _flow_run(broker, runs_dir, "nonudge", FLOWTRACE_IT_NUDGE="0")
        try:
            producing(run)
            result, log = run_flow(run, "diamond")
            assert {"A": 1, "B": 1, "Cc": 1, "Join": 1} == finished(result)
            countdowns = [log.details(p)["countdown"] for p in log.find("DISPATCHER_RETRY")]
            assert countdowns and all(0.5 <= countdown <= 2.0 for countdown in countdowns)
        finally:
            run.close()
        assert [] == hook_failures(run)


class TestResultBackendOutage:
    """Celery's result backend fails as the dispatcher reads a node's state: the dispatcher waits it out."""

    def test_reads_fail_for_a_while(self, broker, runs_dir, producing):
        """RESULT_BACKEND_ISSUE and a retry for each failed read of a node; it then finishes once, and the flow ends."""
        run = _flow_run(broker, runs_dir, "backend-outage", FLOWTRACE_IT_BACKEND_OUTAGE="1")
        try:
            producing(run)
            result, log = run_flow(run, "unreadable")
            assert {"Unreadable": 1, "Tail": 1} == finished(result)
            node = result.result["finished_nodes"]["Unreadable"][0]
            issues = log.find("RESULT_BACKEND_ISSUE")
            # OutageBackend fails exactly OUTAGE_READS reads: the outage was really hit, and waited out.
            assert OUTAGE_READS == len(issues), log.dump()
            for issue in issues:
                details = log.details(issue)
                assert "ConnectionError: the result backend is down" in details["what"]
                assert {"flow_name": "unreadable", "dispatcher_id": result.id, "node_name": "Unreadable",
                        "node_id": node, "parent": None, "queue": run.queue, "selective": False} == {
                            key: details[key] for key in (
                                "flow_name", "dispatcher_id", "node_name", "node_id", "parent", "queue", "selective")}
            wakeups = log.find("DISPATCHER_WAKEUP", dispatcher_id=result.id)
            retries = log.find("DISPATCHER_RETRY", dispatcher_id=result.id)
            after_issues = []
            for issue in issues:
                # The wake-up that met the outage is the one that retries: no other wake-up in between.
                retry = min(position for position in retries if position > issue)
                assert not [position for position in wakeups if issue < position < retry], log.dump()
                # It postponed the node whole: still running as far as the state knows.
                assert {"active_nodes": [["Unreadable", node]], "finished_nodes": {}, "failed_nodes": {}} == (
                    log.details(retry)["state_dict"])
                after_issues.append(retry)
            # A postponed wake-up changed nothing: the countdown backs off.
            countdowns = [log.details(retry)["countdown"] for retry in after_issues]
            assert [min(COUNTDOWN_WITH_OUTAGE[1], 2 * countdown) for countdown in countdowns[:-1]] == countdowns[1:]
            outage = [position for pair in zip(issues, after_issues) for position in pair]
            log.before(log.one("TASK_START", task_id=node), *outage, log.one("NODE_SUCCESSFUL", node_id=node),
                       log.one("TASK_SCHEDULE", task_name="Tail"), log.one("FLOW_END"))
            # Only the dispatcher's reads failed: the node's one attempt stored its state.
            assert [("TASK_START", 0), ("TASK_END", 0)] == [
                (r["event"], r["details"].get("retries")) for r in run.events.for_task(node)
                if r["event"] in ("TASK_START", "TASK_END", "TASK_RETRY", "TASK_FAILURE")]
            assert "SUCCESS" == run.app.AsyncResult(node).state
            assert not os.path.exists(outage_marker(run.dir, node))
        finally:
            run.close()
        assert [] == hook_failures(run)
