"""Tests for flowtrace.flow.dispatcher's view of Celery: node outcomes from the result backend, and FlowError."""

import types

import pytest

from flowtrace import Trace
from flowtrace.flow import _wakeup
from flowtrace.flow.dispatcher import FlowError, _CeleryPorts
from flowtrace.flow.model import Edge, Flow, FlowConfig, FrozenMap, Task
from flowtrace.testing import capture_events

CONFIG = FlowConfig(FrozenMap({"A": Task("A", "tests.flow.sample", "FetchOrder")}),
                    FrozenMap({"f": Flow("f", (Edge((), ("A",)),), queue="flows")}), FrozenMap())


class Result:
    """Stands for celery.result.AsyncResult."""

    def __init__(self, state=None, error=None, traceback=None):
        self._state, self.error, self.traceback = state, error, traceback

    @property
    def state(self):
        if self.error is not None:
            raise self.error
        return self._state


def ports(result, parent=None):
    app = types.SimpleNamespace(AsyncResult=lambda node_id: result)
    dispatcher = types.SimpleNamespace(app=app, request=types.SimpleNamespace(id="D1"))
    return _CeleryPorts(dispatcher, CONFIG, "f", parent)


class TestOutcome:
    """_CeleryPorts.outcome(): SUCCESS, FAILURE with its traceback, or still running."""

    @pytest.mark.parametrize("state, expected", [
        ("SUCCESS", ("SUCCESS", None)), ("FAILURE", ("FAILURE", "Traceback ...")), ("RETRY", (None, None)),
        ("PENDING", (None, None)), ("STARTED", (None, None))])
    def test_states(self, state, expected):
        """Only SUCCESS and FAILURE end a node."""
        assert expected == ports(Result(state, traceback="Traceback ...")).outcome("A", "a1", False)

    def test_backend_down(self):
        """A backend that raises gives RESULT_BACKEND_ISSUE with the traceback, and postpones the wake-up."""
        with capture_events() as captured:
            with pytest.raises(_wakeup.Postpone):
                ports(Result(error=ConnectionError("backend down"))).outcome("A", "a1", False)
        ((event, msg),) = captured
        assert Trace.RESULT_BACKEND_ISSUE == event
        assert "ConnectionError: backend down" in msg.pop("what")
        assert {"flow_name": "f", "dispatcher_id": "D1", "node_name": "A", "node_id": "a1", "parent": None,
                "queue": "flows", "selective": False} == msg

    def test_backend_down_in_a_subflow(self):
        """In a sub-flow, RESULT_BACKEND_ISSUE carries the flow's parent, as its other events do."""
        parent = {"Fetch": "t-9"}
        with capture_events() as captured:
            with pytest.raises(_wakeup.Postpone):
                ports(Result(error=ConnectionError("backend down")), parent).outcome("A", "a1", False)
        ((event, msg),) = captured
        assert (Trace.RESULT_BACKEND_ISSUE, parent) == (event, msg["parent"])


class TestFlowError:
    """The exception a failed flow's dispatcher ends with."""

    def test_state_and_message(self):
        """It keeps the state, rebuilds from its args as Celery's result backend does, and names the failed nodes."""
        state = {"finished_nodes": {"A": ["1"]}, "failed_nodes": {"B": ["2"]}, "active_nodes": []}
        error = FlowError(*FlowError(state).args)
        assert (state, "flow failed; failed nodes: B") == (error.state, str(error))
