"""Tests for flowtrace/view.py: reading a JSON trace log and drawing its timeline trees."""

import argparse
import datetime
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from flowtrace import view

ROOT = Path(__file__).resolve().parent.parent

T0 = datetime.datetime(2026, 11, 21, 10, 5, 24, 506658)
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
OTHER_TRACE = "0af7651916cd43dd8448eb211c80319c"
ORDER = "5e1b3c1a-0d1f-4c55-9a43-2f6f7a1e0b01"
EMAIL = "a7c2d4e6-1b3f-4a5c-8e7d-9f0a1b2c3d02"
STOCK = "b8d3e5f7-2c4a-4b6d-9f8e-0a1b2c3d4e03"
FLOW = "d0f1e2d3-0000-4000-8000-00000000f100"
SUBFLOW = "e0f1e2d3-0000-4000-8000-00000000f200"
EVENT_IDS = {"FLOW_START": 1, "TASK_SCHEDULE": 2, "TASK_START": 3, "SUBFLOW_SCHEDULE": 4, "TASK_END": 5,
             "TASK_FAILURE": 8, "TASK_RETRY": 9, "FLOW_END": 15, "DISPATCHER_WAKEUP": 0, "FLOW_SCHEDULE": 50}


def line(event, at=0, *, trace_id=TRACE, **details):
    """Return one JSON trace line for ``event``, ``at`` milliseconds after T0."""
    moment = T0 + datetime.timedelta(milliseconds=at)
    return json.dumps({
        "event": event, "event_id": EVENT_IDS.get(event, 60), "time": moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "node": "worker-1", "pid": 4242, "trace_id": trace_id, "span_id": "00f067aa0ba902b7", "details": details,
    })


def task(name, task_id, queued, started, ended, *, terminal="TASK_END", retries=0, parent_id=None, trace_id=TRACE,
         **details):
    """Return the publish, receive, start and terminal lines of one attempt of a task; times in milliseconds."""
    common = dict(task_name=name, task_id=task_id, parent_id=parent_id, root_id=parent_id or task_id,
                  retries=retries, queue="celery", trace_id=trace_id)
    lines = [line("TASK_PUBLISH", queued, **common), line("TASK_RECEIVED", queued + 1, **common)]
    if started is not None:
        lines.append(line("TASK_START", started, queue_latency=(started - queued) / 1000, **common))
    if ended is not None:
        runtime = {} if started is None else {"runtime": (ended - started) / 1000}
        lines.append(line(terminal, ended, **runtime, **common, **details))
    return lines


def draw(lines, **options):
    """Render ``lines`` and return the text and the stats."""
    out = io.StringIO()
    stats = view.render(lines, out=out, **options)
    return out.getvalue(), stats


def run_view(argv):
    """Parse ``argv`` with the view's own arguments and run it; return the exit code."""
    parser = argparse.ArgumentParser(prog="flowtrace view")
    view.add_arguments(parser)
    return view.run(parser.parse_args(argv))


def order_with_children():
    """A parent task that sends an email task (retried once) and a stock task (failed)."""
    lines = task("orders.process", ORDER, 0, 10, 300)
    # Logged out of time order on purpose: children are drawn by start time.
    lines += task("orders.stock", STOCK, 100, 120, 520, parent_id=ORDER, terminal="TASK_FAILURE",
                  exc_type="ValueError", exc_message="out of stock: sku 42")
    lines += task("orders.email", EMAIL, 50, 60, 180, parent_id=ORDER, terminal="TASK_RETRY", countdown=2,
                  exc_type="SMTPError", exc_message="421 try later")
    lines += task("orders.email", EMAIL, 180, 2185, 2215, parent_id=ORDER, retries=1)
    return lines


