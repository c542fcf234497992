"""Worker throughput: bare Celery, flowtrace and OpenTelemetry, in the same run.

Run ``python bench/worker_bench.py`` (Redis at redis://127.0.0.1:6379). Each
round starts a fresh ``celery worker`` (prefork) per configuration, sends it
N no-op tasks from a producer process instrumented the same way, and times
from the first send to the last task's completion:

- ``bare``: Celery alone;
- ``flowtrace``: ``flowtrace.instrument(app)`` and ``Trace.trace_by_json(path)``;
- ``otel``: OpenTelemetry's ``CeleryInstrumentor`` with the SDK's
  ``TracerProvider``, a ``BatchSpanProcessor`` and an exporter that drops
  every span, set up in ``worker_process_init`` as OpenTelemetry documents.

The configurations alternate within each round, and the round's first
configuration rotates, so that drift in the machine's speed hits all of them
alike. It prints the median tasks/s of each configuration over the rounds,
the ratios to bare Celery, the overheads (1 - ratio) and the targets. Nothing
is subtracted. Speed is measured, never asserted: the exit status is 0
whatever the ratios; it is 1 when a worker or producer failed or a run did not
trace what it should (too few flowtrace events or OpenTelemetry spans), and 2
when Redis is unreachable (see bench/README.md).
"""

from __future__ import annotations

import argparse
import collections
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
_APP = os.path.join(_BENCH, "_worker_app.py")
# Run from a checkout without installing: bench/ sits next to flowtrace/.
for _path in (_ROOT, _BENCH):
    if _path not in sys.path:
        sys.path.insert(0, _path)

import flowtrace  # noqa: E402
from _procs import connect_redis, stop_group  # noqa: E402
from _procs import tail as _tail  # noqa: E402

# (key, label)
CONFIGS = (
    ("bare", "bare Celery"),
    ("flowtrace", "flowtrace, JSON sink to a file"),
    ("otel", "OpenTelemetry, SDK + no-op exporter"),
)
#: flowtrace / bare must be at least this.
TARGET_RATIO = 0.95
#: The events flowtrace writes for each task that succeeds.
EVENTS_PER_TASK = ("TASK_PUBLISH", "TASK_RECEIVED", "TASK_START", "TASK_END")
#: The spans OpenTelemetry records for each task: apply_async (producer) and run (worker).
SPANS_PER_TASK = 2

DEFAULT_BROKER = "redis://127.0.0.1:6379/5"
#: Whose CPU time the producer samples around the timed window (from /proc).
CPU_PARTS = ("producer", "worker_main", "worker_pool")


def _version(dist):
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _check_dependencies():
    missing = [dist for dist in ("redis", "opentelemetry-sdk", "opentelemetry-instrumentation-celery")
               if _version(dist) is None]
    if missing:
        sys.exit("worker_bench needs %s: pip install -e '.[bench]'" % ", ".join(missing))


def connect(url: str):
    """Return a Redis client for ``url``; exit with status 2 and a clear message when Redis is unreachable."""
    if urlparse(url).scheme not in ("redis", "rediss"):
        print("worker_bench: the broker must be Redis (redis://...), got %r" % (url,), file=sys.stderr)
        sys.exit(2)
    return connect_redis(url, "worker_bench", "start it or pass --broker URL", socket_timeout=10)


# --- one worker, one producer -----------------------------------------------


