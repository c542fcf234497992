"""Tests for flowtrace.flow._wakeup: the rules of a wake-up, with fake ports instead of Celery."""

import json

import pytest

from flowtrace import Trace, events
from flowtrace.flow import _wakeup
from flowtrace.flow.model import (Edge, Failure, Flow, FlowConfig, Foreach, FrozenMap, Predicate, Storage, Task)
from flowtrace.testing import capture_events

DISPATCHER_EVENTS = {row.value for row in events.EVENTS if row.emitter == events.DISPATCHER}


def items(storage_pool, node_args):
    """A foreach function: the items task A returned."""
    return storage_pool.get("A")["items"]


def config(*flows, tasks=("A", "B", "C", "D"), storage=True):
    task_map = {name: Task(name, "tests.flow.sample", "FetchOrder", storage="Results" if storage else None)
                for name in tasks}
    return FlowConfig(FrozenMap(task_map), FrozenMap({flow.name: flow for flow in flows}),
                      FrozenMap({"Results": Storage("Results", "tests.flow.sample", "MemoryStorage")}))


def edge(nodes_from, nodes_to, **kwargs):
    return Edge(tuple(nodes_from), tuple(nodes_to), **kwargs)


class Ports(_wakeup.Ports):
    """Records what a wake-up sends; node outcomes and results are set by the test."""

    def __init__(self):
        self.outcomes = {}
        self.stored = {}
        self.sent = []
        self.fail_results = False
        self.fail_outcomes = False
        self.subflows = {}

    def outcome(self, name, node_id, is_flow):
        if self.fail_outcomes:
            raise _wakeup.Postpone("result backend down")
        return self.outcomes.get(node_id, (None, None))

    def result(self, task_name, task_id):
        if self.fail_results:
            raise _wakeup.Postpone("storage down")
        return self.stored[task_id]

    def results(self, id_mapping):
        ports = self

        class Results:
            def get(self, name):
                return ports.result(name, id_mapping[name])

        return Results()

    def finished_of(self, flow_name, flow_id):
        return self.subflows[flow_id]

    def send_task(self, name, task_id, node_args, parent, countdown=None):
        self.sent.append(("task", name, task_id, node_args, parent))
        return "q"

    def send_flow(self, name, dispatcher_id, node_args, parent, countdown=None):
        self.sent.append(("flow", name, dispatcher_id, node_args, parent))
        return "q"

    def ids(self, name):
        return [sent[2] for sent in self.sent if sent[1] == name]

    def succeed(self, name, result=None):
        for node_id in self.ids(name):
            if node_id not in self.outcomes:
                self.outcomes[node_id] = (_wakeup.SUCCESS, None)
                self.stored[node_id] = result
                return node_id
        raise AssertionError("no running %s" % name)

    def fail(self, name):
        for node_id in self.ids(name):
            if node_id not in self.outcomes:
                self.outcomes[node_id] = (_wakeup.FAILURE, "Traceback: boom")
                return node_id
        raise AssertionError("no running %s" % name)


class Flowing:
    """Drives wake-ups of one flow the way the dispatcher does: the state goes through JSON between them."""

    def __init__(self, cfg, flow_name="f", node_args=None, parent=None):
        self.config = cfg
        self.flow = cfg.flows[flow_name]
        self.node_args = node_args
        self.parent = parent
        self.ports = Ports()
        self.state = None
        self.last = None

    def wake(self):
        wakeup = _wakeup.WakeUp(self.config, self.flow, "D1", self.node_args, self.parent, self.state, self.ports)
        self.last = wakeup
        try:
            outcome = wakeup.run()
        finally:
            self.state = json.loads(json.dumps(wakeup.state.to_dict()))
        return outcome


def names(captured):
    return captured.names()