def flow_with_subflow():
    """A flow whose dispatcher schedules one task and a subflow with one task of its own."""
    parent = dict(flow_name="order_flow", dispatcher_id=FLOW)
    child = dict(flow_name="shipping", dispatcher_id=SUBFLOW)
    return [
        line("FLOW_SCHEDULE", 0, **parent, queue="flows"),
        line("TASK_START", 5, task_name="flowtrace.dispatcher", task_id=FLOW, parent_id=None, retries=0),
        line("DISPATCHER_WAKEUP", 6, **parent),
        line("FLOW_START", 7, **parent),
        line("TASK_SCHEDULE", 8, **parent, task_name="fetch", task_id="fetch-1", parent={}),
        line("SUBFLOW_SCHEDULE", 9, **parent, child_flow_name="shipping", child_dispatcher_id=SUBFLOW),
        line("DISPATCHER_RETRY", 10, **parent, countdown=2),
        line("TASK_RETRY", 11, task_name="flowtrace.dispatcher", task_id=FLOW, retries=0),
        line("TASK_START", 20, task_name="fetch", task_id="fetch-1", parent_id=FLOW, **parent),
        line("TASK_END", 220, task_name="fetch", task_id="fetch-1", parent_id=FLOW, runtime=0.2, **parent),
        line("DISPATCHER_WAKEUP", 30, **child, parent_dispatcher_id=FLOW),
        line("FLOW_START", 31, **child, parent_dispatcher_id=FLOW),
        line("TASK_SCHEDULE", 32, **child, task_name="ship", task_id="ship-1", parent={"fetch": "fetch-1"}),
        line("TASK_START", 40, task_name="ship", task_id="ship-1", parent_id=SUBFLOW, **child),
        line("TASK_END", 640, task_name="ship", task_id="ship-1", parent_id=SUBFLOW, runtime=0.6, **child),
        line("FLOW_END", 650, **child),
        line("TASK_START", 2011, task_name="flowtrace.dispatcher", task_id=FLOW, parent_id=None, retries=1),
        line("DISPATCHER_WAKEUP", 2012, **parent),
        line("NODE_SUCCESSFUL", 2013, **parent, node_name="shipping", node_id=SUBFLOW),
        line("FLOW_END", 2014, **parent),
        line("TASK_END", 2015, task_name="flowtrace.dispatcher", task_id=FLOW, retries=1, runtime=0.004),
    ]


class TestRenderTasks:
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

    def test_children_nest_in_start_order(self):
        """Tasks sent by a task nest under it, ordered by start time whatever the order of the log."""
        text, stats = draw(order_with_children())
        expected = (
            "2026-11-21T10:05:24.506658Z  trace 4bf92f3577b34da6a3ce929d0e0e4736\n"
            "orders.process [5e1b3c1a]    SUCCESS  0.300s  +0.000s  [=====                         ]\n"
            "├── orders.email [a7c2d4e6]  SUCCESS  2.165s  +0.050s  [===..........................=]"
            "  2 attempts\n"
            "│   ├── attempt 1            RETRY    0.120s  +0.050s  [===                           ]"
            "  countdown 2, SMTPError: 421 try later\n"
            "│   └── attempt 2            SUCCESS  0.030s  +0.180s  [  ...........................=]\n"
            "└── orders.stock [b8d3e5f7]  FAILURE  0.420s  +0.100s  [ =======                      ]"
            "  ValueError: out of stock: sku 42\n"
        )
        assert expected == text
        assert (1, 3, 0) == (stats.trees, stats.tasks, stats.flows)

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

    def test_parent_missing_from_log_makes_a_root(self):
        """A task whose parent is not in the log is a root, noted as such."""
        text, _ = draw(task("orders.email", EMAIL, 0, 10, 20, parent_id=ORDER), bar_width=0)
        assert "orders.email [a7c2d4e6]  SUCCESS  0.020s  +0.000s  parent 5e1b3c1a not in log\n" == (
            text.splitlines(True)[1])

    def test_trees_are_ordered_and_separated(self):
        """Separate roots are drawn in start order, a blank line apart, each with its trace id."""
        lines = task("late", STOCK, 500, 510, 520, trace_id=OTHER_TRACE) + task("early", EMAIL, 0, 10, 20)
        text, stats = draw(lines, bar_width=0)
        expected = (
            "2026-11-21T10:05:24.506658Z  trace 4bf92f3577b34da6a3ce929d0e0e4736\n"
            "early [a7c2d4e6]  SUCCESS  0.020s  +0.000s\n"
            "\n"
            "2026-11-21T10:05:25.006658Z  trace 0af7651916cd43dd8448eb211c80319c\n"
            "late [b8d3e5f7]  SUCCESS  0.020s  +0.000s\n"
        )
        assert expected == text
        assert 2 == stats.trees

    def test_tree_with_two_trace_ids_lists_both(self):
        """A tree whose events carry different trace ids (lost propagation) names them all, earliest first."""
        lines = task("orders.process", ORDER, 0, 10, 100)
        lines += task("orders.email", EMAIL, 20, 30, 40, parent_id=ORDER, trace_id=OTHER_TRACE)
        text, _ = draw(lines, bar_width=0)
        assert ("2026-11-21T10:05:24.506658Z  2 trace ids: 4bf92f3577b34da6a3ce929d0e0e4736, "
                "0af7651916cd43dd8448eb211c80319c\n") == text.splitlines(True)[0]

    def test_many_trace_ids_are_capped(self):
        """A header lists at most four trace ids and counts the rest."""
        lines = task("orders.process", ORDER, 0, 10, 100)
        for index in range(6):
            lines += [line("TASK_START", 20 + index, task_name="c", task_id="c%d" % index, parent_id=ORDER,
                           trace_id="%032x" % (index + 1))]
        text, _ = draw(lines, bar_width=0)
        assert ("2026-11-21T10:05:24.506658Z  7 trace ids: 4bf92f3577b34da6a3ce929d0e0e4736, "
                "00000000000000000000000000000001, 00000000000000000000000000000002, "
                "00000000000000000000000000000003 and 3 more\n") == text.splitlines(True)[0]

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

    def test_parent_cycle_does_not_loop(self):
        """Tasks naming each other as parents are each drawn once, under the earliest of them."""
        lines = [line("TASK_START", 0, task_name="a", task_id="a", parent_id="b"),
                 line("TASK_START", 10, task_name="b", task_id="b", parent_id="a")]
        text, stats = draw(lines, bar_width=0)
        expected = (
            "2026-11-21T10:05:24.506658Z  trace 4bf92f3577b34da6a3ce929d0e0e4736\n"
            "a [a]      RUNNING?  >0.000s  +0.000s\n"
            "└── b [b]  RUNNING?  >0.000s  +0.010s\n"
        )
        assert expected == text
        assert (1, 2) == (stats.trees, stats.tasks)

    def test_long_chain_is_drawn_without_recursion(self):
        """A chain of 3000 tasks is drawn with its indentation capped, each task once."""
        lines = [line("TASK_START", index, task_name="step", task_id="c%d" % index,
                      parent_id="c%d" % (index - 1) if index else None) for index in range(3000)]
        text, stats = draw(lines, bar_width=0)
        rows = text.splitlines()
        assert (1, 3000, 3001) == (stats.trees, stats.tasks, len(rows))
        assert rows[-1].lstrip().startswith("[depth 2999] step [c2999]")

    def test_log_text_cannot_inject_terminal_codes(self):
        """Control characters in names and messages are shown escaped, never sent to the terminal."""
        text, _ = draw(task("evil\x1b[2J\nname", ORDER, 0, 10, 20, terminal="TASK_FAILURE", exc_type="E",
                            exc_message="line1\nline2\u202e"), bar_width=0)
        assert "evil\\x1b[2J\\nname [5e1b3c1a]  FAILURE  0.020s  +0.000s  E: line1\\nline2\\u202e\n" == (
            text.splitlines(True)[1])


