"""Tests for flowtrace/view/_state.py: what the events of one task or flow say about its state, attempts and note."""

import datetime

from flowtrace import view
from tests.view.logs import EMAIL, FLOW, ORDER, STOCK, T0, draw, line, task


class TestTaskState:
    def test_single_successful_task(self):
        """One task is drawn as one tree: header, then its name, state, duration, offset and a full bar."""
        text, stats = draw(task("orders.process", ORDER, 0, 10, 130))
        expected = (
            "2026-11-21T10:05:24.506658Z  trace 4bf92f3577b34da6a3ce929d0e0e4736\n"
            "orders.process [5e1b3c1a]  SUCCESS  0.130s  +0.000s  [..============================]\n"
        )
        assert expected == text
        assert view.ViewStats(lines=4, events=4, invalid=0, first_invalid=None, trees=1, tasks=1, flows=0,
                              unattached=0) == stats

    def test_retry_then_success_shows_attempts(self):
        """A retried task shows its total time and one attempt line each, with the retry's countdown and cause."""
        lines = task("orders.email", EMAIL, 0, 5, 125, terminal="TASK_RETRY", countdown=2,
                     reason="Retry in 2s: SMTPError('421 try later')", exc_type="SMTPError",
                     exc_message="421 try later")
        lines += task("orders.email", EMAIL, 125, 2130, 2160, retries=1)
        text, _ = draw(lines)
        expected = (
            "2026-11-21T10:05:24.506658Z  trace 4bf92f3577b34da6a3ce929d0e0e4736\n"
            "orders.email [a7c2d4e6]  SUCCESS  2.160s  +0.000s  [==...........................=]  2 attempts\n"
            "├── attempt 1            RETRY    0.120s  +0.000s  [==                            ]"
            "  countdown 2, SMTPError: 421 try later\n"
            "└── attempt 2            SUCCESS  0.030s  +0.125s  [ ............................=]\n"
        )
        assert expected == text

    def test_failure_shows_exception(self):
        """A failed task is FAILURE, with the exception's type and message as its note."""
        text, _ = draw(task("orders.stock", STOCK, 0, 20, 420, terminal="TASK_FAILURE", exc_type="ValueError",
                            exc_message="out of stock: sku 42"))
        expected = (
            "2026-11-21T10:05:24.506658Z  trace 4bf92f3577b34da6a3ce929d0e0e4736\n"
            "orders.stock [b8d3e5f7]  FAILURE  0.420s  +0.000s  [.=============================]"
            "  ValueError: out of stock: sku 42\n"
        )
        assert expected == text

    def test_first_sent_starts_a_task_without_publish(self):
        """Without the producer's TASK_PUBLISH, the task's duration starts at the first_sent of its TASK_START."""
        common = dict(task_name="t", task_id=ORDER, retries=0)
        sent = (T0 + datetime.timedelta(milliseconds=100)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        lines = [line("TASK_START", 400, first_sent=sent, queue_latency=0.3, **common),
                 line("TASK_END", 500, runtime=0.1, **common)]
        text, _ = draw(lines, bar_width=10)
        expected = (
            "2026-11-21T10:05:24.606658Z  trace 4bf92f3577b34da6a3ce929d0e0e4736\n"
            "t [5e1b3c1a]  SUCCESS  0.400s  +0.000s  [.......===]\n"
        )
        assert expected == text

    def test_revoked_and_expected_failures_show_why(self):
        """A revoked task shows its reason, and a failure listed in Task.throws is marked expected."""
        lines = task("a", ORDER, 0, None, 10, terminal="TASK_REVOKED", reason="expired", expired=True)
        lines += task("b", EMAIL, 20, 30, 40, terminal="TASK_FAILURE", exc_type="KeyError", exc_message="'x'",
                      expected=True)
        text, _ = draw(lines, bar_width=0)
        expected = (
            "2026-11-21T10:05:24.506658Z  trace 4bf92f3577b34da6a3ce929d0e0e4736\n"
            "a [5e1b3c1a]  REVOKED  0.010s  +0.000s  expired\n"
            "\n"
            "2026-11-21T10:05:24.526658Z  trace 4bf92f3577b34da6a3ce929d0e0e4736\n"
            "b [a7c2d4e6]  FAILURE  0.020s  +0.000s  KeyError: 'x', expected\n"
        )
        assert expected == text

    def test_unfinished_task_is_running(self):
        """A task with no terminal event is RUNNING? and its duration so far is marked with >."""
        text, _ = draw(task("orders.process", ORDER, 0, 10, None), bar_width=0)
        expected = (
            "2026-11-21T10:05:24.506658Z  trace 4bf92f3577b34da6a3ce929d0e0e4736\n"
            "orders.process [5e1b3c1a]  RUNNING?  >0.010s  +0.000s\n"
        )
        assert expected == text

    def test_queued_and_received_tasks_are_pending(self):
        """A task only published is PENDING?, one received but not started is RECEIVED?."""
        lines = task("orders.process", ORDER, 0, 10, 100)
        lines += [line("TASK_PUBLISH", 20, task_name="a", task_id="pub-1", parent_id=ORDER, retries=0)]
        lines += [line("TASK_PUBLISH", 30, task_name="b", task_id="rcv-1", parent_id=ORDER, retries=0),
                  line("TASK_RECEIVED", 40, task_name="b", task_id="rcv-1", parent_id=ORDER, retries=0)]
        text, _ = draw(lines, bar_width=0)
        expected = (
            "2026-11-21T10:05:24.506658Z  trace 4bf92f3577b34da6a3ce929d0e0e4736\n"
            "orders.process [5e1b3c1a]  SUCCESS     0.100s  +0.000s\n"
            "├── a [pub-1]              PENDING?   >0.000s  +0.020s\n"
            "└── b [rcv-1]              RECEIVED?  >0.010s  +0.030s\n"
        )
        assert expected == text

    def test_now_measures_unfinished_tasks(self):
        """With now, an unfinished task is measured up to now; finished ones keep their duration."""
        lines = task("orders.process", ORDER, 0, 10, None)
        now = T0.replace(tzinfo=datetime.timezone.utc) + datetime.timedelta(seconds=3)
        text, _ = draw(lines, now=now, bar_width=0)
        assert "orders.process [5e1b3c1a]  RUNNING?  >3.000s  +0.000s\n" == text.splitlines(True)[1]

    def test_each_terminal_event_names_its_state(self):
        """Every terminal task event maps to its state, shown on one task each."""
        terminals = ["TASK_END", "TASK_FAILURE", "TASK_IGNORED", "TASK_REJECTED", "TASK_RETRY", "TASK_REVOKED",
                     "TASK_UNKNOWN"]
        lines = []
        for index, terminal in enumerate(terminals):
            lines += task("t", "id-%d" % index, index * 10, index * 10 + 1, index * 10 + 2, terminal=terminal)
        text, stats = draw(lines, bar_width=0)
        assert ["SUCCESS", "FAILURE", "IGNORED", "REJECTED", "RETRY", "REVOKED", "UNKNOWN"] == [
            row.split()[2] for row in text.splitlines() if row.startswith("t [")]
        assert 7 == stats.trees

    def test_attempts_are_inferred_without_retries(self):
        """Without a retries number, a new start after a terminal event opens the next attempt."""
        common = dict(task_name="t", task_id=EMAIL)
        lines = [line("TASK_START", 0, **common), line("TASK_RETRY", 10, **common, countdown=0.5),
                 line("TASK_START", 600, **common), line("TASK_END", 610, **common)]
        text, _ = draw(lines, bar_width=0)
        expected = (
            "2026-11-21T10:05:24.506658Z  trace 4bf92f3577b34da6a3ce929d0e0e4736\n"
            "t [a7c2d4e6]   SUCCESS  0.610s  +0.000s  2 attempts\n"
            "├── attempt 1  RETRY    0.010s  +0.000s  countdown 0.5\n"
            "└── attempt 2  SUCCESS  0.010s  +0.600s\n"
        )
        assert expected == text

    def test_unknown_events_are_tolerated(self):
        """Events the viewer does not know stay on their task without changing it, and id-less ones are counted."""
        lines = task("orders.process", ORDER, 0, 10, 100)
        lines.insert(3, line("TASK_HEARTBEAT", 50, task_id=ORDER, beat=1))
        lines.append(line("STORAGE_CONNECT", 60, storage_name="redis"))
        text, stats = draw(lines, bar_width=0)
        assert "orders.process [5e1b3c1a]  SUCCESS  0.100s  +0.000s\n" == text.splitlines(True)[1]
        assert (6, 1) == (stats.events, stats.unattached)


class TestFlowState:
    def test_failed_flow_names_failed_nodes(self):
        """A failed flow is FAILURE with its failed nodes, even when its dispatcher task ends cleanly."""
        parent = dict(flow_name="f", dispatcher_id=FLOW)
        lines = [
            line("FLOW_START", 0, **parent),
            line("TASK_START", 10, task_name="x", task_id="x-1", parent_id=FLOW, **parent),
            line("TASK_FAILURE", 20, task_name="x", task_id="x-1", parent_id=FLOW, **parent,
                 what={"type": "KeyError", "message": "'sku'"}),
            line("NODE_FAILURE", 30, **parent, node_name="x", node_id="x-1"),
            line("FLOW_FAILURE", 40, **parent, will_retry=False),
            line("TASK_END", 50, task_name="flowtrace.dispatcher", task_id=FLOW, retries=3),
        ]
        text, _ = draw(lines, bar_width=0)
        expected = (
            "2026-11-21T10:05:24.506658Z  trace 4bf92f3577b34da6a3ce929d0e0e4736\n"
            "flow f [d0f1e2d3]  FAILURE  0.040s  +0.000s  failed: x\n"
            "└── x [x-1]        FAILURE  0.010s  +0.010s  KeyError: 'sku'\n"
        )
        assert expected == text

    def test_fallbacks_are_named_after_the_failed_nodes(self):
        """A flow whose failure a fallback handled ends SUCCESS, its note naming the failed node and the fallback."""
        parent = dict(flow_name="f", dispatcher_id=FLOW)
        failed = [{"name": "x", "id": "x-1"}]
        lines = [
            line("FLOW_START", 0, **parent),
            line("NODE_FAILURE", 10, **parent, node_name="x", node_id="x-1"),
            line("FALLBACK_START", 11, **parent, nodes=failed, fallback=["recover", "notify"]),
            line("NODE_FAILURE", 20, **parent, node_name="y", node_id="y-1"),
            line("FALLBACK_START", 21, **parent, nodes=[{"name": "y", "id": "y-1"}], fallback=True),
            line("FLOW_END", 30, **parent),
        ]
        text, _ = draw(lines, bar_width=0)
        assert "flow f [d0f1e2d3]  SUCCESS  0.030s  +0.000s  failed: x, y; fallback: recover, notify, none\n" == (
            text.splitlines(True)[1])

    def test_dispatcher_failure_fails_the_flow(self):
        """A flow whose dispatcher task failed before the flow ended is FAILURE."""
        lines = [line("FLOW_START", 0, flow_name="f", dispatcher_id=FLOW),
                 line("TASK_FAILURE", 10, task_name="flowtrace.dispatcher", task_id=FLOW, exc_type="RuntimeError",
                      exc_message="boom")]
        text, _ = draw(lines, bar_width=0)
        assert "flow f [d0f1e2d3]  FAILURE  0.010s  +0.000s\n" == text.splitlines(True)[1]
