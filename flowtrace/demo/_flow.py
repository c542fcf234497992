"""``flowtrace demo`` (``flowtrace demo flow``): a Selinon-style flow, traced through a real worker process.

The flow is ``ingest_batch`` of ``ingest.yml``, one of the demo apps shipped in
:data:`flowtrace.demo.APPS` (``examples/flow_demo`` of a checkout shows them): it lists
a batch of documents, starts one ``process_document`` sub-flow per document
(a ``foreach``), archives the originals (an edge whose condition is true),
does not page anyone (an edge whose condition is false), and sends the one
document whose text cannot be extracted to OCR (a ``failures`` fallback).

The demo runs in a fresh folder: Celery's embedded ``filesystem://`` broker
and ``file://`` result backend (:func:`flowtrace.celery.embedded.celery_config`),
the flows' filesystem storage and the JSON lines file of the events. It
starts ``celery worker`` (prefork pool, two processes) on
``ingest_app``, starts the flow from this process with
:func:`flowtrace.run_flow`, and waits until the flow's dispatcher and every
node it started have ended. Both processes append to the same events file,
from ``FLOW_SCHEDULE`` to the dispatcher's last ``TASK_END``.

It then stops the worker (see :mod:`flowtrace.demo._worker`) and prints the
events as JSON lines, the ``flowtrace view`` tree of the flow (its
dispatcher's events and tasks grouped under it, each sub-flow nested with its
own tasks) and a summary of what the dispatcher decided.
"""

from __future__ import annotations

import contextlib
import sys
import time
from pathlib import Path
from typing import IO, Dict, List, Tuple

from flowtrace.demo._worker import PROG, DemoFailed, DemoRun, Worker, load_module, print_report, running

#: The flow the demo starts.
FLOW_NAME = "ingest_batch"

#: Seconds to wait for the flow to end, then for the last events of its nodes and its result.
FLOW_TIMEOUT = 60.0
SETTLE_TIMEOUT = 10.0

_DISPATCHER_ENDS = ("TASK_END", "TASK_FAILURE", "TASK_REVOKED", "TASK_REJECTED", "TASK_UNKNOWN")
_NODE_ENDS = _DISPATCHER_ENDS + ("TASK_IGNORED",)
_ALWAYS = "alwaysTrue()"


class FlowDemo(DemoRun):
    """One run of the flow demo in ``folder``, with the demo apps in ``app_dir``.

    It holds the worker, the producer app and the events file.
    """

    APP_MODULE = "ingest_app"

    def __init__(self, folder: Path, app_dir: Path):
        # ingest_app's trace() writes events.jsonl in INGEST_DIR.
        super().__init__(folder, app_dir, folder / "events.jsonl", {"INGEST_DIR": str(folder)}, "INGEST_READY",
                         worker_class=Worker)
        self.dispatcher_id = ""  # the flow's, once run() has started it

    def run(self) -> None:
        """Start the worker, run the flow and wait for all of it to end, stop the worker.

        Raises:
            DemoFailed: when the worker does not start, or the flow does not end, or does not succeed.
        """
        started = time.monotonic()
        # load_flows imports the task module the YAML names, to check it as a
        # worker would: the example's folder is on the import path meanwhile.
        with _on_path(self.app_dir):
            module = load_module(self.app_dir / (self.APP_MODULE + ".py"), "flowtrace_flow_demo_app")
            app = module.make_app(str(self.folder))
        # This process is the producer, traced as the worker is: its
        # FLOW_SCHEDULE and TASK_PUBLISH go to the same file as the worker's events.
        sink = module.trace(app, str(self.events_path))
        with running(self.worker, app, sink):
            result = module.start(app)
            self.dispatcher_id = result.id
            self._wait_for_flow(result)
        self.elapsed = time.monotonic() - started

    def _wait_for_flow(self, result) -> None:
        flow_id = self.dispatcher_id
        self.worker.wait("flow %s (dispatcher %s) to end" % (FLOW_NAME, flow_id),
                         lambda: bool(self.events.find(_DISPATCHER_ENDS, task_id=flow_id)), FLOW_TIMEOUT,
                         lambda: "its dispatcher has %s" % (self.events.names(flow_id) or "no events"))
        # A node's result is stored before its last event is written, so the
        # dispatcher can end the flow a moment before a node's TASK_END is in.
        self.worker.wait("the last events of the flow's nodes", lambda: not self._unfinished(), SETTLE_TIMEOUT,
                         lambda: "unfinished: %s" % ", ".join(self._unfinished()))
        try:
            result.get(propagate=False, timeout=SETTLE_TIMEOUT, interval=0.05)
        except Exception as exc:
            raise DemoFailed("flow %s: no result in the result backend after %gs (%s: %s)"
                             % (FLOW_NAME, SETTLE_TIMEOUT, type(exc).__name__, exc)) from None
        if result.state != "SUCCESS":
            raise DemoFailed("flow %s ended in %s, expected SUCCESS: %s" % (FLOW_NAME, result.state, result.result))

    def _unfinished(self) -> List[str]:
        """``name [id]`` of every node of the flow and its sub-flows without a final event yet."""
        records = self.events.records()
        tasks, subflows = _nodes(records, self.dispatcher_id)
        ended = {record["details"].get("task_id") for record in records if record["event"] in _NODE_ENDS}
        return ["%s [%s]" % (name, node_id[:8]) for node_id, name in list(tasks.items()) + list(subflows.items())
                if node_id not in ended]

    # -- the report --

    def print_report(self, out: IO) -> None:
        """Write the JSON lines, a blank line, the flow's tree, a blank line and the summary on ``out``."""
        print_report(self.events, self.summary(), out)

    def summary(self) -> str:
        """The flow's outcome and size, then one indented line per decision of its dispatchers."""
        return "\n".join(summarize(self.events.records(), self.dispatcher_id, self.elapsed))