class TestRenderFlows:
    def test_flow_groups_dispatcher_tasks_and_subflow(self):
        """A flow holds its dispatcher's events and its tasks, and its subflow is drawn nested with its own task."""
        text, stats = draw(flow_with_subflow())
        expected = (
            "2026-11-21T10:05:24.506658Z  trace 4bf92f3577b34da6a3ce929d0e0e4736\n"
            "flow order_flow [d0f1e2d3]    SUCCESS  2.014s  +0.000s  [==============================]"
            "  2 wakeups\n"
            "├── fetch [fetch-1]           SUCCESS  0.212s  +0.008s  [====                          ]\n"
            "└── flow shipping [e0f1e2d3]  SUCCESS  0.641s  +0.009s  [==========                    ]"
            "  1 wakeup\n"
            "    └── ship [ship-1]         SUCCESS  0.608s  +0.032s  [==========                    ]\n"
        )
        assert expected == text
        assert view.ViewStats(lines=21, events=21, invalid=0, first_invalid=None, trees=1, tasks=2, flows=2,
                              unattached=0) == stats

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

    def test_tasks_group_by_dispatcher_id_without_flow_events(self):
        """Tasks of one dispatcher are grouped under a flow named by their flow_name when its own events are missing."""
        member = dict(flow_name="orphans", dispatcher_id=FLOW)
        lines = [line("TASK_START", 10, task_name="a", task_id="a-1", **member),
                 line("TASK_END", 20, task_name="a", task_id="a-1", **member),
                 line("TASK_START", 5, task_name="b", task_id="b-1", **member)]
        text, stats = draw(lines, bar_width=0)
        expected = (
            "2026-11-21T10:05:24.511658Z  trace 4bf92f3577b34da6a3ce929d0e0e4736\n"
            "flow orphans [d0f1e2d3]  ?         >0.015s  +0.000s\n"
            "├── b [b-1]              RUNNING?  >0.000s  +0.000s\n"
            "└── a [a-1]              SUCCESS    0.010s  +0.005s\n"
        )
        assert expected == text
        assert (1, 2, 1) == (stats.trees, stats.tasks, stats.flows)

    def test_subflow_found_by_subflow_schedule_alone(self):
        """A child dispatcher named only by SUBFLOW_SCHEDULE's child_dispatcher_id nests under its parent."""
        lines = [
            line("FLOW_START", 0, flow_name="p", dispatcher_id=FLOW),
            line("SUBFLOW_SCHEDULE", 10, flow_name="p", dispatcher_id=FLOW, child_flow_name="c",
                 child_dispatcher_id=SUBFLOW),
            line("FLOW_START", 20, flow_name="c", dispatcher_id=SUBFLOW),
            line("FLOW_END", 30, flow_name="c", dispatcher_id=SUBFLOW),
            line("FLOW_END", 40, flow_name="p", dispatcher_id=FLOW),
        ]
        text, _ = draw(lines, bar_width=0)
        expected = (
            "2026-11-21T10:05:24.506658Z  trace 4bf92f3577b34da6a3ce929d0e0e4736\n"
            "flow p [d0f1e2d3]      SUCCESS  0.040s  +0.000s\n"
            "└── flow c [e0f1e2d3]  SUCCESS  0.020s  +0.010s\n"
        )
        assert expected == text

    def test_flow_started_by_a_task_nests_under_it(self):
        """A flow whose dispatcher task was sent by a task is drawn under that task."""
        lines = task("orders.process", ORDER, 0, 10, 100)
        lines += [
            line("TASK_START", 20, task_name="flowtrace.dispatcher", task_id=FLOW, parent_id=ORDER, retries=0),
            line("FLOW_START", 21, flow_name="f", dispatcher_id=FLOW),
            line("FLOW_END", 30, flow_name="f", dispatcher_id=FLOW),
        ]
        text, _ = draw(lines, bar_width=0)
        expected = (
            "2026-11-21T10:05:24.506658Z  trace 4bf92f3577b34da6a3ce929d0e0e4736\n"
            "orders.process [5e1b3c1a]  SUCCESS  0.100s  +0.000s\n"
            "└── flow f [d0f1e2d3]      SUCCESS  0.010s  +0.020s\n"
        )
        assert expected == text

    def test_dispatcher_failure_fails_the_flow(self):
        """A flow whose dispatcher task failed before the flow ended is FAILURE."""
        lines = [line("FLOW_START", 0, flow_name="f", dispatcher_id=FLOW),
                 line("TASK_FAILURE", 10, task_name="flowtrace.dispatcher", task_id=FLOW, exc_type="RuntimeError",
                      exc_message="boom")]
        text, _ = draw(lines, bar_width=0)
        assert "flow f [d0f1e2d3]  FAILURE  0.010s  +0.000s\n" == text.splitlines(True)[1]


