"""Tests for flowtrace.flow._statecache: a flow's node-state cache, on a real Celery in-memory result backend."""

import uuid

import celery
import pytest

from flowtrace import Trace
from flowtrace.events import BY_NAME
from flowtrace.flow import _runtime, _statecache
from flowtrace.flow._statecache import NodeState, NodeStates
from flowtrace.flow.dispatcher import FlowError, _CeleryPorts
from flowtrace.flow.model import Cache, Edge, Flow, FlowConfig, FrozenMap, Task
from flowtrace.testing import capture_events


def new_id():
    """A node id of its own: Celery's in-memory result backend is shared by every app of the process."""
    return str(uuid.uuid4())


def config(cache):
    tasks = FrozenMap({"A": Task("A", "tests.flow.sample", "FetchOrder")})
    flows = {"f": Flow("f", (Edge((), ("A",)),), queue="flows", cache=cache),
             "sub": Flow("sub", (Edge((), ("A",)),))}
    return FlowConfig(tasks, FrozenMap(flows), FrozenMap())


def make_app(cache=Cache("LRU", None, FrozenMap({"max_cache_size": 10}))):
    app = celery.Celery("statecache", broker="memory://", backend="cache+memory://")
    app.conf[_runtime.APP_SETTING] = config(cache)
    return app


def states(app, parent=None):
    return NodeStates(app, app.conf[_runtime.APP_SETTING].flows["f"], "D1", parent)


def msg(node_id, **extra):
    return dict({"flow_name": "f", "dispatcher_id": "D1", "node_name": "A", "node_id": node_id, "parent": None,
                 "queue": "flows", "selective": False}, **extra)


def names(captured):
    return [Trace.event2str(event) for event, _ in captured]


class Raising:
    """A cache whose get() and add() raise what they are given."""

    def __init__(self, on_get=None, on_add=None):
        self.on_get, self.on_add, self.added = on_get, on_add, []

    def get(self, item_id, task_name=None, flow_name=None):
        raise self.on_get

    def add(self, item_id, item, task_name=None, flow_name=None):
        if self.on_add is not None:
            raise self.on_add
        self.added.append((item_id, item, task_name, flow_name))


