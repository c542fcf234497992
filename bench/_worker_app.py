"""The Celery app of ``bench/worker_bench.py``: the worker's ``-A`` module, and the producer.

Each process configures itself from environment variables, as a user's app
would from its settings:

- ``FLOWTRACE_BENCH_CONFIG``: ``bare``, ``flowtrace`` or ``otel``;
- ``FLOWTRACE_BENCH_BROKER``: the Redis URL (broker and counters);
- ``FLOWTRACE_BENCH_PREFIX``: this run's name: the queue, the control
  exchange, and the prefix of every Redis key the run creates;
- ``FLOWTRACE_BENCH_EVENTS``: the JSON lines file (``flowtrace`` only).

The worker runs ``celery -A _worker_app worker``; the producer runs
``python bench/_worker_app.py N WARMUP KEY TIMEOUT WORKER_PID`` and prints
its timings as JSON: the wall time, and the CPU time that it, the worker's
main process and the pool's processes used in the timed window.
The one task, ``bench.noop``, increments a Redis counter; the task that
brings it to its target pushes to a list the producer blocks on, so
completion is detected without polling.
"""

from __future__ import annotations

import json
import os
import sys
import time

from celery import Celery, signals
from kombu import Exchange, Queue

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

CONFIGS = ("bare", "flowtrace", "otel")

CONFIG = os.environ.get("FLOWTRACE_BENCH_CONFIG", "bare")
BROKER = os.environ.get("FLOWTRACE_BENCH_BROKER", "redis://127.0.0.1:6379/5")
PREFIX = os.environ.get("FLOWTRACE_BENCH_PREFIX", "ftbench-default")
EVENTS = os.environ.get("FLOWTRACE_BENCH_EVENTS")

if CONFIG not in CONFIGS:
    raise ValueError("FLOWTRACE_BENCH_CONFIG must be one of %s, got %r" % (", ".join(CONFIGS), CONFIG))


def key(name: str) -> str:
    """The Redis key ``name`` of this run (kombu's keys share the same prefix)."""
    return "%s:bench:%s" % (PREFIX, name)


app = Celery("flowtrace_bench", broker=BROKER)
app.conf.update(
    # Every key kombu creates starts with the run's name, so the run deletes exactly what it made.
    broker_transport_options={"global_keyprefix": PREFIX + ":"},
    broker_connection_retry_on_startup=True,
    task_default_queue=PREFIX,
    task_queues=[Queue(PREFIX, Exchange(PREFIX), routing_key=PREFIX)],
    control_exchange=PREFIX,
    worker_enable_remote_control=False,
    task_ignore_result=True,
    accept_content=["json"],
)

_redis = None


def redis_client():
    """This process's Redis client for the counters (created after the fork)."""
    global _redis
    if _redis is None or _redis[0] != os.getpid():
        import redis

        _redis = (os.getpid(), redis.Redis.from_url(BROKER))
    return _redis[1]


@app.task(name="bench.noop", ignore_result=True)
def noop(counter, target):
    """Count this run; the task that reaches ``target`` wakes the producer."""
    client = redis_client()
    if client.incr(counter) == target:
        client.rpush(counter + ":done", 1)


# --- the configurations -----------------------------------------------------


def _setup_flowtrace():
    import flowtrace
    from flowtrace import Trace

    # Before the pool forks: every child inherits the sink and the hooks.
    Trace.trace_by_json(EVENTS)
    flowtrace.instrument(app)


def _otel_exporter():
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

    class NoopExporter(SpanExporter):
        """Drops every span; adds the number dropped to a Redis counter, once per batch."""

        def export(self, spans):
            redis_client().incrby(key("spans"), len(spans))
            return SpanExportResult.SUCCESS

    return NoopExporter()


def _otel_init():
    from opentelemetry import trace
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(_otel_exporter()))
    trace.set_tracer_provider(provider)
    CeleryInstrumentor().instrument()
    return provider


def _setup_otel_worker():
    # As OpenTelemetry documents for prefork: the SDK (its BatchSpanProcessor
    # thread) and the instrumentation are set up in each pool child.
    state = {}

    @signals.worker_process_init.connect(weak=False)
    def _init(**_):
        state["provider"] = _otel_init()

    @signals.worker_process_shutdown.connect(weak=False)
    def _flush(**_):
        # Children leave through os._exit: without this, spans still queued are lost.
        provider = state.get("provider")
        if provider is not None:
            provider.shutdown()


@signals.worker_ready.connect(weak=False)
def _ready(**_):
    redis_client().set(key("ready"), 1)


# --- the producer -----------------------------------------------------------


def _send(count, counter):
    apply_async = noop.apply_async
    for _ in range(count):
        apply_async((counter, count))


def _wait(counter, timeout):
    # Blocks in one-second steps: redis-py's socket timeout (5 s by default) also bounds a BLPOP.
    deadline = time.monotonic() + timeout
    while redis_client().blpop([counter + ":done"], timeout=1) is None:
        if time.monotonic() > deadline:
            raise SystemExit("producer: %s tasks were not done within %ss (count %s)"
                             % (counter, timeout, redis_client().get(counter)))


_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _cpu(pid):
    """CPU seconds (user + system) a process used so far, from /proc; None where there is no /proc."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICK
    except (OSError, IndexError, ValueError):
        return None


def _children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid), "rb") as f:
            return [int(child) for child in f.read().split()]
    except (OSError, ValueError):
        return []


def _machine_busy():
    """CPU seconds all processes on the machine used so far (every CPU, idle and iowait excluded)."""
    try:
        with open("/proc/stat", "rb") as f:
            fields = [int(value) for value in f.readline().split()[1:9]]
        user, nice, system, _idle, _iowait, irq, softirq, steal = fields
        return (user + nice + system + irq + softirq + steal) / _TICK
    except (OSError, ValueError):
        return None


def _cpu_sample(worker_pid):
    pool = [_cpu(child) for child in _children(worker_pid)]
    return {"producer": time.process_time(), "worker_main": _cpu(worker_pid),
            "worker_pool": sum(pool) if pool and None not in pool else None, "machine": _machine_busy()}


def _cpu_used(before, after):
    return {name: None if before[name] is None or after[name] is None else after[name] - before[name]
            for name in before}


def produce(n: int, warmup: int, round_key: str, timeout: float, worker_pid: int) -> dict:
    """Send ``warmup`` tasks and wait for them; then send ``n`` and time them until the last is done."""
    # The producer is instrumented as a web process would be: at start-up.
    provider = _otel_init() if CONFIG == "otel" else None
    if CONFIG == "flowtrace":
        _setup_flowtrace()
    redis_client().ping()
    _send(warmup, key(round_key + ":warm"))
    _wait(key(round_key + ":warm"), timeout)
    counter = key(round_key + ":done")
    cpu_before = _cpu_sample(worker_pid)
    t0 = time.perf_counter()
    _send(n, counter)
    t_sent = time.perf_counter()
    _wait(counter, timeout)
    t_done = time.perf_counter()
    cpu = _cpu_used(cpu_before, _cpu_sample(worker_pid))
    if provider is not None:
        provider.shutdown()
    return {"seconds": t_done - t0, "send_seconds": t_sent - t0, "cpu_seconds": cpu}


if __name__ == "__main__":
    n_, warmup_, round_key_, timeout_, pid_ = sys.argv[1:6]
    print(json.dumps(produce(int(n_), int(warmup_), round_key_, float(timeout_), int(pid_))), flush=True)
elif CONFIG == "flowtrace":
    _setup_flowtrace()
elif CONFIG == "otel":
    _setup_otel_worker()
