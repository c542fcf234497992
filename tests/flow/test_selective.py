"""Tests for flowtrace.flow._selective: the path of a selective run, and what a wake-up of one does."""

import copy
import json
import random
import types

import pytest

from flowtrace import Trace, events
from flowtrace.errors import SelectiveNoPathError
from flowtrace.flow import _selective, _wakeup, routines
from flowtrace.flow.model import (Edge, Flow, FlowConfig, FrozenMap, Selective, SelectiveRunFunction, Storage,
                                  Task)
from flowtrace.testing import capture_events
from tests.flow.test_wakeup import Flowing, Ports


def reuse_earlier(flow_name, node_name, node_args, task_names, storage_pool):
    """A selective run function: reuse run "old-A" of A, run anything else."""
    return "old-%s" % node_name if node_name == "A" else None


def graph(flows, tasks=("A", "B", "C", "D", "E")):
    """A configuration from ``{flow: [(from, to), ...]}``."""
    task_map = {name: Task(name, "tests.flow.sample", "FetchOrder", storage="Results") for name in tasks}
    return FlowConfig(FrozenMap(task_map), FrozenMap({
        name: Flow(name, tuple(Edge(tuple(f), tuple(t)) for f, t in edges)) for name, edges in flows.items()}),
        FrozenMap({"Results": Storage("Results", "tests.flow.sample", "MemoryStorage")}))


