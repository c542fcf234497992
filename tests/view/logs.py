"""JSON trace lines for the tests of flowtrace/view/, and how the tests draw and run them."""

import argparse
import datetime
import io
import json
from pathlib import Path

from flowtrace import view

ROOT = Path(__file__).resolve().parent.parent.parent

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
