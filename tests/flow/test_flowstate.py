"""Tests for flowtrace.flow._flowstate: the state that travels in a dispatcher's message."""

import json

from flowtrace.flow import _flowstate


class TestFlowState:
    def test_state_is_json(self):
        """The state survives JSON unchanged."""
        state = _flowstate.FlowState([["A", "1"]], {"B": ["2"]}, {"C": ["3"]}, doomed=True).to_dict()
        assert state == _flowstate.FlowState.from_dict(json.loads(json.dumps(state))).to_dict()
