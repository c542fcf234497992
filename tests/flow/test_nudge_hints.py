"""Tests for wake-ups told which nodes ended: what a nudge names, how it reaches the dispatcher, and what is read."""

import json
import time
import types

from kombu.asynchronous.timer import Timer

from flowtrace.flow import _nudge, _wakeup
from flowtrace.flow.dispatcher import Dispatcher
from flowtrace.flow.model import Flow
from flowtrace.testing import capture_events
from tests.flow.test_wakeup import Ports, config, edge

WIDE = _wakeup.READ_ALL_UP_TO + 4
FANS = tuple("F%d" % i for i in range(WIDE))


class CountingPorts(Ports):
    """The fake ports of test_wakeup, counting the outcomes read."""

    def __init__(self):
        super().__init__()
        self.read = []

    def outcome(self, name, node_id, is_flow):
        self.read.append(node_id)
        return super().outcome(name, node_id, is_flow)


def fan_out(width):
    """A flow started: ``width`` nodes F0.. running, all from one starting edge; returns (config, state, ports)."""
    cfg = config(Flow("f", (edge([], FANS[:width]), edge(FANS[:width], ["A"]))), tasks=FANS[:width] + ("A",))
    ports = CountingPorts()
    first = _wakeup.WakeUp(cfg, cfg.flows["f"], "D1", None, None, None, ports)
    assert _wakeup.RUNNING == first.run()
    return cfg, json.loads(json.dumps(first.state.to_dict())), ports


def wake(cfg, state, ports, ended):
    ports.read = []
    wakeup = _wakeup.WakeUp(cfg, cfg.flows["f"], "D1", None, None, state, ports, ended=ended)
    with capture_events() as captured:
        outcome = wakeup.run()
    return outcome, wakeup, captured


class TestWakeUpEnded:
    """WakeUp(ended=...): the outcomes read are those of the nodes named, when many nodes run."""

    def test_reads_only_the_nodes_named(self):
        """With more than READ_ALL_UP_TO nodes running, only the named node is read and handled."""
        cfg, state, ports = fan_out(WIDE)
        ended = ports.succeed("F3")
        ports.succeed("F5")  # ended too, but its nudge has not come: left for a later wake-up
        outcome, wakeup, captured = wake(cfg, state, ports, [ended])
        assert (_wakeup.RUNNING, [ended], ["NODE_SUCCESSFUL"], {"F3": [ended]}, WIDE - 1) == (
            outcome, ports.read, captured.names(), wakeup.state.finished, len(wakeup.state.active))

    def test_same_events_as_reading_everything(self):
        """Nodes named out of order, twice, or not running give the events and state a full read gives."""
        cfg, state, ports = fan_out(WIDE)
        late, early = ports.succeed("F1"), ports.succeed("F7")
        failed = ports.fail("F9")

        def seen(ended):
            _, wakeup, captured = wake(cfg, state, ports, ended)
            return list(zip(captured.names(), [msg["node_name"] for _, msg in captured])), wakeup.state.to_dict()

        named = seen([failed, early, "not-a-node", late, early])
        assert [("NODE_FAILURE", "F9"), ("NODE_SUCCESSFUL", "F1"), ("NODE_SUCCESSFUL", "F7")] == named[0]
        assert seen(None) == named

    def test_few_running_nodes_are_all_read(self):
        """With at most READ_ALL_UP_TO nodes running, every one is read, as without names."""
        cfg, state, ports = fan_out(_wakeup.READ_ALL_UP_TO)
        named = ports.succeed("F0")
        other = ports.succeed("F2")
        outcome, wakeup, captured = wake(cfg, state, ports, [named])
        assert (_wakeup.READ_ALL_UP_TO, ["NODE_SUCCESSFUL", "NODE_SUCCESSFUL"], {"F0": [named], "F2": [other]}) == (
            len(ports.read), captured.names(), wakeup.state.finished)

    def test_join_fires_when_the_last_source_is_named(self):
        """An edge from every node fires once, in the wake-up that handles the last of them."""
        cfg, state, ports = fan_out(WIDE)
        for name in FANS[:-1]:
            ports.succeed(name)
        _, wakeup, _ = wake(cfg, state, ports, None)
        last = ports.succeed(FANS[-1])
        outcome, wakeup, captured = wake(cfg, json.loads(json.dumps(wakeup.state.to_dict())), ports, [last])
        assert (_wakeup.RUNNING, [last], ["NODE_SUCCESSFUL", "TASK_SCHEDULE"], 1) == (
            outcome, ports.read, captured.names(), len(ports.ids("A")))


