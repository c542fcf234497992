"""Tests for flowtrace/flow/canvas.py: flow_signature() and FlowSignature, in one process (real workers: tests/integration)."""

import json

import pytest
from celery import chain
from celery.canvas import Signature

import flowtrace
from flowtrace import Trace
from flowtrace.errors import ConfigurationError, UnknownFlowError
from flowtrace.flow.canvas import FlowSignature, flow_signature
from flowtrace.testing import capture_events
from tests.flow.canvas_app import make_app, published


@pytest.fixture
def app(tmp_path):
    """An app with the flow ``pair``, sending to an in-memory broker."""
    app = make_app(tmp_path)
    yield app
    flowtrace.uninstrument(app)


def _sent_flow(sent):
    """The one dispatcher message: (queue, id, kwargs, flow header)."""
    ((routing_key, headers, body, _properties),) = sent
    return routing_key, headers["id"], body[1], headers["flowtrace_flow"]


class TestFlowSignature:
    """What flow_signature() returns, and what sending it sends."""

    def test_shape(self, app):
        """A dispatcher signature of type flowtrace_flow; immutable only when node_args are given."""
        mutable, fixed = flow_signature(app, "pair"), flow_signature(app, "pair", {"n": 1}, queue="q")
        assert (FlowSignature, "flowtrace.dispatcher", "flowtrace_flow", False, True, {"queue": "q"}) == (
            type(mutable), mutable.task, mutable.subtask_type, mutable.immutable, fixed.immutable, fixed.options)
        assert {"flow_name": "pair", "node_args": {"n": 1}, "parent": None} == fixed.kwargs

    def test_survives_serialisation(self, app):
        """What a worker reads from a chain's message is a FlowSignature again, equal to the one sent."""
        sig = flow_signature(app, "pair", {"n": 1})
        again = Signature.from_dict(json.loads(json.dumps(sig)), app=app)
        assert (FlowSignature, json.loads(json.dumps(sig))) == (type(again), json.loads(json.dumps(again)))

    def test_partial_argument_is_node_args(self, app):
        """A mutable signature sent with one partial argument (a chain's previous result) runs with it as node_args."""
        sig = flow_signature(app, "pair")
        result_id = sig.freeze().id
        with capture_events() as captured, published() as sent:
            result = sig.apply_async(({"from": "before"},))
        queue, sent_id, kwargs, header = _sent_flow(sent)
        assert (result_id, result_id, "flows") == (result.id, sent_id, queue)
        assert {"flow_name": "pair", "node_args": {"from": "before"}, "parent": None} == kwargs
        assert {"flow_name": "pair", "dispatcher_id": result_id, "parent": None, "node_args": {"from": "before"},
                "retried_count": 0} == header
        assert [{"flow_name": "pair", "dispatcher_id": result_id, "node_args": {"from": "before"}, "queue": "flows",
                 "selective": False}] == [msg for event, msg in captured if event == Trace.FLOW_SCHEDULE]

    def test_immutable_ignores_the_partial_argument(self, app):
        """With node_args the signature is immutable: the partial argument is dropped, as with Celery's si()."""
        with published() as sent:
            flow_signature(app, "pair", {"n": 1}).apply_async(({"from": "before"},), queue="other")
        queue, _id, kwargs, _header = _sent_flow(sent)
        assert ("other", {"flow_name": "pair", "node_args": {"n": 1}, "parent": None}) == (queue, kwargs)

    @pytest.mark.parametrize("args, kwargs, message", [
        ((1, 2), None, "flow 'pair' takes one argument, its node_args, but was given 2"),
        ((), {"order": 3}, "flow 'pair' takes no keyword argument 'order'; its one argument is node_args"),
    ])
    def test_wrong_partial_arguments(self, app, args, kwargs, message):
        """More than one partial argument, or a keyword other than node_args, is a TypeError; nothing is sent."""
        with published() as sent, pytest.raises(TypeError) as caught:
            flow_signature(app, "pair").apply_async(args, kwargs)
        assert (message, []) == (str(caught.value), sent)

    def test_not_callable(self, app):
        """Calling the signature as a function is refused: a flow is never a plain call."""
        with pytest.raises(TypeError) as caught:
            flow_signature(app, "pair")()
        assert ("a flow cannot be called as a function; send it with apply_async() or delay(), or run it in-line "
                "with apply()") == str(caught.value)

    def test_checked_when_made(self, app):
        """An unknown flow or a bad send option fails when the signature is made."""
        with pytest.raises(UnknownFlowError) as unknown:
            flow_signature(app, "nope")
        with pytest.raises(TypeError) as option:
            flow_signature(app, "pair", expires=3)
        assert ("there is no flow 'nope'; the flows are pair",
                "unknown send option 'expires'; a flow accepts queue, countdown, eta, priority, link, link_error") == (
            str(unknown.value), str(option.value))


class TestEager:
    """In eager mode the canvas runs in-line, or fails at once naming the setting it needs."""

    def test_chain_in_line(self, tmp_path):
        """With task_store_eager_result a chain's flow gets the previous result and passes on its final state."""
        app = make_app(tmp_path, eager=True, store_eager=True)
        try:
            with capture_events() as captured:
                steps = chain(app.tasks["ok"].s({"n": 5}), flow_signature(app, "pair"), app.tasks["ok"].s())
                final = steps.apply_async().get()
        finally:
            flowtrace.uninstrument(app)
        assert {"finished_nodes": {"Fetch": final["finished_nodes"]["Fetch"],
                                   "Charge": final["finished_nodes"]["Charge"]},
                "failed_nodes": {}, "active_nodes": []} == final
        assert [({"n": 5}, "pair")] == [(msg["node_args"], msg["flow_name"]) for event, msg in captured
                                        if event == Trace.FLOW_SCHEDULE]

    def test_chain_without_stored_results(self, tmp_path):
        """Without task_store_eager_result, making the signature fails with the setting's name."""
        app = make_app(tmp_path, eager=True)
        try:
            with pytest.raises(ConfigurationError) as caught:
                flow_signature(app, "pair")
        finally:
            flowtrace.uninstrument(app)
        assert "needs task_store_eager_result = True on app 'canvas'" in str(caught.value)

    def test_apply_needs_eager_mode(self, app):
        """apply() outside eager mode fails naming both settings: the nodes would go to the broker."""
        with pytest.raises(ConfigurationError) as caught:
            flow_signature(app, "pair").apply()
        assert ("a flow run in-line (apply()) needs task_always_eager and task_store_eager_result = True on app "
                "'canvas': its dispatcher reads the outcome of the nodes, which run in-line too, from the result "
                "backend") == str(caught.value)