def summarize(records: List[dict], dispatcher_id: str, elapsed: float) -> List[str]:
    """The summary's lines for the flow of ``dispatcher_id`` in ``records``.

    The first line gives the flow's outcome, how long it took from
    ``FLOW_SCHEDULE`` to ``FLOW_END``, and how many events, flows and tasks
    the log holds; the others say what each ``foreach`` returned, which
    conditions held and which did not, which tasks failed and which fallbacks
    ran.
    """
    from flowtrace.view import parse_time, text

    tasks, subflows = _nodes(records, dispatcher_id)
    flows = {dispatcher_id}
    flows.update(subflows)
    names = {**tasks, **subflows, dispatcher_id: "?"}

    def label(node_id) -> str:
        return "%s [%s]" % (names.get(node_id, "?"), (node_id or "?")[:8])

    outcome, took = "unfinished", ""
    start = end = None
    for record in records:
        details = record["details"]
        if details.get("dispatcher_id") != dispatcher_id:
            continue
        if record["event"] == "FLOW_SCHEDULE":
            start = parse_time(record["time"])
            names[dispatcher_id] = text(details.get("flow_name"), "?")
        elif record["event"] in ("FLOW_END", "FLOW_FAILURE"):
            outcome = "SUCCESS" if record["event"] == "FLOW_END" else "FAILURE"
            end = parse_time(record["time"])
    if start is not None and end is not None:
        took = " in %.2fs" % ((end - start) / 1e6)
    lines = ["%s: flow %s %s%s: %d events, %d flows, %d tasks; the demo took %.1fs"
             % (PROG, names[dispatcher_id], outcome, took, len(records), len(flows), len(tasks), elapsed)]
    for record in records:
        details = record["details"]
        event = record["event"]
        if event == "TASK_FAILURE" and details.get("task_id") in tasks:
            lines.append("  failed: %s in %s: %s: %s" % (
                label(details["task_id"]), label(details.get("dispatcher_id")),
                text(details.get("exc_type")).rpartition(".")[2], text(details.get("exc_message"))))
        if details.get("dispatcher_id") not in flows:
            continue
        if event == "FOREACH_RESULT":
            items = details.get("result") or []
            lines.append("  foreach %s in %s: %d items, one %s each" % (
                text(details.get("foreach_str")), label(details["dispatcher_id"]), len(items),
                " and ".join(details.get("nodes_to") or [])))
        elif event in ("TASK_SCHEDULE", "SUBFLOW_SCHEDULE") and details.get("condition_str") not in (None, _ALWAYS):
            target = details.get("task_name") or details.get("child_flow_name")
            lines.append("  condition true:  %s -> %s: %s" % (
                ", ".join(details.get("parent") or {}) or "start", target, text(details["condition_str"])))
        elif event == "EDGE_COND_FALSE":
            lines.append("  condition false: %s -> %s: %s" % (
                ", ".join(details.get("nodes_from") or []) or "start", ", ".join(details.get("nodes_to") or []),
                text(details.get("condition_str"))))
        elif event == "FALLBACK_START":
            failed = ", ".join(label(node.get("id")) for node in details.get("nodes") or [])
            fallback = details.get("fallback")
            lines.append("  fallback: %s started for %s" % (
                "nothing (the failure is ignored)" if fallback is True else ", ".join(fallback or []), failed))
    return lines


def _nodes(records: List[dict], dispatcher_id: str) -> Tuple[Dict[str, str], Dict[str, str]]:
    """The tasks and sub-flows started under ``dispatcher_id``, at any depth: two ``{id: name}``, in schedule order."""
    subflows: Dict[str, str] = {}
    tasks: Dict[str, str] = {}
    for record in records:  # a sub-flow is scheduled before anything it schedules: one pass suffices
        details = record["details"]
        if details.get("dispatcher_id") != dispatcher_id and details.get("dispatcher_id") not in subflows:
            continue
        if record["event"] == "TASK_SCHEDULE":
            tasks[details["task_id"]] = details.get("task_name")
        elif record["event"] == "SUBFLOW_SCHEDULE":
            subflows[details["child_dispatcher_id"]] = details.get("child_flow_name")
    return tasks, subflows


@contextlib.contextmanager
def _on_path(folder: Path):
    entry = str(folder)
    sys.path.insert(0, entry)
    try:
        yield
    finally:
        try:
            sys.path.remove(entry)
        except ValueError:
            pass