class TestCompute:
    """The selection a request gives."""

    def test_the_path_to_a_task_deep_in_a_flow(self):
        """Only the edges leading to C fire, each starting only the nodes the path needs."""
        cfg = graph({"f": [([], ["A", "E"]), (["A"], ["B", "D"]), (["B"], ["C"]), (["C"], ["D"])]})
        assert {"task_names": ["C"], "waiting_edges_subset": {"f": {"0": ["A"], "1": ["B"], "2": ["C"]}}} \
            == _selective.compute(cfg, "f", ["C"])

    def test_one_name(self):
        """A single name is a list of one."""
        cfg = graph({"f": [([], ["A"])]})
        assert {"task_names": ["A"], "waiting_edges_subset": {"f": {"0": ["A"]}}} == _selective.compute(cfg, "f", "A")

    def test_every_path_and_every_source(self):
        """Both ways into D are on the path, with every source of a two-source edge."""
        cfg = graph({"f": [([], ["A"]), ([], ["B"]), (["A", "B"], ["D"]), (["C"], ["D"]), ([], ["E"])]})
        assert {"f": {"0": ["A"], "1": ["B"], "2": ["D"]}} == _selective.compute(cfg, "f", ["D"])["waiting_edges_subset"]

    def test_a_source_that_never_runs_is_not_a_path(self):
        """C has no edge into it, so the edge from C to D is no way to D."""
        cfg = graph({"f": [([], ["A"]), (["A"], ["D"]), (["C"], ["D"])]})
        assert {"f": {"0": ["A"], "1": ["D"]}} == _selective.compute(cfg, "f", ["D"])["waiting_edges_subset"]

    @pytest.mark.parametrize("wanted", [["E"], ["A", "E"]])
    def test_no_path(self, wanted):
        """A task the flow cannot reach raises SelectiveNoPathError."""
        cfg = graph({"f": [([], ["A"]), (["C"], ["E"])]})
        with pytest.raises(SelectiveNoPathError, match="there is no path to 'E' in flow 'f'"):
            _selective.compute(cfg, "f", wanted)

    def test_run_subsequent(self):
        """With run_subsequent, the edges after B fire whole, those that need more than what follows B do not."""
        cfg = graph({"f": [([], ["A", "E"]), (["A"], ["B"]), (["B"], ["C", "D"]), (["C"], ["D"]), (["E", "C"], ["D"])]})
        assert {"f": {"0": ["A"], "1": ["B"], "2": ["C", "D"], "3": ["D"]}} \
            == _selective.compute(cfg, "f", ["B"], run_subsequent=True)["waiting_edges_subset"]

    def test_follow_subflows(self):
        """The task is found in the sub-flow, and its parent gets the path to the sub-flow; a sub-flow without it runs
        nothing."""
        cfg = graph({"f": [([], ["A"]), (["A"], ["g", "h"]), (["g"], ["E"])],
                     "g": [([], ["B"]), (["B"], ["C"])], "h": [([], ["D"])]})
        assert {"task_names": ["C"], "waiting_edges_subset": {
            "f": {"0": ["A"], "1": ["g"]}, "g": {"0": ["B"], "1": ["C"]}, "h": {}}} \
            == _selective.compute(cfg, "f", ["C"], follow_subflows=True)

    def test_subflows_not_followed(self):
        """Without follow_subflows, a task only a sub-flow runs has no path."""
        cfg = graph({"f": [([], ["g"])], "g": [([], ["B"])]})
        with pytest.raises(SelectiveNoPathError):
            _selective.compute(cfg, "f", ["B"])

    def test_the_union_of_selinons_paths(self, monkeypatch):
        """On random flows, the selection is the union of the paths Selinon 1.4's search finds.

        Selinon's search copies its dict of paths shallowly, so that a node of a
        branch it abandons can leak into another's list; given a deep copy, it
        agrees with flowtrace on every case.
        """
        pytest.importorskip("selinon", reason="Selinon is in the bench extra")
        from selinon import selective as theirs
        from selinon.config import Config
        from selinon.errors import SelectiveNoPathError as TheirError

        monkeypatch.setattr(theirs, "copy", types.SimpleNamespace(copy=copy.deepcopy))
        rnd, tasks = random.Random(7), ["T%d" % i for i in range(5)]
        agreed = 0
        for _ in range(600):
            flows = {}
            for depth, name in enumerate(("f0", "f1", "f2")):
                nodes = tasks + ["f1", "f2"][depth:]
                flows[name] = [(rnd.sample(tasks, rnd.choice([0, 0, 1, 1, 2])), rnd.sample(nodes, rnd.choice([1, 2])))
                               for _ in range(rnd.randint(1, 4))]
            wanted, follow, subsequent = rnd.sample(tasks, rnd.choice([1, 2])), rnd.random() < 0.5, rnd.random() < 0.4
            monkeypatch.setattr(Config, "edge_table", {n: [{"from": f, "to": t} for f, t in e] for n, e in flows.items()},
                                raising=False)
            monkeypatch.setattr(Config, "is_flow", staticmethod(lambda name: name in flows), raising=False)
            try:
                found = theirs.compute_selective_run("f0", wanted, follow, subsequent)["waiting_edges_subset"]
                expected = {f: {str(i): sorted(n) for i, n in s.items()} for f, s in found.items()}
            except TheirError:
                expected = "no path"
            try:
                found = _selective.compute(graph(flows, tasks), "f0", wanted, follow, subsequent)["waiting_edges_subset"]
                actual = {f: {i: sorted(n) for i, n in s.items()} for f, s in found.items()}
            except SelectiveNoPathError:
                actual = "no path"
            assert expected == actual, (flows, wanted, follow, subsequent)
            agreed += expected != "no path"
        assert 200 == agreed  # of the 600 cases, these have a path: the comparison is not only of errors


class TestRunFunction:
    """Which selective run function a task has."""

    @pytest.mark.parametrize("chosen", [None, SelectiveRunFunction(), SelectiveRunFunction("always_run",
                                                                                             "selinon.routines")])
    def test_default(self, chosen):
        """No function, or Selinon's default, is flowtrace's always_run."""
        cfg = FlowConfig(FrozenMap({"A": Task("A", "x", "X", selective_run_function=chosen)}), FrozenMap(), FrozenMap())
        assert routines.always_run is _selective.run_function(cfg, "A")

    def test_named(self):
        """A function with an import is that function."""
        chosen = SelectiveRunFunction("reuse_earlier", "tests.flow.test_selective")
        cfg = FlowConfig(FrozenMap({"A": Task("A", "x", "X", selective_run_function=chosen)}), FrozenMap(), FrozenMap())
        assert reuse_earlier is _selective.run_function(cfg, "A")

    def test_always_run(self):
        """always_run says run."""
        assert None is routines.always_run("f", "A", None, ["B"], None)


