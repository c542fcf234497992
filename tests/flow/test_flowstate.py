"""Tests for flowtrace.flow._flowstate: the state that travels in a dispatcher's message."""

import json

from flowtrace.flow import _flowstate


class TestFlowState:
    def test_state_is_json(self):
        """The state survives JSON unchanged."""
        state = _flowstate.FlowState([["A", "1"]], {"B": ["2"]}, {"C": ["3"]}, doomed=True).to_dict()
        assert state == _flowstate.FlowState.from_dict(json.loads(json.dumps(state))).to_dict()

    def test_node_args_travel_only_when_set(self):
        """node_args (node_args_from_first) is in the state once set, None included, and never before."""
        state = _flowstate.FlowState([["A", "1"]])
        assert (False, {"active_nodes": [["A", "1"]], "finished_nodes": {}, "failed_nodes": {}}) == (
            state.has_node_args, state.to_dict())
        state.set_node_args(None)
        data = json.loads(json.dumps(state.to_dict()))
        assert {"active_nodes": [["A", "1"]], "finished_nodes": {}, "failed_nodes": {}, "node_args": None} == data
        again = _flowstate.FlowState.from_dict(data)
        assert (True, None, data) == (again.has_node_args, again.node_args, again.to_dict())
