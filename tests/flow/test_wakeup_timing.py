"""Tests for what a wake-up tells the sampling strategy and how it sends throttled nodes (flowtrace.flow._wakeup)."""

import pytest

from flowtrace.flow import _wakeup
from flowtrace.flow.model import Failure, Flow
from flowtrace.testing import capture_events
from tests.flow.test_wakeup import Flowing, Ports, config, edge


class ThrottlingPorts(Ports):
    """The fake ports, with a countdown per node name and the countdowns sent recorded."""

    def __init__(self, countdowns):
        super().__init__()
        self.countdowns = countdowns
        self.sent_countdowns = []

    def countdown(self, name, is_flow):
        return self.countdowns.get((name, is_flow))

    def send_task(self, name, task_id, node_args, parent, countdown=None):
        self.sent_countdowns.append((name, countdown))
        return super().send_task(name, task_id, node_args, parent)

    def send_flow(self, name, dispatcher_id, node_args, parent, countdown=None):
        self.sent_countdowns.append((name, countdown))
        return super().send_flow(name, dispatcher_id, node_args, parent)


class TestStarted:
    """WakeUp.started and fallback_started: the waited-for nodes a wake-up started, by how."""

    def test_edges(self):
        """Nodes of edges are ``started``; ``nowait`` ones are not waited for and are in neither list."""
        flowing = Flowing(config(Flow("f", (edge([], ["A", "B"]),), nowait=("B",))))
        flowing.wake()
        assert (flowing.ports.ids("A"), []) == (flowing.last.started, flowing.last.fallback_started)

    def test_fallbacks(self):
        """A fallback is in ``fallback_started``; the next wake-up starts afresh."""
        flowing = Flowing(config(Flow("f", (edge([], ["A"]),), failures=(Failure(("A",), ("B",)),))))
        flowing.wake()
        flowing.ports.fail("A")
        assert _wakeup.RUNNING == flowing.wake()
        assert ([], flowing.ports.ids("B")) == (flowing.last.started, flowing.last.fallback_started)


class TestThrottledSchedule:
    """A throttled node is sent with its countdown, which TASK_SCHEDULE / SUBFLOW_SCHEDULE carry."""

    @pytest.mark.parametrize("countdown", [None, 7.5])
    def test_task_and_flow(self, countdown):
        """The countdown the ports give is in the event and on the message, for a task and a sub-flow."""
        cfg = config(Flow("f", (edge([], ["A", "g"]),)), Flow("g", (edge([], ["B"]),)))
        flowing = Flowing(cfg)
        flowing.ports = ThrottlingPorts({("A", False): countdown, ("g", True): countdown and countdown * 2})
        with capture_events() as captured:
            flowing.wake()
        schedules = [(name, msg.get("task_name", msg.get("child_flow_name")), msg["countdown"])
                     for name, (_, msg) in zip(captured.names(), captured)
                     if name in ("TASK_SCHEDULE", "SUBFLOW_SCHEDULE")]
        expected = [("A", countdown), ("g", countdown and countdown * 2)]
        assert ([("TASK_SCHEDULE", "A", expected[0][1]), ("SUBFLOW_SCHEDULE", "g", expected[1][1])], expected) == (
            schedules, flowing.ports.sent_countdowns)