class TestNudgeNamesItsNode:
    """The worker side: a nudge's node id reaches the dispatcher's request."""

    class Request:
        """Stands for celery.worker.request.Request: an id and the dict the pool process gets."""

        def __init__(self, task_id):
            self.id = task_id
            self._request_dict = {"id": task_id}

    def test_wake_hands_the_node_to_the_request(self):
        """The held message runs with the node that nudged it named in its request."""
        timer, ran = Timer(), []
        request = self.Request("d1")
        timer.call_after(60, ran.append, (request,))
        assert True is _nudge.wake(timer, "d1", "n1")
        assert ([request], ["n1"]) == (ran, request._request_dict[_nudge.HINT])

    def test_unnamed_nudge_names_nothing(self):
        """A nudge that does not name its node leaves the request without a hint: every node is read."""
        timer = Timer()
        request = self.Request("d1")
        timer.call_after(60, lambda r: None, (request,))
        _nudge.wake(timer, "d1")
        assert {"id": "d1"} == request._request_dict

    def test_early_nudges_add_up(self):
        """Nudges that come before the message are all named when it arrives, and forgotten then."""
        _nudge._remember("d4", "n1")
        _nudge._remember("d4", "n2")
        assert ((True, ["n1", "n2"]), (False, None)) == (_nudge._take("d4"), _nudge._take("d4"))

    def test_one_unnamed_early_nudge_means_read_everything(self):
        """Among early nudges, one that names no node makes the wake-up read every node."""
        _nudge._remember("d5", "n1")
        _nudge._remember("d5")
        _nudge._remember("d5", "n2")
        assert (True, None) == _nudge._take("d5")


def dispatcher(nudged=None, headers=None, countdown=(2.0, 60.0)):
    """What Dispatcher's helpers use of ``self``: its request and its app's settings."""
    request = types.SimpleNamespace(id="D1", headers=headers)
    if nudged is not None:
        setattr(request, _nudge.HINT, nudged)
    app = types.SimpleNamespace(conf={"flowtrace_dispatcher_countdown": countdown})
    return types.SimpleNamespace(request=request, app=app)


class TestDispatcherReads:
    """Dispatcher._to_read(): the nodes named by nudges, unless a full read is due."""

    def test_nudged_after_a_recent_full_read(self):
        """A nudged wake-up soon after a full read reads the named nodes, and keeps the full read's time."""
        polled = time.time() - 0.5
        assert (["n1"], polled) == Dispatcher._to_read(dispatcher(["n1"]), polled)

    def test_full_read_when_due(self):
        """Without a hint, without a known full read, or a first countdown after one: every node is read."""
        now = time.time()
        found = [Dispatcher._to_read(dispatcher(None), now),
                 Dispatcher._to_read(dispatcher(["n1"]), None),
                 Dispatcher._to_read(dispatcher(["n1"]), now - 2.5),
                 Dispatcher._to_read(dispatcher(["n1"]), now + 2.5)]
        assert [None] * 4 == [ended for ended, _ in found]
        assert all(polled >= now for _, polled in found)

    def test_the_hint_does_not_travel_on(self):
        """The next wake-up's message does not carry the nodes that woke this one."""
        sent = {}
        fake = dispatcher(["n1"], headers={_nudge.HINT: ["n1"], "mine": 1})
        fake.retry = lambda **options: sent.update(options)
        Dispatcher._retry(fake, {"flow_name": "f", "parent": None, "node_args": None, "retried_count": 0}, 2.0, "q")
        assert ["flowtrace_flow", "mine"] == sorted(sent["headers"])

