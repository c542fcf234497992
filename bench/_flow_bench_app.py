"""The Celery app of ``bench/flow_bench.py``: the worker's ``-A`` module, and the producer's app.

One app carries the three ways of running the same DAG, so that one worker
serves them all:

- flowtrace: ``flowtrace.load_flows`` of ``bench/flows/dag/`` (the
  ``flowtrace.dispatcher`` task and one task per node);
- Selinon 1.4.0: ``selinon.Config.init`` of the same two YAML files (the
  ``selinon.Dispatcher`` and ``selinon.SelinonTaskEnvelope`` tasks), with
  Selinon's defaults: no storage, no caches, its default dispatcher strategy;
- Celery canvas: the ``bench.noop`` task, for ``chain(start, chord(group(8), end))``.

Neither library traces (no sink, no ``flowtrace.instrument``): the figures
are the dispatchers' own cost.

Configured from the environment:

- ``FLOWTRACE_BENCH_BROKER``: the Redis broker URL (its own database);
- ``FLOWTRACE_BENCH_BACKEND``: the Redis result backend URL (another database);
- ``FLOWTRACE_BENCH_QUEUE``: the run's queue, control exchange and key prefix;
- ``FLOWTRACE_BENCH_EVENTS``: optional, a file for flowtrace's JSON trace of the worker
  (for looking into a run; the benchmark's figures are taken without it).
"""

from __future__ import annotations

import os
import sys

from celery import Celery, signals

_BENCH = os.path.dirname(os.path.abspath(__file__))
_ROOT = os.path.dirname(_BENCH)
for _path in (_ROOT, _BENCH):
    if _path not in sys.path:
        sys.path.insert(0, _path)

import flowtrace  # noqa: E402

FLOWS = os.path.join(_BENCH, "flows", "dag")
YAML_NODES = os.path.join(FLOWS, "nodes.yml")
YAML_FLOWS = os.path.join(FLOWS, "flows.yml")
#: The canvas task's name.
NOOP = "bench.noop"


def ready_key(queue):
    """The broker-database key the worker sets when it is ready to consume."""
    return "%s:bench:ready" % queue


def make_app(broker, backend, queue, selinon=True):
    """The app, current in this process (Selinon looks results up through the current app)."""
    app = Celery("flowtrace_flow_bench", set_as_current=True)
    prefix = {"global_keyprefix": queue + ":"}
    app.conf.update(
        broker_url=broker, result_backend=backend, broker_transport_options=prefix,
        result_backend_transport_options=prefix, task_default_queue=queue, control_exchange=queue,
        accept_content=["json"], task_serializer="json", result_serializer="json", result_expires=3600,
        broker_connection_retry_on_startup=True, worker_hijack_root_logger=False)

    @app.task(name=NOOP, ignore_result=False, shared=False)
    def noop(*args, **kwargs):
        """The canvas way's node: does nothing (a chord body receives the header's results and drops them)."""
        return None

    saved = os.environ.get("FLOWTRACE_BENCH_QUEUE")
    os.environ["FLOWTRACE_BENCH_QUEUE"] = queue  # both YAML loaders expand {FLOWTRACE_BENCH_QUEUE}
    # The figures are the dispatchers' own cost: load_flows() is not to instrument the app.
    app.conf.flowtrace_instrument = False
    try:
        flowtrace.load_flows(FLOWS, app=app)
        if selinon:
            from selinon import Config

            Config.init(app, YAML_NODES, [YAML_FLOWS])
    finally:
        if saved is None:
            os.environ.pop("FLOWTRACE_BENCH_QUEUE", None)
        else:
            os.environ["FLOWTRACE_BENCH_QUEUE"] = saved
    return app


def canvas_dag(app, width=8):
    """The DAG as Celery canvas: ``chain(start, chord(group(width), end))``, every node a no-op.

    The foreach flow is the same with a wider group: a group is waited on through a chord's body.
    """
    from celery import chain, chord, group

    noop = app.tasks[NOOP]
    return chain(noop.si(), chord(group(noop.si() for _ in range(width)), noop.si()))


if "FLOWTRACE_BENCH_BROKER" in os.environ and "FLOWTRACE_BENCH_QUEUE" in os.environ:
    _env = os.environ
    app = make_app(_env["FLOWTRACE_BENCH_BROKER"], _env["FLOWTRACE_BENCH_BACKEND"], _env["FLOWTRACE_BENCH_QUEUE"])
    if _env.get("FLOWTRACE_BENCH_EVENTS"):
        flowtrace.Trace.trace_by_json(_env["FLOWTRACE_BENCH_EVENTS"])
        flowtrace.instrument(app)

    @signals.worker_ready.connect(weak=False)
    def _ready(sender=None, **_):
        import redis

        redis.Redis.from_url(_env["FLOWTRACE_BENCH_BROKER"]).set(ready_key(_env["FLOWTRACE_BENCH_QUEUE"]), "1",
                                                                 ex=3600)