class TestStart:
    """The first wake-up."""

    def test_starts_the_starting_edges(self):
        """FLOW_START, then one TASK_SCHEDULE per node of the starting edges; the flow runs."""
        flowing = Flowing(config(Flow("f", (edge([], ["A", "B"]), edge(["A"], ["C"])))), node_args={"x": 1})
        with capture_events() as captured:
            assert _wakeup.RUNNING == flowing.wake()
        assert ["FLOW_START", "TASK_SCHEDULE", "TASK_SCHEDULE"] == names(captured)
        a, b = flowing.ports.ids("A")[0], flowing.ports.ids("B")[0]
        assert [("task", "A", a, {"x": 1}, {}), ("task", "B", b, {"x": 1}, {})] == flowing.ports.sent
        assert {"active_nodes": [["A", a], ["B", b]], "finished_nodes": {}, "failed_nodes": {}} == flowing.state
        schedule = captured[1][1]
        assert {"flow_name": "f", "dispatcher_id": "D1", "selective": False, "task_name": "A", "task_id": a,
                "parent": {}, "node_args": {"x": 1}, "queue": "celery", "countdown": None,
                "condition_str": "alwaysTrue()", "foreach_str": None, "selective_edge": False} == schedule

    def test_nothing_to_start(self):
        """A starting edge whose condition is false leaves nothing running: the flow ends at once."""
        never = Predicate("alwaysFalse")
        flowing = Flowing(config(Flow("f", (edge([], ["A"], condition=never),))))
        with capture_events() as captured:
            assert _wakeup.ENDED == flowing.wake()
        assert ["FLOW_START", "EDGE_COND_FALSE"] == names(captured)