class TestRenderInvalidLines:
    def test_garbage_is_counted_and_the_rest_drawn(self):
        """Non-JSON, truncated JSON, arrays, wrong types and a 1 MB line are counted; valid events are drawn."""
        good = task("orders.process", ORDER, 0, 10, 130)
        record = json.loads(good[0])
        wrong = []
        for key, value in (("event_id", "3"), ("event_id", True), ("time", "yesterday"), ("time", 17),
                           ("details", []), ("trace_id", 12), ("event", ""), ("pid", "4242"),
                           ("time", "2026-13-01T00:00:00Z")):
            wrong.append(json.dumps(dict(record, **{key: value})))
        missing = dict(record)
        del missing["span_id"]
        garbage = [
            "[2026-11-21 10:05:24,000: INFO/MainProcess] Task orders.process received",
            good[0][:40],
            "[1, 2, 3]",
            '"just a string"',
            "null",
            json.dumps(missing),
            "x" * (1024 * 1024),
            "[" * 100000,
        ] + wrong
        lines = [good[0], ""] + garbage + good[1:]
        text, stats = draw(lines)
        expected = (
            "2026-11-21T10:05:24.506658Z  trace 4bf92f3577b34da6a3ce929d0e0e4736\n"
            "orders.process [5e1b3c1a]  SUCCESS  0.130s  +0.000s  [..============================]\n"
        )
        assert expected == text
        assert view.ViewStats(lines=22, events=4, invalid=17, first_invalid=3, trees=1, tasks=1, flows=0,
                              unattached=0) == stats

    def test_bytes_lines_must_be_utf8(self):
        """A bytes line that is not UTF-8 is invalid; a UTF-8 one with a byte order mark is read."""
        good = [item.encode() for item in task("orders.process", ORDER, 0, 10, 130)]
        lines = [b"\xef\xbb\xbf" + good[0], good[1].replace(b"celery", b"\xff\xfe"), good[2], good[3]]
        text, stats = draw(lines, bar_width=0)
        assert "orders.process [5e1b3c1a]  SUCCESS  0.130s  +0.000s\n" == text.splitlines(True)[1]
        assert (3, 1, 2) == (stats.events, stats.invalid, stats.first_invalid)

    def test_time_offsets_are_normalised_to_utc(self):
        """Times with a UTC offset or without Z are read as the same instants."""
        lines = task("orders.process", ORDER, 0, 10, 130)
        record = json.loads(lines[3])
        record["time"] = "2026-11-21T11:05:24.636658+01:00"
        lines[3] = json.dumps(record)
        text, _ = draw(lines, bar_width=0)
        assert "orders.process [5e1b3c1a]  SUCCESS  0.130s  +0.000s\n" == text.splitlines(True)[1]

    def test_empty_input_draws_nothing(self):
        """No lines at all give no output and zero counts."""
        assert ("", view.ViewStats(0, 0, 0, None, 0, 0, 0, 0)) == draw([])


