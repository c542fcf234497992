"""Tests for flowtrace/view/_tree.py: events grouped into task and flow nodes, linked into trees."""

import json
import os
import re
import subprocess
import sys

import pytest

from flowtrace import view
from tests.view.logs import (EMAIL, FLOW, ORDER, OTHER_TRACE, ROOT, STOCK, SUBFLOW, draw, flow_with_subflow, line,
                             order_with_children, task)


class TestTaskTrees:
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


class TestFlowTrees:
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


class TestSelect:
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