class TestEdges:
    """Edges fire once their sources finished and their condition holds."""

    def test_nothing_new(self):
        """A wake-up that finds every node still running emits nothing and changes nothing."""
        flowing = Flowing(config(Flow("f", (edge([], ["A"]),))))
        flowing.wake()
        before = flowing.state
        with capture_events() as captured:
            assert _wakeup.RUNNING == flowing.wake()
        assert ([], before, False) == (captured, flowing.state, flowing.last.changed)

    def test_linear(self):
        """A node that succeeds is NODE_SUCCESSFUL, and the next node gets it as parent."""
        flowing = Flowing(config(Flow("f", (edge([], ["A"]), edge(["A"], ["B"])))))
        flowing.wake()
        a = flowing.ports.succeed("A", {"ok": True})
        with capture_events() as captured:
            assert _wakeup.RUNNING == flowing.wake()
        assert ["NODE_SUCCESSFUL", "TASK_SCHEDULE"] == names(captured)
        assert {"A": a} == flowing.ports.sent[-1][4]
        flowing.ports.succeed("B")
        assert _wakeup.ENDED == flowing.wake()
        assert {"A": [a], "B": flowing.ports.ids("B")} == flowing.state["finished_nodes"]

    @pytest.mark.parametrize("together", [False, True], ids=["apart", "together"])
    def test_two_sources_fire_once(self, together):
        """An edge from two nodes fires once, when the second finishes, whether they end in one wake-up or two."""
        flowing = Flowing(config(Flow("f", (edge([], ["A", "B"]), edge(["A", "B"], ["C"])))))
        flowing.wake()
        a = flowing.ports.succeed("A")
        if not together:
            flowing.wake()
            assert [] == flowing.ports.ids("C")
        b = flowing.ports.succeed("B")
        flowing.wake()
        assert 1 == len(flowing.ports.ids("C"))
        assert {"A": a, "B": b} == flowing.ports.sent[-1][4]

    def test_condition_reads_the_result(self):
        """A condition on a result is false for one value and true for another."""
        go = Predicate("fieldEqual", "A", FrozenMap({"key": "go", "value": True}), reads_result=True)
        flowing = Flowing(config(Flow("f", (edge([], ["A", "B"]), edge(["A"], ["C"], condition=go),
                                            edge(["B"], ["D"], condition=go)))))
        flowing.wake()
        flowing.ports.succeed("A", {"go": False})
        with capture_events() as captured:
            flowing.wake()
        assert ["NODE_SUCCESSFUL", "EDGE_COND_FALSE"] == names(captured)
        assert {"nodes_from": ["A"], "nodes_to": ["C"], "condition_str": "fieldEqual(A, key='go', value=True)"} == {
            key: captured[1][1][key] for key in ("nodes_from", "nodes_to", "condition_str")}

    def test_foreach(self):
        """A foreach edge reports its items once and starts its nodes once per item."""
        each = Foreach("tests.flow.test_wakeup", "items")
        flowing = Flowing(config(Flow("f", (edge([], ["A"]), edge(["A"], ["B"], foreach=each)))), node_args=7)
        flowing.wake()
        flowing.ports.succeed("A", {"items": ["x", "y", "z"]})
        with capture_events() as captured:
            flowing.wake()
        assert ["NODE_SUCCESSFUL", "FOREACH_RESULT"] + ["TASK_SCHEDULE"] * 3 == names(captured)
        assert (["x", "y", "z"], "tests.flow.test_wakeup.items") == (captured[1][1]["result"],
                                                                   captured[1][1]["foreach_str"])
        assert [7, 7, 7] == [sent[3] for sent in flowing.ports.sent if sent[1] == "B"]

    def test_foreach_propagates_items_to_subflows(self):
        """With propagate_result each item becomes the node arguments of a sub-flow."""
        each = Foreach("tests.flow.test_wakeup", "items", propagate_result=True)
        cfg = config(Flow("f", (edge([], ["A"]), edge(["A"], ["g"], foreach=each))), Flow("g", (edge([], ["B"]),)))
        flowing = Flowing(cfg)
        flowing.wake()
        flowing.ports.succeed("A", {"items": [1, 2]})
        with capture_events() as captured:
            flowing.wake()
        assert ["NODE_SUCCESSFUL", "FOREACH_RESULT", "SUBFLOW_SCHEDULE", "SUBFLOW_SCHEDULE"] == names(captured)
        assert [("flow", "g", 1, None), ("flow", "g", 2, None)] == [
            (kind, name, node_args, parent) for kind, name, _, node_args, parent in flowing.ports.sent[1:]]

    def test_propagate_finished(self):
        """A sub-flow listed in propagate_finished passes its finished tasks to the nodes after it."""
        cfg = config(Flow("f", (edge([], ["g"]), edge(["g"], ["B"])), propagate_finished=("g",)),
                     Flow("g", (edge([], ["A"]),)))
        flowing = Flowing(cfg)
        flowing.wake()
        child = flowing.ports.succeed("g")
        flowing.ports.subflows[child] = {"A": ["a1"]}
        flowing.wake()
        assert {"g": {"A": ["a1"]}} == flowing.ports.sent[-1][4]

    def test_nowait(self):
        """A nowait node is started but not waited for."""
        flowing = Flowing(config(Flow("f", (edge([], ["A", "B"]),), nowait=("B",))))
        flowing.wake()
        assert [["A", flowing.ports.ids("A")[0]]] == flowing.state["active_nodes"]
        flowing.ports.succeed("A")
        assert _wakeup.ENDED == flowing.wake()