class TestRenderOptions:
    def test_trace_filter_keeps_matching_trees(self):
        """--trace keeps only the trees with an event of that trace id, matched by prefix."""
        lines = task("a", ORDER, 0, 10, 20) + task("b", EMAIL, 30, 40, 50, trace_id=OTHER_TRACE)
        text, stats = draw(lines, trace="0AF765", bar_width=0)
        assert ["b [a7c2d4e6]  SUCCESS  0.020s  +0.000s"] == text.splitlines()[1:]
        assert 1 == stats.trees

    def test_root_filter_draws_a_subtree(self):
        """--root draws the subtree of the node with that id, its offsets counted from its own start."""
        text, _ = draw(order_with_children(), root="b8d3", bar_width=0)
        expected = (
            "2026-11-21T10:05:24.606658Z  trace 4bf92f3577b34da6a3ce929d0e0e4736\n"
            "orders.stock [b8d3e5f7]  FAILURE  0.420s  +0.000s  ValueError: out of stock: sku 42\n"
        )
        assert expected == text

    def test_color_paints_states_and_ids(self):
        """With color, the state is coloured by outcome and the id and offset are dimmed."""
        text, _ = draw(task("t", ORDER, 0, 10, 20, terminal="TASK_FAILURE", exc_type="E", exc_message="m"),
                       color=True, bar_width=0)
        expected = (
            "\x1b[1m2026-11-21T10:05:24.506658Z  trace 4bf92f3577b34da6a3ce929d0e0e4736\x1b[0m\n"
            "t \x1b[2m[5e1b3c1a]\x1b[0m  \x1b[31mFAILURE\x1b[0m  0.020s  \x1b[2m+0.000s\x1b[0m"
            "  \x1b[31mE: m\x1b[0m\n"
        )
        assert expected == text

    def test_ascii_tree(self):
        """ascii_only draws the branches with ASCII characters."""
        text, _ = draw(order_with_children(), ascii_only=True, bar_width=0)
        assert ["orders.process", "|--", "|", "|", "`--"] == [row.split()[0] for row in text.splitlines()[1:]]

    def test_narrow_encoding_falls_back_to_ascii(self):
        """On a stream that cannot encode box drawing, the tree is ASCII and other characters are escaped."""
        raw = io.BytesIO()
        out = io.TextIOWrapper(raw, encoding="ascii")
        lines = task("envoi.é", ORDER, 0, 10, 100) + task("b", EMAIL, 20, 30, 40, parent_id=ORDER)
        view.render(lines, out=out, bar_width=0)
        out.flush()
        assert (b"2026-11-21T10:05:24.506658Z  trace 4bf92f3577b34da6a3ce929d0e0e4736\n"
                b"envoi.\\xe9 [5e1b3c1a]  SUCCESS  0.100s  +0.000s\n"
                b"`-- b [a7c2d4e6]       SUCCESS  0.020s  +0.020s\n") == raw.getvalue()

    def test_now_must_be_a_time(self):
        """A now that is not a time is a ValueError naming it."""
        with pytest.raises(ValueError, match="'soon'"):
            draw([], now="soon")


class TestReadLines:
    def test_splits_on_newline_only(self):
        """Lines end at \\n only, so a U+2028 or \\r inside a line does not split it."""
        stream = io.BytesIO("a\u2028b\rc\nd\n\ne".encode())
        assert ["a\u2028b\rc\n".encode(), b"d\n", b"\n", b"e"] == list(view.read_lines(stream))

    def test_over_long_line_is_none(self):
        """A line longer than max_line is yielded as None and the next line is read whole."""
        stream = io.BytesIO(b"short\n" + b"y" * 50 + b"\nafter\n" + b"z" * 11)
        assert [b"short\n", None, b"after\n", None] == list(view.read_lines(stream, max_line=10))

    def test_text_stream(self):
        """A text stream yields str lines."""
        assert ["one\n", "two"] == list(view.read_lines(io.StringIO("one\ntwo")))