class Run:
    """One benchmark run: its Redis names, its folder, and the worker and producer processes."""

    def __init__(self, broker, client, concurrency, timeout):
        self.broker = broker
        self.redis = client
        self.concurrency = concurrency
        self.timeout = timeout
        self.prefix = "ftbench-" + uuid.uuid4().hex[:10]
        self.dir = tempfile.mkdtemp(prefix=self.prefix + "-")

    def key(self, name):
        # As _worker_app.key() spells it.
        return "%s:bench:%s" % (self.prefix, name)

    def env(self, config, events=None):
        env = dict(os.environ)
        env.update(FLOWTRACE_BENCH_CONFIG=config, FLOWTRACE_BENCH_BROKER=self.broker,
                   FLOWTRACE_BENCH_PREFIX=self.prefix,
                   PYTHONPATH=os.pathsep.join(filter(None, (_BENCH, _ROOT, os.environ.get("PYTHONPATH")))))
        env.pop("FLOWTRACE_BENCH_EVENTS", None)
        if events:
            env["FLOWTRACE_BENCH_EVENTS"] = events
        return env

    def start_worker(self, config, env, name):
        self.redis.delete(self.key("ready"))
        log_path = os.path.join(self.dir, name + ".log")
        cmd = [sys.executable, "-m", "celery", "-A", "_worker_app", "worker", "--pool=prefork",
               "--concurrency=%d" % self.concurrency, "--loglevel=WARNING", "-n", "%s@%%h" % name,
               "-Q", self.prefix, "--without-gossip", "--without-mingle", "--without-heartbeat"]
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(cmd, cwd=_BENCH, env=env, stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 60
        while not self.redis.exists(self.key("ready")):
            if proc.poll() is not None or time.monotonic() > deadline:
                self.stop_worker(proc)
                raise BenchError("the %s worker did not start; its log:\n%s" % (config, _tail(log_path)))
            time.sleep(0.05)
        return proc, log_path

    @staticmethod
    def stop_worker(proc, grace=30.0):
        """Warm shutdown (children flush and exit), then SIGKILL whatever is left of the group."""
        stop_group(proc, grace)

    def produce(self, env, n, warmup, round_key, worker_pid):
        cmd = [sys.executable, _APP, str(n), str(warmup), round_key, str(self.timeout), str(worker_pid)]
        proc = subprocess.run(cmd, cwd=_BENCH, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=self.timeout * 2 + 60)
        if proc.returncode != 0:
            raise BenchError("the producer failed (%s):\n%s" % (proc.returncode, proc.stderr.decode()[-4000:]))
        return json.loads(proc.stdout.decode().strip().splitlines()[-1])

    def cleanup(self):
        """Delete every Redis key of this run (kombu's and the counters: all start with the prefix)."""
        keys = list(self.redis.scan_iter(match=self.prefix + ":*", count=1000))
        for start in range(0, len(keys), 500):
            self.redis.delete(*keys[start:start + 500])
        return len(keys)


class BenchError(Exception):
    """A worker or producer that did not do its job: no figure can be given."""


def count_events(path):
    """Count the JSON lines of a flowtrace events file by event name."""
    counts = collections.Counter()
    invalid = 0
    try:
        with open(path, "rb") as f:
            for line in f:
                try:
                    counts[json.loads(line)["event"]] += 1
                except (ValueError, KeyError, TypeError):
                    invalid += 1
    except FileNotFoundError:
        pass
    return {"lines": sum(counts.values()) + invalid, "invalid": invalid, "by_event": dict(counts)}


def measure(run, config, index, n, warmup):
    """One configuration, one round: a fresh worker, a producer, and what they traced."""
    name = "%s-r%d" % (config, index + 1)
    events = os.path.join(run.dir, name + ".jsonl") if config == "flowtrace" else None
    env = run.env(config, events)
    run.redis.delete(run.key("spans"))
    proc, log_path = run.start_worker(config, env, name)
    try:
        timing = run.produce(env, n, warmup, name, proc.pid)
    finally:
        # After the warm shutdown the children have written (flowtrace) or flushed (OTel) everything.
        run.stop_worker(proc)
    row = {"config": config, "round": index, "tasks_per_s": n / timing["seconds"], **timing}
    cpu = timing["cpu_seconds"]
    row["cpu_us_per_task"] = {part: None if cpu.get(part) is None else 1e6 * cpu[part] / n for part in CPU_PARTS}
    known = [cpu.get(part) for part in CPU_PARTS + ("machine",)]
    # What the rest of the machine (Redis included) used meanwhile: the noise in this round.
    row["other_cores"] = (None if None in known
                          else (cpu["machine"] - sum(cpu[part] for part in CPU_PARTS)) / timing["seconds"])
    tasks = n + warmup
    if config == "flowtrace":
        found = count_events(events)
        row["events"] = found
        row["traced"] = found["lines"]
        row["traced_expected"] = len(EVENTS_PER_TASK) * tasks
        row["traced_ok"] = (found["invalid"] == 0
                            and all(found["by_event"].get(event, 0) >= tasks for event in EVENTS_PER_TASK))
    elif config == "otel":
        row["traced"] = int(run.redis.get(run.key("spans")) or 0)
        row["traced_expected"] = SPANS_PER_TASK * tasks
        row["traced_ok"] = row["traced"] >= row["traced_expected"]
    errors = [line for line in _tail(log_path, 100000).splitlines() if "ERROR" in line or "Traceback" in line]
    if errors:
        row["worker_errors"] = errors[:5]
    return row


def schedule(rounds):
    """(round, config) in the order they run: all configurations each round, the first one rotating."""
    keys = [key for key, _ in CONFIGS]
    order = []
    for index in range(rounds):
        shift = index % len(keys)
        order += [(index, key) for key in keys[shift:] + keys[:shift]]
    return order


# --- results ----------------------------------------------------------------


def _median_or_none(values):
    values = list(values)
    return None if None in values else round(statistics.median(values), 1)


def adjusted(rows):
    """Tasks/s per configuration at no outside load: least squares with one slope for all configurations.

    Each round's throughput is modelled as its configuration's own figure minus
    a common slope times the CPUs other processes used during that round.
    Returns ``{config: tasks/s}``, or None with fewer than two rounds or no /proc.
    """
    if any(row["other_cores"] is None for row in rows) or len(rows) < 2 * len(CONFIGS):
        return None
    groups = {key: [(row["other_cores"], row["tasks_per_s"]) for row in rows if row["config"] == key]
              for key, _ in CONFIGS}
    mean_x = {key: statistics.fmean(x for x, _ in group) for key, group in groups.items()}
    mean_y = {key: statistics.fmean(y for _, y in group) for key, group in groups.items()}
    sxx = sum((x - mean_x[key]) ** 2 for key, group in groups.items() for x, _ in group)
    if sxx == 0:
        return None
    sxy = sum((x - mean_x[key]) * (y - mean_y[key]) for key, group in groups.items() for x, y in group)
    slope = sxy / sxx
    return {key: mean_y[key] - slope * mean_x[key] for key in groups}


def summarise(rows):
    by_config = {key: [row for row in rows if row["config"] == key] for key, _ in CONFIGS}
    results = []
    for key, label in CONFIGS:
        own = sorted(by_config[key], key=lambda row: row["round"])
        result = {
            "config": key,
            "label": label,
            "tasks_per_s": round(statistics.median(row["tasks_per_s"] for row in own), 1),
            "rounds_tasks_per_s": [round(row["tasks_per_s"], 1) for row in own],
            "rounds_seconds": [round(row["seconds"], 4) for row in own],
            "rounds_send_seconds": [round(row["send_seconds"], 4) for row in own],
            "cpu_us_per_task": {part: _median_or_none(row["cpu_us_per_task"][part] for row in own)
                                for part in CPU_PARTS},
            "rounds_cpu_us_per_task": [{part: None if value is None else round(value, 1)
                                        for part, value in row["cpu_us_per_task"].items()} for row in own],
            "rounds_other_cores": [None if row["other_cores"] is None else round(row["other_cores"], 2)
                                   for row in own],
        }
        if key != "bare":
            result["traced_per_round"] = [row["traced"] for row in own]
            result["traced_expected_per_round"] = own[0]["traced_expected"]
            result["traced_ok"] = all(row["traced_ok"] for row in own)
        if key == "flowtrace":
            result["events_by_name_last_round"] = own[-1]["events"]["by_event"]
        errors = [line for row in own for line in row.get("worker_errors", ())]
        if errors:
            result["worker_errors"] = errors[:5]
        results.append(result)
    bare = results[0]["tasks_per_s"]
    for result in results:
        result["ratio"] = round(result["tasks_per_s"] / bare, 3)
        result["overhead"] = round(1 - result["tasks_per_s"] / bare, 3)
        cpu = result["cpu_us_per_task"]
        result["cpu_us_per_task_total"] = None if None in cpu.values() else round(sum(cpu.values()), 1)
    at_rest = adjusted(rows)
    for result in results:
        value = None if at_rest is None else at_rest[result["config"]]
        result["adjusted_tasks_per_s"] = None if value is None else round(value, 1)
        result["adjusted_ratio"] = None if value is None else round(value / at_rest["bare"], 3)
    bare_cpu = results[0]["cpu_us_per_task_total"]
    for result in results:
        total = result["cpu_us_per_task_total"]
        result["cpu_ratio"] = None if total is None or not bare_cpu else round(total / bare_cpu, 3)
    flow, otel = results[1], results[2]
    verdicts = [
        {"target": "flowtrace / bare >= %.2f" % TARGET_RATIO, "value": flow["ratio"],
         "result": "PASS" if flow["ratio"] >= TARGET_RATIO else "MISS"},
        {"target": "flowtrace overhead < OpenTelemetry overhead", "value": [flow["overhead"], otel["overhead"]],
         "result": "PASS" if flow["overhead"] < otel["overhead"] else "MISS"},
    ]
    valid = flow["traced_ok"] and otel["traced_ok"]
    if not valid:
        for verdict in verdicts:
            verdict["result"] = "INVALID"
    return results, verdicts, valid


def render(results, verdicts, valid, meta):
    lines = [
        "flowtrace %s, Celery %s, OpenTelemetry SDK %s + instrumentation-celery %s, Python %s on %s"
        % (meta["flowtrace"], meta["celery"], meta["opentelemetry_sdk"], meta["opentelemetry_celery"],
           meta["python"], meta["machine"]),
        "%d no-op tasks per round (+%d warm-up) through a fresh prefork worker (concurrency %d) on %s;"
        % (meta["n"], meta["warmup"], meta["concurrency"], meta["broker"]),
        "%d rounds, configurations alternated; median tasks/s over the rounds, first send to last completion"
        % meta["rounds"],
        "",
    ]
    def per_round(row):
        # Each round's tasks/s, and in brackets the CPUs other processes used meanwhile.
        return " ".join("%.0f" % value if other is None else "%.0f(%.1f)" % (value, other)
                        for value, other in zip(row["rounds_tasks_per_s"], row["rounds_other_cores"]))

    width = max(26, max(len(per_round(row)) for row in results))
    head = "%-38s %9s  %-*s %6s %9s" % ("configuration", "tasks/s", width, "rounds (outside load, CPUs)", "ratio",
                                        "overhead")
    lines += [head, "-" * len(head)]
    for row in results:
        lines.append("%-38s %9.1f  %-*s %6.3f %8.1f%%" % (
            row["label"], row["tasks_per_s"], width, per_round(row), row["ratio"], 100 * row["overhead"]))
    if results[0]["adjusted_tasks_per_s"] is not None:
        lines.append("at no outside load (fit over the rounds, for information): " + ", ".join(
            "%s %.0f tasks/s (%.3f)" % (row["config"], row["adjusted_tasks_per_s"], row["adjusted_ratio"])
            for row in results))
    lines.append("")
    if all(row["cpu_ratio"] is not None for row in results):
        head = "%-38s %9s %12s %9s %9s %7s" % ("CPU per task, us (median)", "producer", "worker main", "pool",
                                              "total", "ratio")
        lines += [head, "-" * len(head)]
        for row in results:
            cpu = row["cpu_us_per_task"]
            lines.append("%-38s %9.0f %12.0f %9.0f %9.0f %7.3f" % (
                row["label"], cpu["producer"], cpu["worker_main"], cpu["worker_pool"], row["cpu_us_per_task_total"],
                row["cpu_ratio"]))
        noise = []
    bare = results[0]["rounds_tasks_per_s"]
    if len(bare) > 1:
        noise.append("bare Celery's rounds spread by %.0f%% of their median (min to max)"
                     % (100 * (max(bare) - min(bare)) / results[0]["tasks_per_s"]))
    others = [value for row in results for value in row["rounds_other_cores"] if value is not None]
    if others:
        noise.append("other processes (Redis included) used %.2f to %.2f CPUs during the timed windows"
                     % (min(others), max(others)))
    if noise:
        lines.append("noise: " + "; ".join(noise))
    lines.append("")
    flow, otel = results[1], results[2]
    lines.append("target: flowtrace / bare >= %.2f: %.3f  %s" % (TARGET_RATIO, flow["ratio"], verdicts[0]["result"]))
    lines.append("target: flowtrace overhead below OpenTelemetry's: %.1f%% vs %.1f%%  %s" % (
        100 * flow["overhead"], 100 * otel["overhead"], verdicts[1]["result"]))
    lines.append("")
    tasks = meta["n"] + meta["warmup"]
    lines.append("flowtrace JSON lines per round: %s (expected %d: %s for each of %d tasks)%s" % (
        ", ".join(str(value) for value in flow["traced_per_round"]), flow["traced_expected_per_round"],
        " + ".join(EVENTS_PER_TASK), tasks, "" if flow["traced_ok"] else "  TOO FEW"))
    lines.append("OpenTelemetry spans per round: %s (expected %d: apply_async + run for each of %d tasks)%s" % (
        ", ".join(str(value) for value in otel["traced_per_round"]), otel["traced_expected_per_round"], tasks,
        "" if otel["traced_ok"] else "  TOO FEW"))
    for row in results:
        for error in row.get("worker_errors", ()):
            lines.append("worker error (%s): %s" % (row["config"], error))
    if not valid:
        lines.append("INVALID: a configuration did not trace every task, so its speed means nothing.")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=None, help="tasks per round (default 2000, quick 200)")
    parser.add_argument("--rounds", type=int, default=None, help="rounds of all configurations (default 3, quick 1)")
    parser.add_argument("--concurrency", type=int, default=2, help="prefork pool processes (default 2)")
    parser.add_argument("--broker", default=DEFAULT_BROKER, help="Redis URL (default %s)" % DEFAULT_BROKER)
    parser.add_argument("--quick", action="store_true", help="a smoke run: 200 tasks, 1 round")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    n = args.n or (200 if args.quick else 2000)
    rounds = args.rounds or (1 if args.quick else 3)
    for name, value in (("-n", n), ("--rounds", rounds), ("--concurrency", args.concurrency)):
        if value < 1:
            parser.error("%s must be at least 1, got %d" % (name, value))
    warmup = max(10 * args.concurrency, n // 10)

    _check_dependencies()
    client = connect(args.broker)
    run = Run(args.broker, client, args.concurrency, timeout=max(120.0, n / 10.0))
    rows = []
    failed = False
    try:
        for index, config in schedule(rounds):
            row = measure(run, config, index, n, warmup)
            rows.append(row)
            print("round %d %-9s %8.1f tasks/s%s" % (
                index + 1, config, row["tasks_per_s"],
                "" if "traced" not in row else "  (%d traced, %d expected)" % (row["traced"], row["traced_expected"])),
                file=sys.stderr, flush=True)
    except BenchError as exc:
        failed = True
        print("worker_bench: %s\nlogs kept in %s" % (exc, run.dir), file=sys.stderr)
        return 1
    finally:
        run.cleanup()
        if not failed:
            shutil.rmtree(run.dir, ignore_errors=True)

    results, verdicts, valid = summarise(rows)
    meta = {
        "flowtrace": flowtrace.__version__,
        "celery": _version("celery"),
        "opentelemetry_sdk": _version("opentelemetry-sdk"),
        "opentelemetry_celery": _version("opentelemetry-instrumentation-celery"),
        "python": platform.python_version(),
        "machine": "%s, %s CPUs" % (platform.machine(), os.cpu_count()),
        "broker": args.broker,
        "n": n,
        "warmup": warmup,
        "rounds": rounds,
        "concurrency": args.concurrency,
        "quick": args.quick,
        "order": ["%s-r%d" % (config, index + 1) for index, config in schedule(rounds)],
    }
    if args.json:
        print(json.dumps({"meta": meta, "results": results, "targets": verdicts, "valid": valid}, indent=2))
    else:
        print(render(results, verdicts, valid, meta))
    return 0 if valid else 1


if __name__ == "__main__":
    sys.exit(main())