class TestFailures:
    """Failed nodes, fallbacks and the end of a failed flow."""

    def test_waits_for_running_nodes(self):
        """A failure does not end the flow while other nodes run; then the flow fails."""
        flowing = Flowing(config(Flow("f", (edge([], ["A", "B"]),))))
        flowing.wake()
        a = flowing.ports.fail("A")
        with capture_events() as captured:
            assert _wakeup.RUNNING == flowing.wake()
        assert [(Trace.NODE_FAILURE, {"flow_name": "f", "dispatcher_id": "D1", "selective": False,
                                      "node_name": "A", "node_id": a, "what": "Traceback: boom"})] == captured
        flowing.ports.succeed("B")
        assert _wakeup.FAILED == flowing.wake()
        assert {"A": [a]} == flowing.state["failed_nodes"]

    def test_fallback(self):
        """A fallback starts once nothing runs, with the failed node as parent; the flow then ends."""
        flowing = Flowing(config(Flow("f", (edge([], ["A"]), edge(["A"], ["B"])),
                                      failures=(Failure(("A",), ("C",)),))))
        flowing.wake()
        a = flowing.ports.fail("A")
        with capture_events() as captured:
            assert _wakeup.RUNNING == flowing.wake()
        assert ["NODE_FAILURE", "FALLBACK_COND_TRUE", "FALLBACK_START", "TASK_SCHEDULE"] == names(captured)
        assert {"nodes": [{"name": "A", "id": a}], "fallback": ["C"]} == {
            key: captured[2][1][key] for key in ("nodes", "fallback")}
        assert ("C", {"A": a}) == (flowing.ports.sent[-1][1], flowing.ports.sent[-1][4])
        assert {} == flowing.state["failed_nodes"]
        flowing.ports.succeed("C")
        assert _wakeup.ENDED == flowing.wake()
        assert [] == flowing.ports.ids("B")

    def test_fallback_true(self):
        """fallback: true forgets the failure: the flow ends successfully."""
        flowing = Flowing(config(Flow("f", (edge([], ["A"]),), failures=(Failure(("A",), True),))))
        flowing.wake()
        flowing.ports.fail("A")
        assert _wakeup.ENDED == flowing.wake()

    def test_propagate_failure(self):
        """propagate_failure runs the fallback and still fails the flow once it ends."""
        flowing = Flowing(config(Flow("f", (edge([], ["A"]),),
                                      failures=(Failure(("A",), ("C",), propagate_failure=True),))))
        flowing.wake()
        flowing.ports.fail("A")
        assert _wakeup.RUNNING == flowing.wake()
        flowing.ports.succeed("C")
        assert _wakeup.FAILED == flowing.wake()

    def test_condition_false_passes_to_the_next_entry(self):
        """An entry whose condition is false is FALLBACK_COND_FALSE; the next matching entry runs instead."""
        quiet = Predicate("argsFieldExist", args=FrozenMap({"key": "quiet"}), reads_node_args=True)
        flowing = Flowing(config(Flow("f", (edge([], ["A"]),), failures=(
            Failure(("A",), ("B",), condition=quiet), Failure(("A",), ("C",))))), node_args={})
        flowing.wake()
        flowing.ports.fail("A")
        with capture_events() as captured:
            flowing.wake()
        assert ["NODE_FAILURE", "FALLBACK_COND_FALSE", "FALLBACK_COND_TRUE", "FALLBACK_START",
                "TASK_SCHEDULE"] == names(captured)
        assert ("argsFieldExist(key='quiet')", ["B"]) == (captured[1][1]["condition_str"], captured[1][1]["fallback"])
        assert ([], 1) == (flowing.ports.ids("B"), len(flowing.ports.ids("C")))

    def test_condition_false_fails_the_flow(self):
        """With the only entry's condition false, the failure stays and the flow fails."""
        never = Predicate("alwaysFalse")
        flowing = Flowing(config(Flow("f", (edge([], ["A"]),), failures=(Failure(("A",), True, condition=never),))))
        flowing.wake()
        a = flowing.ports.fail("A")
        assert _wakeup.FAILED == flowing.wake()
        assert {"A": [a]} == flowing.state["failed_nodes"]

    def test_propagate_failures(self):
        """A failed sub-flow listed in propagate_failures passes its failed tasks to its fallback."""
        cfg = config(Flow("f", (edge([], ["g"]),), failures=(Failure(("g",), ("B",)),), propagate_failures=("g",)),
                     Flow("g", (edge([], ["A"]),)))
        flowing = Flowing(cfg)
        flowing.wake()
        child = flowing.ports.fail("g")
        flowing.ports.failed_of = lambda name, flow_id: {"A": ["a1"]} if flow_id == child else None
        flowing.wake()
        assert ("B", {"g": {"A": ["a1"]}}) == (flowing.ports.sent[-1][1], flowing.ports.sent[-1][4])

    def test_largest_set_first(self):
        """When two nodes failed, the entry naming both wins over the one naming one."""
        flowing = Flowing(config(Flow("f", (edge([], ["A", "B"]),),
                                      failures=(Failure(("A",), ("C",)), Failure(("A", "B"), ("D",))))))
        flowing.wake()
        flowing.ports.fail("A")
        flowing.ports.fail("B")
        flowing.wake()
        assert ([], 1) == (flowing.ports.ids("C"), len(flowing.ports.ids("D")))