class TestRun:
    def test_reads_a_file(self, tmp_path, capsys):
        """run draws the trees of a log file on stdout and exits 0 with nothing on stderr."""
        log = tmp_path / "trace.jsonl"
        log.write_text("\n".join(task("orders.process", ORDER, 0, 10, 130)) + "\n")
        assert 0 == run_view([str(log), "--bar-width", "0"])
        assert ("2026-11-21T10:05:24.506658Z  trace 4bf92f3577b34da6a3ce929d0e0e4736\n"
                "orders.process [5e1b3c1a]  SUCCESS  0.130s  +0.000s\n", "") == capsys.readouterr()

    def test_binary_garbage_is_skipped_and_reported(self, tmp_path, capsys):
        """Non-UTF-8 bytes, worker log text and a 1 MB line are skipped and counted on stderr; the exit is 0."""
        good = [item.encode() for item in task("orders.process", ORDER, 0, 10, 130)]
        log = tmp_path / "trace.jsonl"
        log.write_bytes(b"\n".join([good[0], b"\xff\xfe\x00garbage", b"worker: ready", good[1], b"{" * 1048576,
                                    good[2], b'{"event": "TASK_END", "event_id": 5, "time": "2026-11-21T10:05:2',
                                    good[3]]) + b"\n")
        assert 0 == run_view([str(log), "--bar-width", "0", "--no-color"])
        out, err = capsys.readouterr()
        assert "orders.process [5e1b3c1a]  SUCCESS  0.130s  +0.000s\n" == out.splitlines(True)[1]
        assert "flowtrace view: skipped 4 invalid lines (first at line 2)\n" == err

    def test_reads_stdin(self, monkeypatch, capsys):
        """Without LOG, or with -, the log is read from standard input."""
        data = ("\n".join(task("orders.process", ORDER, 0, 10, 130)) + "\n").encode()
        for argv in ([], ["-"]):
            monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data)))
            assert 0 == run_view(argv + ["--bar-width", "0"])
            assert ("2026-11-21T10:05:24.506658Z  trace 4bf92f3577b34da6a3ce929d0e0e4736\n"
                    "orders.process [5e1b3c1a]  SUCCESS  0.130s  +0.000s\n", "") == capsys.readouterr()

    def test_terminal_stdin_gets_a_hint(self, monkeypatch, capsys):
        """Reading from a terminal says so on stderr, so that a forgotten LOG does not look like a hang."""
        monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"")))
        monkeypatch.setattr("sys.stdin.isatty", lambda: True)
        assert 0 == run_view([])
        assert ("", "flowtrace view: reading the log from standard input; end it with Ctrl-D\n"
                    "flowtrace view: no trace events in standard input\n") == capsys.readouterr()

    def test_empty_input_says_so(self, tmp_path, capsys):
        """An empty log prints a clear message on stderr, nothing on stdout, and exits 0."""
        log = tmp_path / "empty.jsonl"
        log.write_bytes(b"")
        assert 0 == run_view([str(log)])
        assert ("", "flowtrace view: no trace events in %s\n" % log) == capsys.readouterr()

    def test_only_garbage_says_both(self, tmp_path, capsys):
        """A log with no valid line reports the skipped lines and that there are no events."""
        log = tmp_path / "worker.log"
        log.write_text("starting worker\nready\n")
        assert 0 == run_view([str(log)])
        assert ("", "flowtrace view: skipped 2 invalid lines (first at line 1)\n"
                    "flowtrace view: no trace events in %s\n" % log) == capsys.readouterr()

    def test_events_without_ids_say_so(self, tmp_path, capsys):
        """A log whose events name no task and no dispatcher says that nothing could be drawn."""
        log = tmp_path / "trace.jsonl"
        log.write_text(line("STORAGE_CONNECT", 0, storage_name="redis") + "\n")
        assert 0 == run_view([str(log)])
        assert ("", "flowtrace view: no event in %s names a task or a flow\n" % log) == capsys.readouterr()

    def test_missing_file_is_an_error(self, tmp_path, capsys):
        """A missing LOG is one error line on stderr, no traceback, and exit code 1."""
        missing = tmp_path / "nope.jsonl"
        assert 1 == run_view([str(missing)])
        assert ("", "flowtrace view: error: cannot read %s: No such file or directory\n" % missing) == (
            capsys.readouterr())

    def test_directory_is_an_error(self, tmp_path, capsys):
        """A directory given as LOG is an error with exit code 1."""
        assert 1 == run_view([str(tmp_path)])
        assert ("", "flowtrace view: error: cannot read %s: Is a directory\n" % tmp_path) == capsys.readouterr()

    def test_filter_matching_nothing_says_so(self, tmp_path, capsys):
        """A --trace that matches no tree is reported on stderr with exit code 0."""
        log = tmp_path / "trace.jsonl"
        log.write_text("\n".join(task("orders.process", ORDER, 0, 10, 130)) + "\n")
        assert 0 == run_view([str(log), "--trace", "ffff"])
        assert ("", "flowtrace view: no tree matches --trace ffff\n") == capsys.readouterr()

    def test_bad_now_is_an_error(self, tmp_path, capsys):
        """A --now that is not an ISO-8601 time is an error with exit code 1."""
        log = tmp_path / "trace.jsonl"
        log.write_text("")
        assert 1 == run_view([str(log), "--now", "later"])
        assert ("", "flowtrace view: error: --now must be 'now' or an ISO-8601 time such as "
                    "2026-11-21T10:05:24Z, got 'later'\n") == capsys.readouterr()

    def test_now_option(self, tmp_path, capsys):
        """--now TIME measures an unfinished task up to TIME."""
        log = tmp_path / "trace.jsonl"
        log.write_text("\n".join(task("t", ORDER, 0, 10, None)) + "\n")
        assert 0 == run_view(["--now", "2026-11-21T10:05:26.506658Z", str(log), "--bar-width", "0"])
        assert "t [5e1b3c1a]  RUNNING?  >2.000s  +0.000s\n" == capsys.readouterr().out.splitlines(True)[1]

    def test_color_option(self, tmp_path, capsys):
        """--color forces colour, even before LOG; by default there is none when stdout is not a terminal."""
        log = tmp_path / "trace.jsonl"
        log.write_text("\n".join(task("t", ORDER, 0, 10, 20)) + "\n")
        run_view([str(log), "--bar-width", "0"])
        plain = capsys.readouterr().out
        run_view(["--color", str(log), "--bar-width", "0"])
        painted = capsys.readouterr().out
        assert "t [5e1b3c1a]  SUCCESS  0.020s  +0.000s\n" == plain.splitlines(True)[1]
        assert "t \x1b[2m[5e1b3c1a]\x1b[0m  \x1b[32mSUCCESS\x1b[0m  0.020s  \x1b[2m+0.000s\x1b[0m\n" == (
            painted.splitlines(True)[1])

    def test_no_color_environment_wins_over_a_terminal(self, tmp_path, monkeypatch, capsys):
        """On a terminal colour is on by default, and NO_COLOR or --no-color turn it off."""
        log = tmp_path / "trace.jsonl"
        log.write_text("\n".join(task("t", ORDER, 0, 10, 20)) + "\n")
        monkeypatch.delenv("NO_COLOR", raising=False)
        monkeypatch.setenv("TERM", "xterm")
        monkeypatch.setattr("sys.stdout.isatty", lambda: True)
        run_view([str(log), "--bar-width", "0"])
        on_terminal = capsys.readouterr().out.splitlines(True)[1]
        monkeypatch.setenv("NO_COLOR", "1")
        run_view([str(log), "--bar-width", "0"])
        no_color = capsys.readouterr().out.splitlines(True)[1]
        run_view([str(log), "--bar-width", "0", "--no-color"])
        assert (["t \x1b[2m[5e1b3c1a]\x1b[0m  \x1b[32mSUCCESS\x1b[0m  0.020s  \x1b[2m+0.000s\x1b[0m\n"]
                + ["t [5e1b3c1a]  SUCCESS  0.020s  +0.000s\n"] * 2) == [
            on_terminal, no_color, capsys.readouterr().out.splitlines(True)[1]]


