"""Flow dispatchers side by side: flowtrace, Selinon 1.4.0 and plain Celery canvas, on one Redis and one worker.

Run ``python bench/flow_bench.py`` (``make bench-flow-dag``). One
``celery worker`` (prefork, 2 processes) serves an app that can run the same
DAG of 10 no-op tasks (Start, then Fan1..Fan8 in parallel, then End once all
eight have finished) three ways, and the runs alternate between them:

- ``flowtrace``: ``flowtrace.run_flow`` on ``bench/flows/dag/``;
- ``selinon``: ``selinon.run_flow`` on the same two YAML files, with
  Selinon's defaults (its dispatcher wakes on a countdown: the
  ``biexponential_increase`` strategy, 2 s doubling to 120 s);
- ``canvas``: ``chain(start, chord(group(8), end))``.

It prints, per way, the end-to-end latency (from the call that starts the
flow to its result in the caller: median and 90th percentile over the runs)
and the broker messages per node (counted with Redis ``MONITOR`` over
separate, untimed runs: see ``_flow_bench_monitor``), then the ratios
flowtrace / Selinon (target <= 0.5) and flowtrace / canvas (target <= 2).

Then a foreach of 1,000 nodes: its wall time and messages, each way. Then the
cost of one dispatcher wake-up when one node has changed, at flow sizes of
10, 100 and 1,000 nodes (``_flow_bench_wakeup``): the target is that it grows
with the nodes that changed, not with the flow's size.

Speed is measured, never asserted: the exit status is 0 whatever the
figures; 1 when a worker or a flow failed; 2 when Redis is unreachable or
Selinon is not installed (``pip install -e '.[bench]'``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from importlib import metadata
from urllib.parse import urlparse

_BENCH = os.path.dirname(os.path.abspath(__file__))
_ROOT = os.path.dirname(_BENCH)
for _path in (_ROOT, _BENCH):
    if _path not in sys.path:
        sys.path.insert(0, _path)

import flowtrace  # noqa: E402
from _procs import connect_redis, stop_group  # noqa: E402
from _procs import tail as _tail  # noqa: E402

DEFAULT_BROKER = "redis://127.0.0.1:6379/8"
DEFAULT_BACKEND = "redis://127.0.0.1:6379/9"
WAYS = (
    ("flowtrace", "flowtrace, run_flow"),
    ("selinon", "Selinon 1.4.0, run_flow"),
    ("canvas", "Celery canvas"),
)
DAG_NODES = 10
#: The dispatcher tasks' names: their messages are counted apart from the nodes'.
DISPATCHERS = ("flowtrace.dispatcher", "selinon.Dispatcher")
#: (ratio, target): flowtrace / peer must be at most the target.
TARGETS = (("selinon", 0.5), ("canvas", 2.0))
#: The wake-up target: the nudged wake-up's own work at the largest size over the smallest.
WAKEUP_TARGET = 2.0
WAKEUP_SIZES = (10, 100, 1000)


class BenchError(Exception):
    """A worker or flow that did not do its job: no figure can be given."""


def _version(dist):
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _db(url):
    path = urlparse(url).path.strip("/")
    return int(path) if path else 0


def _connect(url):
    return connect_redis(url, "flow_bench", "start it or pass --broker/--backend")


# --- the worker and the flows --------------------------------------------------


class Run:
    """The run's worker, producer app, Redis clients and key prefix."""

    def __init__(self, broker, backend, timeout):
        import _flow_bench_app

        self.broker, self.backend, self.timeout = broker, backend, timeout
        self.prefix = "ftflow-" + uuid.uuid4().hex[:10]
        self.dir = tempfile.mkdtemp(prefix=self.prefix + "-")
        self.broker_redis, self.backend_redis = _connect(broker), _connect(backend)
        self.module = _flow_bench_app
        self.app = _flow_bench_app.make_app(broker, backend, self.prefix)
        self.worker = None
        self.log_path = os.path.join(self.dir, "worker.log")

    def start_worker(self):
        env = dict(os.environ, FLOWTRACE_BENCH_BROKER=self.broker, FLOWTRACE_BENCH_BACKEND=self.backend,
                   FLOWTRACE_BENCH_QUEUE=self.prefix,
                   PYTHONPATH=os.pathsep.join(filter(None, (_BENCH, _ROOT, os.environ.get("PYTHONPATH")))))
        # Remote control stays on: flowtrace's nudges are remote-control broadcasts. Gossip, mingle
        # and heartbeats are off: their broadcasts and events have nothing to do with flows.
        cmd = [sys.executable, "-m", "celery", "-A", "_flow_bench_app", "worker", "--pool=prefork",
               "--concurrency=2", "--loglevel=WARNING", "-n", "%s@%%h" % self.prefix, "-Q", self.prefix,
               "--without-gossip", "--without-mingle", "--without-heartbeat"]
        with open(self.log_path, "ab") as log:
            self.worker = subprocess.Popen(cmd, cwd=_BENCH, env=env, stdout=log, stderr=subprocess.STDOUT,
                                           stdin=subprocess.DEVNULL, start_new_session=True)
        key = self.module.ready_key(self.prefix)
        deadline = time.monotonic() + 90
        while not self.broker_redis.exists(key):
            if self.worker.poll() is not None or time.monotonic() > deadline:
                raise BenchError("the worker did not start; its log:\n%s" % _tail(self.log_path))
            time.sleep(0.05)

    def stop_worker(self, grace=20.0):
        proc, self.worker = self.worker, None
        if proc is not None:
            stop_group(proc, grace)

    def worker_errors(self):
        return [line for line in _tail(self.log_path, 1000000).splitlines() if "ERROR" in line or "Traceback" in line]

    def cleanup(self, keep_log=False):
        """Delete the run's Redis keys (all start with its prefix), and its folder unless ``keep_log``."""
        for client in (self.broker_redis, self.backend_redis):
            keys = list(client.scan_iter(match=self.prefix + ":*", count=1000))
            for start in range(0, len(keys), 500):
                client.delete(*keys[start:start + 500])
        self.app.close()
        if not keep_log:
            shutil.rmtree(self.dir, ignore_errors=True)

    # --- one flow ---------------------------------------------------------------

    def start(self, way, flow, node_args):
        """Start one flow; returns its AsyncResult (the dispatcher's, or the canvas's last task's)."""
        if way == "flowtrace":
            return flowtrace.run_flow(self.app, flow, node_args)
        if way == "selinon":
            import selinon

            return selinon.run_flow(flow, node_args)
        width = DAG_NODES - 2 if flow == "dag" else int(node_args["n"])
        return self.module.canvas_dag(self.app, width).apply_async()

    def run_flow(self, way, flow, node_args=None):
        """Run one flow to its end; returns (seconds, nodes run)."""
        started = time.perf_counter()
        result = self.start(way, flow, node_args)
        value = result.get(timeout=self.timeout, interval=0.005, propagate=False)
        seconds = time.perf_counter() - started
        if result.state != "SUCCESS":
            raise BenchError("%s flow %s ended %s: %r" % (way, result.id, result.state, value))
        if way == "canvas":
            nodes = None  # Celery says nothing more than that the last task succeeded
        else:
            nodes = sum(len(ids) for ids in (value or {}).get("finished_nodes", {}).values())
        return seconds, nodes


