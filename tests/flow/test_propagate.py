"""Tests for flowtrace.flow._propagate: the parent maps Selinon's propagate_* options give the nodes."""

import pytest

from flowtrace.flow import _propagate
from flowtrace.flow.model import Edge, Flow, FlowConfig, FrozenMap, Task

NESTED = {"T1": ["t1"], "inner": {"T1": ["t1b"], "T2": ["t2"], "deepest": {"T3": ["t3"]}}, "T4": ["t4"]}


def config(flow):
    tasks = {name: Task(name, "tests.flow.sample", "FetchOrder") for name in ("A", "T1", "T2", "T3", "T4")}
    flows = {flow.name: flow, "g": Flow("g", (Edge((), ("T1",)),)), "inner": Flow("inner", (Edge((), ("T2",)),)),
             "deepest": Flow("deepest", (Edge((), ("T3",)),))}
    return FlowConfig(FrozenMap(tasks), FrozenMap(flows), FrozenMap())


class Ports:
    """Answers finished_of and failed_of with NESTED, recording what was asked."""

    def __init__(self):
        self.asked = []

    def finished_of(self, flow_name, flow_id):
        self.asked.append(("finished", flow_name, flow_id))
        return NESTED

    def failed_of(self, flow_name, flow_id):
        self.asked.append(("failed", flow_name, flow_id))
        return NESTED


class TestFlatten:
    def test_every_level_into_one_mapping(self):
        """Runs of one task name at several levels join one list, outer levels first; the input is unchanged."""
        before = repr(NESTED)
        assert {"T1": ["t1", "t1b"], "T4": ["t4"], "T2": ["t2"], "T3": ["t3"]} == _propagate.flatten(NESTED)
        assert before == repr(NESTED)

    def test_empty(self):
        """A sub-flow that ran no task flattens to an empty mapping."""
        assert {} == _propagate.flatten({"inner": {}})


class TestEdgeParent:
    @pytest.mark.parametrize("option, expected", [
        ({}, {"A": "a1"}),
        ({"propagate_finished": ("g",)}, {"A": "a1", "g": NESTED}),
        ({"propagate_finished": True}, {"A": "a1", "g": NESTED}),
        ({"propagate_compound_finished": ("g",)},
         {"A": "a1", "g": {"T1": ["t1", "t1b"], "T4": ["t4"], "T2": ["t2"], "T3": ["t3"]}}),
        ({"propagate_compound_finished": True},
         {"A": "a1", "g": {"T1": ["t1", "t1b"], "T4": ["t4"], "T2": ["t2"], "T3": ["t3"]}}),
        ({"propagate_compound_finished": ("other",)}, {"A": "a1"}),
    ], ids=["none", "plain", "plain-true", "compound", "compound-true", "compound-other"])
    def test_shapes(self, option, expected):
        """A task is its id; a finished sub-flow is nested, flat (compound), or left out, as the options say."""
        flow = Flow("f", (Edge((), ("A", "g")), Edge(("A", "g"), ("T4",))), **option)
        ports = Ports()
        parent, task_ids = _propagate.edge_parent(config(flow), flow, ports, {"A": "a1", "g": "g1"})
        assert (expected, {"A": "a1"}) == (parent, task_ids)
        assert ([("finished", "g", "g1")] if len(expected) == 2 else []) == ports.asked


class TestFallbackParent:
    @pytest.mark.parametrize("option, expected", [
        ({}, {"A": "a1"}),
        ({"propagate_failures": ("g",)}, {"A": "a1", "g": NESTED}),
        ({"propagate_compound_failures": ("g",)},
         {"A": "a1", "g": {"T1": ["t1", "t1b"], "T4": ["t4"], "T2": ["t2"], "T3": ["t3"]}}),
    ], ids=["none", "plain", "compound"])
    def test_shapes(self, option, expected):
        """A failed task is its id; a failed sub-flow's failed tasks are nested, flat (compound), or left out."""
        flow = Flow("f", (Edge((), ("A", "g")),), **option)
        ports = Ports()
        nodes = [{"name": "A", "id": "a1"}, {"name": "g", "id": "g1"}]
        assert expected == _propagate.fallback_parent(config(flow), flow, ports, nodes)
        assert ([("failed", "g", "g1")] if len(expected) == 2 else []) == ports.asked


class TestSubflow:
    @pytest.mark.parametrize("option, fallback, expected", [
        ({}, False, None), ({}, True, None),
        ({"propagate_parent": ("g",)}, False, {"A": "a1"}), ({"propagate_parent": ("g",)}, True, {"A": "a1"}),
        ({"propagate_parent_failures": ("g",)}, False, None),
        ({"propagate_parent_failures": ("g",)}, True, {"A": "a1"}),
        ({"propagate_parent_failures": True}, True, {"A": "a1"}),
    ])
    def test_parent(self, option, fallback, expected):
        """propagate_parent passes the parent to any start of the sub-flow; propagate_parent_failures to a fallback's."""
        flow = Flow("f", (Edge((), ("A",)),), **option)
        assert expected == _propagate.subflow_parent(flow, "g", {"A": "a1"}, fallback)

    @pytest.mark.parametrize("option, foreach_item, expected", [
        ({}, False, None), ({}, True, {"x": 1}), ({"propagate_node_args": ("g",)}, False, {"x": 1})])
    def test_args(self, option, foreach_item, expected):
        """A sub-flow gets node arguments with propagate_node_args, or as a foreach item."""
        flow = Flow("f", (Edge((), ("A",)),), **option)
        assert expected == _propagate.subflow_args(flow, "g", {"x": 1}, foreach_item)