class SelectivePorts(Ports):
    """Ports that record the selection a sub-flow is sent with."""

    def send_flow(self, name, dispatcher_id, node_args, parent, countdown=None, selective=None):
        self.sent.append(("flow", name, dispatcher_id, node_args, parent, selective))
        return "q"


class SelectiveFlowing(Flowing):
    """Wake-ups of a selective run: the selection goes through JSON, as in the dispatcher's message."""

    def __init__(self, cfg, selective, flow_name="f"):
        super().__init__(cfg, flow_name)
        self.ports = SelectivePorts()
        self.selective = json.loads(json.dumps(selective))

    def wake(self):
        wakeup = _wakeup.WakeUp(self.config, self.flow, "D1", self.node_args, self.parent, self.state, self.ports,
                                selective=self.selective)
        self.last = wakeup
        try:
            return wakeup.run()
        finally:
            self.state = json.loads(json.dumps(wakeup.state.to_dict()))


def sent(flowing):
    return [entry[1] for entry in flowing.ports.sent]


class TestWakeUp:
    """What the wake-ups of a selective run start, skip and reuse."""

    FLOW = {"f": [([], ["A", "E"]), (["A"], ["B", "D"]), (["B"], ["C"])]}

    def test_only_the_path_runs(self):
        """E and D are skipped, edges off the path too; the flow ends when C has run."""
        cfg = graph(self.FLOW)
        flowing = SelectiveFlowing(cfg, _selective.compute(cfg, "f", ["C"]))
        with capture_events() as captured:
            assert _wakeup.RUNNING == flowing.wake()
        assert (["A"], ["FLOW_START", "SELECTIVE_RUN_FUNC", "SELECTIVE_OMIT_NODE", "TASK_SCHEDULE"]) \
            == (sent(flowing), captured.names())
        assert (None, "E") == (captured[1][1]["result"], captured[2][1]["omitted_node"])
        flowing.ports.succeed("A")
        with capture_events() as captured:
            flowing.wake()
        assert ["NODE_SUCCESSFUL", "SELECTIVE_RUN_FUNC", "SELECTIVE_OMIT_NODE", "TASK_SCHEDULE"] == captured.names()
        flowing.ports.succeed("B")
        with capture_events() as captured:
            flowing.wake()
        # C was asked for: its run function is not called.
        assert (["A", "B", "C"], ["NODE_SUCCESSFUL", "TASK_SCHEDULE"]) == (sent(flowing), captured.names())
        flowing.ports.succeed("C")
        assert _wakeup.ENDED == flowing.wake()
        assert {"A", "B", "C"} == set(flowing.state["finished_nodes"])

    def test_every_event_carries_the_selection(self):
        """``selective`` is the selection in every event, and each event has only its catalogue keys."""
        cfg = graph({"f": [([], ["A"]), ([], ["E"]), (["A"], ["B"])]})
        selection = _selective.compute(cfg, "f", ["B"])
        flowing = SelectiveFlowing(cfg, selection)
        with capture_events() as captured:
            flowing.wake()
            flowing.ports.succeed("A")
            flowing.wake()
        assert ["FLOW_START", "SELECTIVE_RUN_FUNC", "TASK_SCHEDULE", "SELECTIVE_OMIT_EDGE", "NODE_SUCCESSFUL",
                "TASK_SCHEDULE"] == captured.names()
        assert [selection] * 6 == [msg["selective"] for _, msg in captured]
        for event, msg in captured:
            assert [] == [key for key in msg if key not in events.BY_VALUE[event].keys], Trace.event2str(event)

    def test_reuse(self):
        """A's run function names an earlier run: A is not sent, B starts at once and reads that run's result."""
        chosen = SelectiveRunFunction("reuse_earlier", "tests.flow.test_selective")
        cfg = graph(self.FLOW)
        cfg = FlowConfig(FrozenMap(dict(cfg.tasks, A=Task("A", "tests.flow.sample", "FetchOrder", storage="Results",
                                                          selective_run_function=chosen))), cfg.flows, cfg.storages)
        flowing = SelectiveFlowing(cfg, _selective.compute(cfg, "f", ["C"]))
        with capture_events() as captured:
            flowing.wake()
        assert (["B"], ["FLOW_START", "SELECTIVE_RUN_FUNC", "SELECTIVE_TASK_REUSE", "SELECTIVE_OMIT_NODE",
                        "NODE_SUCCESSFUL", "SELECTIVE_RUN_FUNC", "SELECTIVE_OMIT_NODE", "TASK_SCHEDULE"]) \
            == (sent(flowing), captured.names())
        reuse = captured[2][1]
        assert ("A", "old-A", "old-A") == (reuse["task_name"], reuse["task_id"], captured[1][1]["result"])
        assert ({"A": ["old-A"]}, {"A": "old-A"}) == (flowing.state["finished_nodes"], flowing.ports.sent[0][4])

    def test_subflow_gets_the_selection(self):
        """With follow_subflows, the sub-flow is sent the run's selection; a sub-flow the run does not cover, none."""
        cfg = graph({"f": [([], ["g"]), (["g"], ["h"]), (["h"], ["A"])], "g": [([], ["B"])], "h": [([], ["C"])]})
        selection = _selective.compute(cfg, "f", ["B"], follow_subflows=True)
        flowing = SelectiveFlowing(cfg, selection)
        flowing.wake()
        assert [("flow", "g", json.loads(json.dumps(selection)))] \
            == [(kind, name, sel) for kind, name, _, _, _, sel in flowing.ports.sent]
        whole = SelectiveFlowing(cfg, _selective.compute(cfg, "f", ["A"]))
        whole.wake()
        assert [None] == [entry[5] for entry in whole.ports.sent]

    def test_selective_edge(self):
        """An edge with ``selective`` sends its sub-flow the selection it computes, in a whole run too."""
        cfg = graph({"f": [([], ["A"])], "g": [([], ["B"]), (["B"], ["C"]), ([], ["D"])]})
        into = Edge((), ("g",), selective=Selective(("C",)))
        cfg = FlowConfig(cfg.tasks, FrozenMap(dict(cfg.flows, f=Flow("f", (into,)))), cfg.storages)
        flowing = SelectiveFlowing(cfg, None)
        with capture_events() as captured:
            flowing.wake()
        child = {"task_names": ["C"], "waiting_edges_subset": {"g": {"0": ["B"], "1": ["C"]}}}
        assert [child] == [entry[5] for entry in flowing.ports.sent]
        schedule = captured[1][1]
        assert ({"tasks": ["C"], "run_subsequent": False, "follow_subflows": False}, child, False) \
            == (schedule["selective_edge_conf"], schedule["child_selective"], schedule["selective"])


class TestLoad:
    """Selinon's default run function in YAML."""

    def test_selinon_routines_without_selinon(self, tmp_path, monkeypatch):
        """``import: selinon.routines`` loads when Selinon cannot be imported, and runs flowtrace's always_run."""
        monkeypatch.setitem(__import__("sys").modules, "selinon.routines", None)
        path = tmp_path / "flows.yml"
        path.write_text("tasks:\n"
                        "  - {name: A, import: tests.flow.sample, classname: FetchOrder,\n"
                        "     selective_run_function: {name: always_run, import: selinon.routines}}\n"
                        "flows: [f]\n"
                        "flow-definitions:\n"
                        "  - {name: f, edges: [{from: [], to: A}]}\n")
        from flowtrace.flow import load_flows

        cfg = load_flows(str(path))
        assert (SelectiveRunFunction("always_run", "selinon.routines", cfg.tasks["A"].selective_run_function.location),
                routines.always_run) == (cfg.tasks["A"].selective_run_function, _selective.run_function(cfg, "A"))