# --- sections ------------------------------------------------------------------


def _summary(values):
    ordered = sorted(values)
    p90 = ordered[0] if len(ordered) == 1 else statistics.quantiles(ordered, n=10, method="inclusive")[8]
    return {"median_s": statistics.median(ordered), "p90_s": p90, "min_s": ordered[0], "max_s": ordered[-1],
            "runs_s": [round(value, 4) for value in values]}


def _per_node(counts, runs, nodes):
    messages = {key[len("message:"):]: value for key, value in counts.items() if key.startswith("message:")}
    dispatcher = sum(value for name, value in messages.items() if name in DISPATCHERS)
    total_messages = sum(messages.values())
    broadcasts = counts.get("broadcast", 0)
    scale = runs * nodes
    return {
        "messages_per_node": (total_messages + broadcasts) / scale,
        "task_messages_per_node": (total_messages - dispatcher) / scale,
        "dispatcher_messages_per_node": dispatcher / scale,
        "broadcasts_per_node": broadcasts / scale,
        "backend_reads_per_node": counts.get("backend_read", 0) / scale,
        "backend_writes_per_node": counts.get("backend_write", 0) / scale,
        "messages_per_flow": (total_messages + broadcasts) / runs,
        "by_task": {name: value / runs for name, value in sorted(messages.items())},
    }