class TestNodeStates:
    def test_without_cache_reads_the_backend_and_emits_nothing(self):
        """A flow without cache reads each state from the backend, with no NODE_STATE_CACHE_* event."""
        app, n1 = make_app(cache=None), new_id()
        app.backend.store_result(n1, None, "FAILURE", traceback="Traceback ...")
        with capture_events() as captured:
            first = states(app).read("A", n1, False)
            app.backend.store_result(n1, 5, "SUCCESS")
            second = states(app).read("A", n1, False)
        assert (NodeState("FAILURE", "Traceback ..."), NodeState("SUCCESS"), []) == (first, second, captured)

    def test_an_ended_node_is_added_then_hit(self):
        """The first read misses and adds the ended node; the second is a hit, and the backend is not read again."""
        app, n1 = make_app(), new_id()
        app.backend.store_result(n1, None, "FAILURE")
        with capture_events() as captured:
            first = states(app).read("A", n1, False)
            app.backend.store_result(n1, 5, "SUCCESS")  # what a second backend read would see
            second = states(app).read("A", n1, False)
        assert (NodeState("FAILURE"), NodeState("FAILURE")) == (first, second)
        assert [(Trace.NODE_STATE_CACHE_GET, msg(n1)),
                (Trace.NODE_STATE_CACHE_MISS, msg(n1, what="the node's state is not in the state cache")),
                (Trace.NODE_STATE_CACHE_ADD, msg(n1)),
                (Trace.NODE_STATE_CACHE_GET, msg(n1)),
                (Trace.NODE_STATE_CACHE_HIT, msg(n1))] == captured

    def test_the_messages_have_the_catalogue_keys(self):
        """Every NODE_STATE_CACHE_* event carries exactly the catalogue's keys."""
        app, n1 = make_app(), new_id()
        app.backend.store_result(n1, 5, "SUCCESS")
        with capture_events() as captured:
            states(app).read("A", n1, False)
        assert [sorted(BY_NAME[name].keys) for name in names(captured)] == [sorted(m) for _, m in captured]

    def test_a_running_node_is_not_cached(self):
        """A node still running misses and is not added; once it failed, it is added with its traceback."""
        app, n2 = make_app(), new_id()
        with capture_events() as captured:
            running = states(app).read("A", n2, False)
            app.backend.store_result(n2, ValueError("no"), "FAILURE", traceback="Traceback ...")
            failed = states(app).read("A", n2, False)
            again = states(app).read("A", n2, False)
        assert (NodeState(None), NodeState("FAILURE", "Traceback ..."), NodeState("FAILURE", "Traceback ...")) == (
            running, failed, again)
        assert ["NODE_STATE_CACHE_GET", "NODE_STATE_CACHE_MISS", "NODE_STATE_CACHE_GET", "NODE_STATE_CACHE_MISS",
                "NODE_STATE_CACHE_ADD", "NODE_STATE_CACHE_GET", "NODE_STATE_CACHE_HIT"] == names(captured)

    def test_a_cache_that_raises_is_an_issue_and_the_backend_answers(self, monkeypatch):
        """get() and add() raising are NODE_STATE_CACHE_ISSUE with the traceback; the state still comes from the backend."""
        app, n1 = make_app(), new_id()
        cache = Raising(on_get=RuntimeError("get broke"), on_add=RuntimeError("add broke"))
        monkeypatch.setattr(_statecache, "make_cache", lambda *args: cache)
        app.backend.store_result(n1, 5, "SUCCESS")
        with capture_events() as captured:
            state = states(app).read("A", n1, False)
        whats = [(m.get("what", "").strip().splitlines() or [""])[-1] for _, m in captured]
        assert (NodeState("SUCCESS"), ["NODE_STATE_CACHE_GET", "NODE_STATE_CACHE_ISSUE", "NODE_STATE_CACHE_ADD",
                                       "NODE_STATE_CACHE_ISSUE"],
                ["", "RuntimeError: get broke", "", "RuntimeError: add broke"]) == (state, names(captured), whats)

    def test_selinon_miss_and_the_cache_hints(self, monkeypatch):
        """Selinon's CacheMissError is a miss; the cache gets the node id, the state, and the node and flow names."""
        pytest.importorskip("selinon", reason="Selinon is in the bench extra")
        from selinon.errors import CacheMissError

        app, n1 = make_app(), new_id()
        cache = Raising(on_get=CacheMissError())
        monkeypatch.setattr(_statecache, "make_cache", lambda *args: cache)
        app.backend.store_result(n1, 5, "SUCCESS")
        with capture_events() as captured:
            states(app).read("A", n1, False)
        assert (["NODE_STATE_CACHE_GET", "NODE_STATE_CACHE_MISS", "NODE_STATE_CACHE_ADD"],
                [(n1, NodeState("SUCCESS"), "A", "f")]) == (names(captured), cache.added)

    def test_a_cache_that_cannot_be_made_is_one_issue(self):
        """A cache class that refuses its configuration is one NODE_STATE_CACHE_ISSUE; reads then go to the backend."""
        app, n1 = make_app(cache=Cache("LRU", None, FrozenMap({"max_cache_size": -1}))), new_id()
        app.backend.store_result(n1, 5, "SUCCESS")
        with capture_events() as captured:
            first = states(app).read("A", n1, False)
            second = states(app).read("A", n1, False)
        assert (NodeState("SUCCESS"), NodeState("SUCCESS"), ["NODE_STATE_CACHE_ISSUE"]) == (
            first, second, names(captured))
        assert "ValueError: LRU max_cache_size must be an integer >= 0, got -1" == (
            captured[0][1]["what"].strip().splitlines()[-1])

    def test_one_cache_per_process(self, monkeypatch):
        """After a fork (another pid) the flow gets a new, empty cache: the parent's is never shared."""
        app, n1 = make_app(), new_id()
        app.backend.store_result(n1, 5, "SUCCESS")
        states(app).read("A", n1, False)
        monkeypatch.setattr(_statecache.os, "getpid", lambda: -1)
        with capture_events() as captured:
            states(app).read("A", n1, False)
        assert ["NODE_STATE_CACHE_GET", "NODE_STATE_CACHE_MISS", "NODE_STATE_CACHE_ADD"] == names(captured)


class TestDispatcherReads:
    """_CeleryPorts reads node states, and a sub-flow's final state, through the flow's cache."""

    def ports(self, app):
        dispatcher = type("D", (), {"app": app, "request": type("R", (), {"id": "D1"})()})()
        return _CeleryPorts(dispatcher, app.conf[_runtime.APP_SETTING], "f")

    def test_a_sub_flows_final_state_is_read_once(self):
        """outcome() of a sub-flow caches its final state, and finished_of() reads it from the cache."""
        app, s1 = make_app(), new_id()
        app.backend.store_result(s1, {"finished_nodes": {"A": ["a1"]}, "failed_nodes": {}}, "SUCCESS")
        ports = self.ports(app)
        with capture_events() as captured:
            outcome = ports.outcome("sub", s1, True)
            finished = ports.finished_of("sub", s1)
        assert (("SUCCESS", None), {"A": ["a1"]}) == (outcome, finished)
        assert ["NODE_STATE_CACHE_GET", "NODE_STATE_CACHE_MISS", "NODE_STATE_CACHE_ADD", "NODE_STATE_CACHE_GET",
                "NODE_STATE_CACHE_HIT"] == names(captured)

    def test_a_failed_sub_flows_state(self):
        """failed_of() reads a failed sub-flow's FlowError from the cache that outcome() filled."""
        app, s1 = make_app(), new_id()
        app.backend.store_result(s1, FlowError({"finished_nodes": {}, "failed_nodes": {"A": ["a1"]}}), "FAILURE",
                                 traceback="Traceback ...")
        ports = self.ports(app)
        with capture_events() as captured:
            outcome = ports.outcome("sub", s1, True)
            failed = ports.failed_of("sub", s1)
        assert (("FAILURE", "Traceback ..."), {"A": ["a1"]}, "NODE_STATE_CACHE_HIT") == (
            outcome, failed, names(captured)[-1])