class TestEagerFailures:
    """eager_failures: a listed node that fails fails the flow at once."""

    def flowing(self, eager):
        return Flowing(config(Flow("f", (edge([], ["A", "B"]), edge(["B"], ["C"])), eager_failures=eager)))

    @pytest.mark.parametrize("eager", [("A",), True], ids=["listed", "true"])
    def test_fails_without_waiting(self, eager):
        """NODE_FAILURE then EAGER_FAILURE with Selinon's keys; FAILED while B still runs, which stays active."""
        flowing = self.flowing(eager)
        flowing.wake()
        a, b = flowing.ports.fail("A"), flowing.ports.ids("B")[0]
        with capture_events() as captured:
            assert _wakeup.FAILED == flowing.wake()
        keys = {"flow_name": "f", "dispatcher_id": "D1", "selective": False, "node_name": "A", "node_id": a,
                "what": "Traceback: boom"}
        assert [(Trace.NODE_FAILURE, keys), (Trace.EAGER_FAILURE, keys)] == captured
        assert {"active_nodes": [["B", b]], "finished_nodes": {}, "failed_nodes": {"A": [a]}} == flowing.state
        assert (True, True) == (flowing.last.failed_eagerly, flowing.last.changed)

    def test_what_else_ended_is_not_handled(self):
        """A node that succeeded in the same wake-up stays active and starts nothing: the flow has failed."""
        flowing = self.flowing(("A",))
        flowing.wake()
        a, b = flowing.ports.fail("A"), flowing.ports.succeed("B")
        with capture_events() as captured:
            assert _wakeup.FAILED == flowing.wake()
        assert ["NODE_FAILURE", "EAGER_FAILURE"] == names(captured)
        assert {"active_nodes": [["B", b]], "finished_nodes": {}, "failed_nodes": {"A": [a]}} == flowing.state
        assert [] == flowing.ports.ids("C")

    def test_an_unlisted_node_waits(self):
        """A node not listed fails as usual: the flow waits for the others, then fails, with no EAGER_FAILURE."""
        flowing = self.flowing(("A",))
        flowing.wake()
        flowing.ports.fail("B")
        with capture_events() as captured:
            assert _wakeup.RUNNING == flowing.wake()
            flowing.ports.succeed("A")
            assert _wakeup.FAILED == flowing.wake()
        assert ["NODE_FAILURE", "NODE_SUCCESSFUL"] == names(captured)
        assert False is flowing.last.failed_eagerly


class TestNodeArgsFromFirst:
    """node_args_from_first: the starting task's result becomes the node arguments of the rest of the flow."""

    def flowing(self):
        big = Predicate("argsFieldEqual", args=FrozenMap({"key": "y", "value": 2}), reads_node_args=True)
        cfg = config(Flow("f", (edge([], ["A"]), edge(["A"], ["B", "g"], condition=big), edge(["B"], ["C"])),
                          propagate_node_args=("g",), node_args_from_first=True),
                     Flow("g", (edge([], ["D"]),)))
        return Flowing(cfg, node_args={"x": 1})

    def test_the_result_is_the_arguments(self):
        """Conditions, tasks and sub-flows after the first task get its result, in later wake-ups too."""
        flowing = self.flowing()
        flowing.wake()
        assert {"x": 1} == flowing.ports.sent[0][3]
        flowing.ports.succeed("A", {"y": 2})
        with capture_events() as captured:
            flowing.wake()
        assert ["NODE_SUCCESSFUL", "TASK_SCHEDULE", "SUBFLOW_SCHEDULE"] == names(captured)
        assert [("task", "B", {"y": 2}), ("flow", "g", {"y": 2})] == [sent[:2] + (sent[3],)
                                                                      for sent in flowing.ports.sent[1:]]
        assert {"y": 2} == flowing.state["node_args"]
        flowing.ports.succeed("B")
        flowing.wake()
        assert ({"x": 1}, {"y": 2}, {"y": 2}) == (flowing.node_args, flowing.last.node_args, flowing.ports.sent[-1][3])

    def test_a_result_of_none(self):
        """A first task that returns None gives None as the node arguments, not the flow's own."""
        flowing = self.flowing()
        flowing.wake()
        flowing.ports.succeed("A", None)
        flowing.wake()
        assert (None, []) == (flowing.state["node_args"], flowing.ports.ids("B"))

    def test_storage_down(self):
        """A result that cannot be read postpones the first task whole: nothing sent, the arguments unchanged."""
        flowing = self.flowing()
        flowing.wake()
        before = flowing.state
        flowing.ports.succeed("A", {"y": 2})
        flowing.ports.fail_results = True
        with capture_events() as captured:
            with pytest.raises(_wakeup.Postpone):
                flowing.wake()
        assert ([], before, {"x": 1}) == (captured, flowing.state, flowing.last.node_args)
        flowing.ports.fail_results = False
        flowing.wake()
        assert {"y": 2} == flowing.state["node_args"]

    def test_only_the_starting_task(self):
        """A fallback that is the first node to succeed does not replace the arguments."""
        cfg = config(Flow("f", (edge([], ["A"]),), failures=(Failure(("A",), ("B",)),), node_args_from_first=True))
        flowing = Flowing(cfg, node_args={"x": 1})
        flowing.wake()
        flowing.ports.fail("A")
        flowing.wake()
        flowing.ports.succeed("B", {"y": 2})
        assert _wakeup.ENDED == flowing.wake()
        assert ("node_args" not in flowing.state, {"x": 1}) == (True, flowing.last.node_args)