def count(run, monitor, way, flow, node_args, runs, nodes):
    """Broker messages and backend reads/writes of ``runs`` flows, counted by MONITOR."""
    monitor.start()
    for _ in range(runs):
        _, done = run.run_flow(way, flow, node_args)
        if done is not None and done != nodes:
            raise BenchError("%s ran %d nodes of %s, expected %d" % (way, done, flow, nodes))
    return _per_node(monitor.stop(), runs, nodes)


def _monitor(run):
    from _flow_bench_monitor import Monitor

    return Monitor(run.broker, _db(run.broker), _db(run.backend), run.prefix)


def dag_section(run, ways, runs, count_runs, log):
    """Latency of the DAG, ways alternated; messages from separate counted runs (which also warm up)."""
    rows = {way: {"way": way, "label": label} for way, label in WAYS if way in ways}
    monitor = _monitor(run)
    try:
        for way in rows:
            rows[way].update(count(run, monitor, way, "dag", None, count_runs, DAG_NODES))
            log("counted %s: %.2f messages per node" % (way, rows[way]["messages_per_node"]))
    finally:
        monitor.close()  # MONITOR would slow the timed runs down
    keys = list(rows)
    times = {way: [] for way in keys}
    for index in range(runs):
        shift = index % len(keys)
        for way in keys[shift:] + keys[:shift]:
            seconds, done = run.run_flow(way, "dag")
            if done is not None and done != DAG_NODES:
                raise BenchError("%s ran %d nodes, expected %d" % (way, done, DAG_NODES))
            times[way].append(seconds)
            log("run %d %-9s %8.3f s" % (index + 1, way, seconds))
    for way in keys:
        rows[way].update(_summary(times[way]))
    verdicts = []
    for peer, target in TARGETS:
        if peer not in rows or "flowtrace" not in rows:
            continue
        ratio = rows["flowtrace"]["median_s"] / rows[peer]["median_s"]
        verdicts.append({"ratio": "flowtrace / %s" % peer, "value": ratio, "target": target,
                         "met": ratio <= target})
    return [rows[way] for way in keys], verdicts


def foreach_section(run, ways, n, log):
    """A foreach of ``n`` nodes after Start, each way: one timed run, then one counted run."""
    rows = []
    for way, label in WAYS:
        if way not in ways:
            continue
        seconds, done = run.run_flow(way, "foreach", {"n": n})
        nodes = n + 1 if way != "canvas" else n + 2
        if done is not None and done != nodes:
            raise BenchError("%s ran %d nodes of the foreach flow, expected %d" % (way, done, nodes))
        log("foreach %-9s %8.3f s" % (way, seconds))
        monitor = _monitor(run)
        try:
            counted = count(run, monitor, way, "foreach", {"n": n}, 1, nodes)
        finally:
            monitor.close()
        rows.append(dict(way=way, label=label, nodes=nodes, wall_s=seconds, **counted))
    return rows