# --- a real flow's log ----------------------------------------------------------


def tree_rows(text):
    """``(depth, name, short id, state, note)`` for each row of ASCII trees drawn without a bar."""
    rows = []
    for row in text.splitlines():
        match = re.match(r"((?:[|`]-- |\|   |    )*)(.+?) \[(\w+)\]  +(\S+)  +\S+  +\S+(?:  (.*))?$", row)
        if match:
            prefix, name, short, state, note = match.groups()
            rows.append((len(prefix) // 4, name, short, state, re.sub(r"^\d+ wakeups?", "<n> wakeups", note or "")))
    return rows


@pytest.fixture(scope="module")
def flow_log(tmp_path_factory):
    """The JSON lines of the ingest_batch flow of examples/flow_demo, written by a real prefork worker and its producer.

    ``flowtrace demo --keep DIR`` runs the flow, with a ``celery worker``
    subprocess on the embedded broker, and leaves its ``events.jsonl`` in DIR.
    """
    folder = tmp_path_factory.mktemp("flow-log") / "run"
    proc = subprocess.run([sys.executable, "-m", "flowtrace", "demo", "--keep", str(folder)], capture_output=True,
                          text=True, timeout=240, cwd=str(ROOT), env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert 0 == proc.returncode, proc.stderr
    return (folder / "events.jsonl").read_text(encoding="utf-8").splitlines()


def expected_flow_tree(lines):
    """The tree the flow's log must draw: the flow, its tasks and its three sub-flows, each with its own tasks."""
    records = [json.loads(text) for text in lines]
    root = [r["details"]["dispatcher_id"] for r in records if r["event"] == "FLOW_SCHEDULE"][0]
    scheduled = {}  # dispatcher id -> the ids of the nodes it scheduled, in order
    for record in records:
        details = record["details"]
        if record["event"] in ("TASK_SCHEDULE", "SUBFLOW_SCHEDULE"):
            node_id = details.get("task_id") or details["child_dispatcher_id"]
            scheduled.setdefault(details["dispatcher_id"], []).append(node_id)
    listed, first, second, third, archive, ocr = scheduled[root]
    (extract_1, index_1), (extract_2, index_2), (extract_3,) = scheduled[first], scheduled[second], scheduled[third]
    return [
        (0, "flow ingest_batch", root[:8], "SUCCESS", "<n> wakeups; failed: process_document; fallback: QueueForOcr"),
        (1, "ListInbox", listed[:8], "SUCCESS", ""),
        (1, "flow process_document", first[:8], "SUCCESS", "<n> wakeups"),
        (2, "ExtractText", extract_1[:8], "SUCCESS", ""),
        (2, "IndexDocument", index_1[:8], "SUCCESS", ""),
        (1, "flow process_document", second[:8], "SUCCESS", "<n> wakeups"),
        (2, "ExtractText", extract_2[:8], "SUCCESS", ""),
        (2, "IndexDocument", index_2[:8], "SUCCESS", ""),
        (1, "flow process_document", third[:8], "FAILURE", "<n> wakeups; failed: ExtractText"),
        (2, "ExtractText", extract_3[:8], "FAILURE",
         "flowtrace.errors.FatalTaskError: receipt-913.jpg has no text layer"),
        (1, "ArchiveOriginals", archive[:8], "SUCCESS", ""),
        (1, "QueueForOcr", ocr[:8], "SUCCESS", ""),
    ]


@pytest.mark.integration
class TestRealFlowLog:
    """The log of a real flow with a foreach, sub-flows and a fallback, run by a real worker, drawn as one tree."""

    def test_flow_groups_its_tasks_and_nests_its_subflows(self, flow_log):
        """The flow's dispatcher events and tasks form one node, and each sub-flow nests under it with its tasks."""
        text, stats = draw(flow_log, bar_width=0, ascii_only=True)
        # A pool process connecting to the storage belongs to no task: those are the only events left out.
        loose = [record["event"] for record in map(json.loads, flow_log)
                 if not {"task_id", "dispatcher_id", "child_dispatcher_id"} & set(record["details"])]
        assert (expected_flow_tree(flow_log), 1, 8, 4, 0, {"STORAGE_CONNECT"}, len(loose)) == (
            tree_rows(text), stats.trees, stats.tasks, stats.flows, stats.invalid, set(loose), stats.unattached)

    def test_tree_is_the_same_from_the_workers_events_alone(self, flow_log):
        """Without the producer's events (FLOW_SCHEDULE, the first TASK_PUBLISH), the tree has the same shape."""
        producer = json.loads(flow_log[0])["pid"]
        worker_only = [text for text in flow_log if json.loads(text)["pid"] != producer]
        text, _ = draw(worker_only, bar_width=0, ascii_only=True)
        assert (2, expected_flow_tree(flow_log)) == (len(flow_log) - len(worker_only), tree_rows(text))

    def test_subflows_nest_by_their_dispatchers_parent_without_subflow_schedule(self, flow_log):
        """A sub-flow whose SUBFLOW_SCHEDULE is missing still nests under the flow whose dispatcher sent it."""
        kept = [text for text in flow_log if json.loads(text)["event"] != "SUBFLOW_SCHEDULE"]
        text, _ = draw(kept, bar_width=0, ascii_only=True)
        assert (3, expected_flow_tree(flow_log)) == (len(flow_log) - len(kept), tree_rows(text))

    def test_line_order_does_not_matter(self, flow_log):
        """The same lines in reverse order draw the same text: processes append in any order."""
        assert draw(flow_log, bar_width=0) == draw(list(reversed(flow_log)), bar_width=0)