class TestCompound:
    """propagate_compound_* and propagate_parent_failures, through a wake-up."""

    def test_compound_finished(self):
        """The nodes after a sub-flow get its finished tasks, and its sub-flows', in one flat mapping."""
        cfg = config(Flow("f", (edge([], ["g"]), edge(["g"], ["B"])), propagate_compound_finished=("g",)),
                     Flow("g", (edge([], ["A"]),)))
        flowing = Flowing(cfg)
        flowing.wake()
        child = flowing.ports.succeed("g")
        flowing.ports.subflows[child] = {"A": ["a1"], "h": {"A": ["a2"], "C": ["c1"]}}
        flowing.wake()
        assert ("B", {"g": {"A": ["a1", "a2"], "C": ["c1"]}}) == (flowing.ports.sent[-1][1], flowing.ports.sent[-1][4])

    def test_compound_failures(self):
        """A failed sub-flow's fallback gets its failed tasks, nested ones included, in one flat mapping."""
        cfg = config(Flow("f", (edge([], ["g"]),), failures=(Failure(("g",), ("B",)),),
                          propagate_compound_failures=("g",)),
                     Flow("g", (edge([], ["A"]),)))
        flowing = Flowing(cfg)
        flowing.wake()
        child = flowing.ports.fail("g")
        flowing.ports.failed_of = lambda name, flow_id: {"A": ["a1"], "h": {"C": ["c1"]}} if flow_id == child else None
        flowing.wake()
        assert ("B", {"g": {"A": ["a1"], "C": ["c1"]}}) == (flowing.ports.sent[-1][1], flowing.ports.sent[-1][4])

    @pytest.mark.parametrize("option, expected", [({"propagate_parent_failures": ("g",)}, True), ({}, False)],
                             ids=["set", "unset"])
    def test_parent_failures(self, option, expected):
        """A sub-flow started as a fallback gets the failed nodes as its parent with propagate_parent_failures."""
        cfg = config(Flow("f", (edge([], ["A"]),), failures=(Failure(("A",), ("g",)),), **option),
                     Flow("g", (edge([], ["B"]),)))
        flowing = Flowing(cfg)
        flowing.wake()
        a = flowing.ports.fail("A")
        with capture_events() as captured:
            flowing.wake()
        parent = {"A": a} if expected else None
        assert ("flow", "g", parent) == (flowing.ports.sent[-1][0], flowing.ports.sent[-1][1],
                                         flowing.ports.sent[-1][4])
        assert parent == captured[-1][1]["parent"]