def wakeup_section(broker, backend, quick, log):
    import _flow_bench_wakeup

    log("timing wake-ups at %s nodes" % ", ".join(map(str, WAKEUP_SIZES)))
    prefix = "ftwake-" + uuid.uuid4().hex[:10]
    try:
        rows = _flow_bench_wakeup.run(broker, backend, prefix, WAKEUP_SIZES, quick=quick)
    finally:
        for url in (broker, backend):
            client = _connect(url)
            keys = list(client.scan_iter(match=prefix + ":*", count=1000))
            if keys:
                client.delete(*keys)
    mode = "nudged" if _flow_bench_wakeup.HINTS else "countdown"
    by = {(row["shape"], row["measure"], row["mode"], row["size"]): row.get("us") for row in rows}
    verdicts = []
    for shape in _flow_bench_wakeup.SHAPES:
        for measure, target in (("advance", WAKEUP_TARGET), ("dispatcher", None)):
            small, large = (by[(shape, measure, mode, WAKEUP_SIZES[0])], by[(shape, measure, mode, WAKEUP_SIZES[-1])])
            growth = large / small
            middle = by[(shape, measure, mode, WAKEUP_SIZES[1])]
            verdicts.append({"shape": shape, "measure": measure, "mode": mode, "growth": growth, "target": target,
                             "us_per_extra_node": (large - middle) / (WAKEUP_SIZES[-1] - WAKEUP_SIZES[1]),
                             "met": None if target is None else growth <= target})
    return rows, verdicts


# --- output --------------------------------------------------------------------


