"""Dispatcher reaction latency: how soon after a node ends its dispatcher wakes, with and without nudges.

Run ``python bench/flow_latency.py``. For each broker (the embedded
``filesystem://`` one, and Redis and RabbitMQ when they answer), and for
each mode, it starts a real ``celery worker`` (prefork, 2 processes), runs
chains of no-op flow tasks (``bench/flows/latency.yml``) one flow at a
time, and reads the trace:

- ``nudge``: flowtrace as shipped: a node that ends nudges its dispatcher
  (a ``flowtrace_wakeup`` broadcast), and the countdown (2 s, doubling to
  60 s) is only the safety net;
- ``countdown``: nudges off, the dispatcher wakes on its countdown alone,
  2 s doubling to 120 s: Selinon's default strategy, the peer.

For every node it measures the *reaction latency*: from the node's
``TASK_END`` to the ``DISPATCHER_WAKEUP`` that saw it end (the wake-up just
before its ``NODE_SUCCESSFUL``), and the *hand-off*: from a node's
``TASK_END`` to the next node's ``TASK_START``. It prints the median, 90th
percentile and maximum of each, per broker and mode, the ratio of the
medians (countdown / nudge) and each mode's mean flow time. Speed is
measured, never asserted: the exit status is 0 whatever the figures, 1 when
a worker or flow failed.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from urllib.parse import urlparse

_BENCH = os.path.dirname(os.path.abspath(__file__))
_ROOT = os.path.dirname(_BENCH)
for _path in (_ROOT, _BENCH):
    if _path not in sys.path:
        sys.path.insert(0, _path)

import flowtrace  # noqa: E402
from flowtrace import Trace  # noqa: E402

import _flow_app  # noqa: E402
from _procs import stop_group  # noqa: E402

MODES = ("nudge", "countdown")
DEFAULT_BROKERS = ("filesystem://", "redis://127.0.0.1:6379/5", "amqp://guest:guest@127.0.0.1:5672//")


class BenchError(Exception):
    """A worker or flow that did not do its job: no figure can be given."""


def reachable(url: str) -> bool:
    parsed = urlparse(url)
    if parsed.scheme == "filesystem":
        return True
    port = parsed.port or {"redis": 6379, "amqp": 5672, "pyamqp": 5672}.get(parsed.scheme)
    try:
        socket.create_connection((parsed.hostname or "127.0.0.1", port), timeout=2).close()
        return True
    except OSError:
        return False


def _time(record) -> float:
    return datetime.datetime.strptime(record["time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def measure(records, dispatcher_ids):
    """Reaction latencies and hand-offs, in seconds, of the flows run by ``dispatcher_ids``."""
    reactions, handoffs = [], []
    ids = set(dispatcher_ids)
    ended = {}  # node id -> TASK_END time
    last_wakeup = {}  # dispatcher id -> time of its latest DISPATCHER_WAKEUP
    previous_end = {}  # dispatcher id -> TASK_END time of the node that ended last
    for record in records:
        details, event = record["details"], record["event"]
        flow_id = details.get("dispatcher_id")
        if flow_id not in ids:
            continue
        if event == "TASK_END" and details.get("task_id") != flow_id:
            ended[details["task_id"]] = _time(record)
            previous_end[flow_id] = _time(record)
        elif event == "TASK_START" and details.get("task_id") != flow_id and flow_id in previous_end:
            handoffs.append(_time(record) - previous_end.pop(flow_id))
        elif event == "DISPATCHER_WAKEUP":
            last_wakeup[flow_id] = _time(record)
        elif event == "NODE_SUCCESSFUL":
            end = ended.get(details["node_id"])
            if end is not None and flow_id in last_wakeup:
                reactions.append(last_wakeup[flow_id] - end)
    return reactions, handoffs


def summary(values):
    if not values:
        return {"n": 0}
    ordered = sorted(values)
    return {"n": len(values), "median_ms": statistics.median(ordered) * 1000,
            "p90_ms": ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))] * 1000, "max_ms": ordered[-1] * 1000}


def run_mode(broker, mode, flows, flow_name, timeout):
    """One worker for ``mode`` on ``broker``; returns the figures of ``flows`` flows of ``flow_name``."""
    queue = "ftlat-%s-%s" % (mode, uuid.uuid4().hex[:10])
    run_dir = tempfile.mkdtemp(prefix=queue + "-")
    events = os.path.join(run_dir, "events.jsonl")
    env = dict(os.environ, FLOWTRACE_BENCH_BROKER=broker, FLOWTRACE_BENCH_DIR=run_dir, FLOWTRACE_BENCH_QUEUE=queue,
               FLOWTRACE_BENCH_MODE=mode, FLOWTRACE_BENCH_EVENTS=events,
               PYTHONPATH=os.pathsep.join(filter(None, (_BENCH, _ROOT, os.environ.get("PYTHONPATH")))))
    log_path = os.path.join(run_dir, "worker.log")
    cmd = [sys.executable, "-m", "celery", "-A", "_flow_app", "worker", "--pool=prefork", "--concurrency=2",
           "--loglevel=INFO", "-n", "%s@%%h" % queue, "-Q", queue, "--without-gossip", "--without-mingle",
           "--without-heartbeat"]
    app = _flow_app.make_app(broker, run_dir, queue, mode)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(cmd, cwd=_BENCH, env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        _wait_ready(proc, log_path)
        durations, dispatcher_ids = [], []
        for _ in range(flows):
            started = time.monotonic()
            result = flowtrace.run_flow(app, flow_name)
            result.get(timeout=timeout, interval=0.01, propagate=False)
            if result.state != "SUCCESS":
                raise BenchError("flow %s ended %s: %r" % (result.id, result.state, result.result))
            durations.append(time.monotonic() - started)
            dispatcher_ids.append(result.id)
        time.sleep(0.5)
        with open(events, encoding="utf-8") as stream:
            records = [json.loads(line) for line in stream if line.strip()]
        reactions, handoffs = measure(records, dispatcher_ids)
        return {"reaction": summary(reactions), "handoff": summary(handoffs),
                "flow_s": statistics.mean(durations), "flows": flows}
    finally:
        _stop(proc)
        app.close()
        shutil.rmtree(run_dir, ignore_errors=True)


def _wait_ready(proc, log_path, timeout=60.0):
    deadline = time.monotonic() + timeout
    while True:
        with open(log_path, "rb") as f:
            if b" ready." in f.read():
                return
        if proc.poll() is not None or time.monotonic() > deadline:
            with open(log_path, "rb") as f:
                raise BenchError("the worker did not start:\n%s" % f.read().decode("utf-8", "replace")[-4000:])
        time.sleep(0.05)


def _stop(proc, grace=15.0):
    stop_group(proc, grace)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--broker", action="append", help="a broker URL (repeatable; default: filesystem://, and "
                        "local Redis and RabbitMQ when they answer)")
    parser.add_argument("--flows", type=int, default=None, help="flows per broker and mode (default 5, quick 1)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1 flow of 3 steps per broker and mode")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    flows = args.flows or (1 if args.quick else 5)
    flow_name = "chain3" if args.quick else "chain10"
    brokers = args.broker or [url for url in DEFAULT_BROKERS if url == "filesystem://" or reachable(url)]
    results = []
    status = 0
    for broker in brokers:
        row = {"broker": urlparse(broker).scheme}
        for mode in MODES:
            Trace.reset()
            try:
                row[mode] = run_mode(broker, mode, flows, flow_name, timeout=600)
            except BenchError as exc:
                print("flow_latency: %s on %s: %s" % (mode, broker, exc), file=sys.stderr)
                status = 1
        if "nudge" in row and "countdown" in row:
            nudged, polled = row["nudge"]["reaction"], row["countdown"]["reaction"]
            if nudged.get("median_ms") and polled.get("median_ms"):
                row["ratio_median_reaction"] = polled["median_ms"] / nudged["median_ms"]
            row["ratio_flow_time"] = row["countdown"]["flow_s"] / row["nudge"]["flow_s"]
        results.append(row)
    if args.json:
        print(json.dumps({"flow": flow_name, "flows": flows, "results": results}, indent=2))
        return status
    print("Dispatcher reaction latency: node TASK_END -> the DISPATCHER_WAKEUP that saw it (%s, %d flow%s)"
          % (flow_name, flows, "" if flows == 1 else "s"))
    print("%-11s %-10s %6s %12s %10s %10s %14s %10s" % ("broker", "mode", "nodes", "median ms", "p90 ms", "max ms",
                                                       "hand-off ms", "flow s"))
    for row in results:
        for mode in MODES:
            if mode not in row:
                continue
            reaction, handoff = row[mode]["reaction"], row[mode]["handoff"]
            print("%-11s %-10s %6d %12.1f %10.1f %10.1f %14.1f %10.2f" % (
                row["broker"], mode, reaction["n"], reaction.get("median_ms", 0), reaction.get("p90_ms", 0),
                reaction.get("max_ms", 0), handoff.get("median_ms", 0), row[mode]["flow_s"]))
        if "ratio_median_reaction" in row:
            print("%-11s countdown / nudge: median reaction x%.0f, flow time x%.1f" % (
                row["broker"], row["ratio_median_reaction"], row["ratio_flow_time"]))
    return status


if __name__ == "__main__":
    sys.exit(main())