class TestPostpone:
    """A storage or result backend that fails postpones work without doing half of it."""

    def test_storage_down_during_a_condition(self):
        """The node whose condition could not be read stays running; the next wake-up handles it once."""
        go = Predicate("fieldEqual", "B", FrozenMap({"key": "go", "value": True}), reads_result=True)
        flowing = Flowing(config(Flow("f", (edge([], ["A", "B"]), edge(["B"], ["C"], condition=go),
                                            edge(["A"], ["D"])))))
        flowing.wake()
        flowing.ports.succeed("A")
        flowing.ports.succeed("B", {"go": True})
        flowing.ports.fail_results = True
        with capture_events() as captured:
            with pytest.raises(_wakeup.Postpone):
                flowing.wake()
        # A was handled whole before B's condition failed; B is untouched.
        assert ["NODE_SUCCESSFUL", "TASK_SCHEDULE"] == names(captured)
        assert ["B"] == [name for name, _ in flowing.state["active_nodes"] if name in ("A", "B")]
        flowing.ports.fail_results = False
        with capture_events() as captured:
            flowing.wake()
        assert ["NODE_SUCCESSFUL", "TASK_SCHEDULE"] == names(captured)
        assert (1, 1) == (len(flowing.ports.ids("C")), len(flowing.ports.ids("D")))

    def test_result_backend_down(self):
        """No outcome read, nothing changed."""
        flowing = Flowing(config(Flow("f", (edge([], ["A"]),))))
        flowing.wake()
        before = flowing.state
        flowing.ports.succeed("A")
        flowing.ports.fail_outcomes = True
        with capture_events() as captured:
            with pytest.raises(_wakeup.Postpone):
                flowing.wake()
        assert ([], before) == (captured, flowing.state)


class TestCatalogue:
    """What a wake-up emits matches the catalogue."""

    def test_keys(self):
        """Every dispatcher event a busy flow emits uses only the keys its catalogue row lists."""
        go = Predicate("alwaysFalse")
        each = Foreach("tests.flow.test_wakeup", "items")
        cfg = config(Flow("f", (edge([], ["A", "g"]), edge(["A"], ["B"], foreach=each),
                                edge(["A"], ["C"], condition=go)),
                          failures=(Failure(("B",), True, condition=go), Failure(("B",), ("D",)))),
                     Flow("g", (edge([], ["C"]),)))
        flowing = Flowing(cfg)
        with capture_events() as captured:
            flowing.wake()
            flowing.ports.succeed("A", {"items": [1]})
            flowing.ports.succeed("g")
            flowing.wake()
            flowing.ports.fail("B")
            flowing.wake()
        emitted = {event for event, _ in captured}
        assert {Trace.FLOW_START, Trace.TASK_SCHEDULE, Trace.SUBFLOW_SCHEDULE, Trace.NODE_SUCCESSFUL,
                Trace.NODE_FAILURE, Trace.FOREACH_RESULT, Trace.EDGE_COND_FALSE, Trace.FALLBACK_COND_FALSE,
                Trace.FALLBACK_COND_TRUE, Trace.FALLBACK_START} == emitted
        for event, msg in captured:
            assert event in DISPATCHER_EVENTS
            assert [] == [key for key in msg if key not in events.BY_VALUE[event].keys], Trace.event2str(event)


class TestUnexpected:
    """A predicate or foreach function that raises."""

    def test_the_node_is_finished_and_the_error_raised(self):
        """The node is committed as finished (NODE_SUCCESSFUL) without starting anything, then the error propagates."""
        each = Foreach("tests.flow.test_wakeup", "missing_function")
        flowing = Flowing(config(Flow("f", (edge([], ["A"]), edge(["A"], ["B"], foreach=each)))))
        flowing.wake()
        a = flowing.ports.succeed("A", {})
        with capture_events() as captured:
            with pytest.raises(AttributeError):
                flowing.wake()
        assert ["NODE_SUCCESSFUL"] == names(captured)
        assert ({"A": [a]}, [], []) == (flowing.state["finished_nodes"], flowing.state["active_nodes"],
                                        flowing.ports.ids("B"))