def render(meta, dag, dag_verdicts, foreach, wakeups, wakeup_verdicts):
    import _flow_bench_wakeup

    lines = [
        "flowtrace %s, Selinon %s, Celery %s, kombu %s, redis-py %s, Python %s on %s" % (
            meta["flowtrace"], meta["selinon"], meta["celery"], meta["kombu"], meta["redis"], meta["python"],
            meta["machine"]),
        "broker %s, result backend %s; one worker (prefork, concurrency 2) serves all three ways"
        % (meta["broker"], meta["backend"]),
        "flowtrace as shipped: a node that ends nudges its dispatcher; countdown %s s doubling to %s s as the "
        "safety net" % meta["flowtrace_countdown"],
        "Selinon as shipped: its dispatcher wakes on a countdown, strategy %s" % meta["selinon_strategy"],
        "",
    ]
    if dag:
        lines.append("DAG of %d no-op nodes: Start -> Fan1..Fan8 -> End (canvas: chain(start, chord(group(8), end)));"
                     % DAG_NODES)
        lines.append("%d runs per way, alternated (the first way rotates each round); latency from the call that "
                     "starts the flow to its result in the caller" % meta["runs"])
        head = "%-26s %9s %9s %9s %9s %10s %11s %9s %11s %9s" % (
            "way", "median s", "p90 s", "min s", "max s", "msgs/node", "dispatcher", "tasks", "broadcasts",
            "reads")
        lines += [head, "-" * len(head)]
        for row in dag:
            lines.append("%-26s %9.3f %9.3f %9.3f %9.3f %10.2f %11.2f %9.2f %11.2f %9.2f" % (
                row["label"], row["median_s"], row["p90_s"], row["min_s"], row["max_s"], row["messages_per_node"],
                row["dispatcher_messages_per_node"], row["task_messages_per_node"], row["broadcasts_per_node"],
                row["backend_reads_per_node"]))
        lines.append("msgs/node: broker messages, counted with Redis MONITOR over %d untimed run(s) per way, from "
                     "every process, divided by the %d nodes: dispatcher and tasks are LPUSHes to a queue (task "
                     "messages), broadcasts are PUBLISHes (flowtrace's nudges, one per node that ends)."
                     % (meta["count_runs"], DAG_NODES))
        lines.append("reads: result-backend GETs per node: Celery reads a task's state before it stores it (one per "
                     "node, every way), the rest is how the dispatcher or the caller learns that nodes ended.")
        for verdict in dag_verdicts:
            lines.append("target: %s <= %.1f (median latency): %.3f  %s" % (
                verdict["ratio"], verdict["target"], verdict["value"], "met" if verdict["met"] else "MISSED"))
        lines.append("")
    if foreach:
        lines.append("foreach: Start, then %d Item nodes from a foreach (canvas: chain(start, chord(group(%d), end))); "
                     "one timed run per way, then one counted run; messages, dispatcher, broadcasts and reads are per "
                     "flow" % (meta["foreach"], meta["foreach"]))
        head = "%-26s %7s %9s %10s %10s %11s %11s %9s" % (
            "way", "nodes", "wall s", "messages", "msgs/node", "dispatcher", "broadcasts", "reads")
        lines += [head, "-" * len(head)]
        for row in foreach:
            lines.append("%-26s %7d %9.2f %10.0f %10.2f %11.0f %11.0f %9.0f" % (
                row["label"], row["nodes"], row["wall_s"], row["messages_per_flow"], row["messages_per_node"],
                row["dispatcher_messages_per_node"] * row["nodes"], row["broadcasts_per_node"] * row["nodes"],
                row["backend_reads_per_node"] * row["nodes"]))
        lines.append("")
    if wakeups:
        lines.append("One dispatcher wake-up when one node has ended, by flow size (median µs):")
        lines += _flow_bench_wakeup.render(wakeups, WAKEUP_SIZES)
        lines.append("state in / advance / state out: flowtrace.flow._wakeup in memory (the state built from the "
                     "message's data, WakeUp.run(), the next state as data); reads: node outcomes read per wake-up;")
        lines.append("dispatcher: the dispatcher task's run() on Redis, as a worker calls it (outcomes read from the "
                     "backend, the next message published); message: what Celery does with the state in every message "
                     "(JSON decode + encode, and the saferepr of the kwargs it logs).")
        if meta["read_all_up_to"] is not None:
            lines.append("nudged: a node's nudge woke the dispatcher and named the node (with at most %d running "
                         "nodes, all are read all the same); countdown: the countdown woke it, and every running node "
                         "is read." % meta["read_all_up_to"])
        else:
            lines.append("countdown: every wake-up reads every running node (this dispatcher cannot tell a nudged "
                         "wake-up from another).")
        for verdict in wakeup_verdicts:
            if verdict["target"] is None:
                why = ("the state's own trip through the message (see message)" if verdict["mode"] == "nudged"
                       else "a backend read per running node")
                lines.append("  the whole %s wake-up (%s): x%.1f from %d to %d nodes; from %d to %d, %.2f µs per extra "
                             "node: %s" % (verdict["mode"], verdict["shape"], verdict["growth"], WAKEUP_SIZES[0],
                                           WAKEUP_SIZES[-1], WAKEUP_SIZES[1], WAKEUP_SIZES[-1],
                                           verdict["us_per_extra_node"], why))
                continue
            lines.append("target: a %s wake-up's own work (advance) grows with what changed, not with the flow's size "
                         "(%s, %d/%d nodes <= %.1fx): %.1fx  %s" % (
                             verdict["mode"], verdict["shape"], WAKEUP_SIZES[-1], WAKEUP_SIZES[0], verdict["target"],
                             verdict["growth"], "met" if verdict["met"] else "MISSED"))
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--runs", type=int, default=None, help="timed DAG runs per way (default 5, quick 1)")
    parser.add_argument("--count-runs", type=int, default=None,
                        help="untimed DAG runs per way whose messages are counted (default 2, quick 1)")
    parser.add_argument("--foreach", type=int, default=None, help="foreach width (default 1000, quick 20; 0 skips)")
    parser.add_argument("--no-wakeup", action="store_true", help="skip the wake-up cost section")
    parser.add_argument("--way", action="append", choices=[way for way, _ in WAYS],
                        help="run only this way (repeatable; default: all three)")
    parser.add_argument("--broker", default=DEFAULT_BROKER, help="Redis broker URL (default %s)" % DEFAULT_BROKER)
    parser.add_argument("--backend", default=DEFAULT_BACKEND,
                        help="Redis result backend URL, another database (default %s)" % DEFAULT_BACKEND)
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds a flow may take (default 600)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1 run per way, a foreach of 20")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    runs = args.runs or (1 if args.quick else 5)
    count_runs = args.count_runs or (1 if args.quick else 2)
    foreach_n = args.foreach if args.foreach is not None else (20 if args.quick else 1000)
    for name, value in (("--runs", runs), ("--count-runs", count_runs)):
        if value < 1:
            parser.error("%s must be at least 1, got %d" % (name, value))
    for url in (args.broker, args.backend):
        if urlparse(url).scheme not in ("redis", "rediss"):
            parser.error("the broker and the backend must be Redis (redis://...), got %r" % url)
    if (urlparse(args.broker).netloc, _db(args.broker)) == (urlparse(args.backend).netloc, _db(args.backend)):
        parser.error("the broker and the backend must be different Redis databases, to count messages apart")
    if _version("selinon") is None:
        print("flow_bench needs Selinon 1.4.0: pip install -e '.[bench]'", file=sys.stderr)
        return 2

    def log(message):
        print(message, file=sys.stderr, flush=True)

    run = Run(args.broker, args.backend, args.timeout)
    status = 0
    dag = dag_verdicts = foreach = None
    try:
        run.start_worker()
        ways = args.way or [way for way, _ in WAYS]
        dag, dag_verdicts = dag_section(run, ways, runs, count_runs, log)
        if foreach_n > 0:
            foreach = foreach_section(run, ways, foreach_n, log)
    except BenchError as exc:
        log("flow_bench: %s\nthe worker's log is kept in %s" % (exc, run.log_path))
        status = 1
    finally:
        run.stop_worker()
        errors = run.worker_errors()
        run.cleanup(keep_log=status != 0)
    for line in errors[:10]:
        log("worker: %s" % line)
    wakeups, wakeup_verdicts = (None, None) if args.no_wakeup else wakeup_section(args.broker, args.backend,
                                                                                   args.quick, log)
    from selinon.strategy import Strategy

    meta = {
        "flowtrace": flowtrace.__version__, "selinon": _version("selinon"), "celery": _version("celery"),
        "kombu": _version("kombu"), "redis": _version("redis"), "python": platform.python_version(),
        "machine": "%s, %s CPUs" % (platform.machine(), os.cpu_count()), "broker": args.broker,
        "backend": args.backend, "runs": runs, "count_runs": count_runs, "foreach": foreach_n,
        "quick": args.quick, "flowtrace_countdown": _flowtrace_countdown(),
        "selinon_strategy": "%s.%s(%s)" % (Strategy._DEFAULT_MODULE, Strategy._DEFAULT_FUNCTION, ", ".join(
            "%s=%s" % item for item in sorted(Strategy._DEFAULT_FUNC_ARGS.items()))),
        "worker_errors": errors[:10], "read_all_up_to": getattr(_flow_wakeup(), "READ_ALL_UP_TO", None),
    }
    if args.json:
        print(json.dumps({"meta": meta, "dag": dag, "dag_targets": dag_verdicts, "foreach": foreach,
                          "wakeup": wakeups, "wakeup_targets": wakeup_verdicts}, indent=2))
    else:
        print(render(meta, dag, dag_verdicts, foreach, wakeups, wakeup_verdicts))
    return status


def _flow_wakeup():
    from flowtrace.flow import _wakeup

    return _wakeup


def _flowtrace_countdown():
    from flowtrace.flow.dispatcher import DEFAULT_COUNTDOWN

    return tuple("%g" % value for value in DEFAULT_COUNTDOWN)


if __name__ == "__main__":
    sys.exit(main())
