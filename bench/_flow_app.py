"""The Celery app of ``bench/flow_latency.py``: the worker's ``-A`` module, and the producer's app.

Configured from the environment:

- ``FLOWTRACE_BENCH_BROKER``: the broker URL (``filesystem://`` keeps its
  folders under ``FLOWTRACE_BENCH_DIR``);
- ``FLOWTRACE_BENCH_DIR``: the run's folder (broker folders, file:// results);
- ``FLOWTRACE_BENCH_QUEUE``: the run's queue, control exchange and Redis key prefix;
- ``FLOWTRACE_BENCH_EVENTS``: the JSON lines file of the worker's events;
- ``FLOWTRACE_BENCH_MODE``: ``nudge`` (flowtrace's default) or ``countdown``
  (nudges off; the dispatcher wakes on countdowns of 2 s doubling to 120 s,
  Selinon's default strategy).
"""

from __future__ import annotations

import os
import sys

from celery import Celery
from kombu import Exchange, Queue

_BENCH = os.path.dirname(os.path.abspath(__file__))
_ROOT = os.path.dirname(_BENCH)
for _path in (_ROOT, _BENCH):
    if _path not in sys.path:
        sys.path.insert(0, _path)

import flowtrace  # noqa: E402
from flowtrace import Trace  # noqa: E402
from flowtrace.celery import embedded  # noqa: E402

FLOWS = os.path.join(_BENCH, "flows", "latency.yml")
MODES = {"nudge": (True, (2.0, 60.0)), "countdown": (False, (2.0, 120.0))}


class Step(flowtrace.FlowTask):
    """Does nothing: the time between two steps is the dispatcher's alone."""

    def run(self, node_args):
        return None


def make_app(broker, run_dir, queue, mode):
    """The app, with the latency flows loaded, for ``mode`` (``nudge`` or ``countdown``)."""
    app = Celery("flowtrace_flow_bench", set_as_current=False)
    app.conf.update(embedded.celery_config(run_dir))
    if not broker.startswith("filesystem:"):
        options = {"global_keyprefix": queue + ":"} if broker.startswith("redis") else {}
        app.conf.update(broker_url=broker, broker_transport=None, broker_transport_options=options)
    app.conf.update(task_default_queue=queue, control_exchange=queue, worker_prefetch_multiplier=1,
                    task_queues=[Queue(queue, Exchange(queue, durable=False, auto_delete=True), routing_key=queue,
                                       expires=900)],
                    accept_content=["json"])
    nudge, countdown = MODES[mode]
    app.conf.flowtrace_nudge = nudge
    app.conf.flowtrace_dispatcher_countdown = countdown
    saved = os.environ.get("FLOWTRACE_BENCH_QUEUE")
    os.environ["FLOWTRACE_BENCH_QUEUE"] = queue
    try:
        flowtrace.load_flows(FLOWS, app=app)
    finally:
        if saved is None:
            os.environ.pop("FLOWTRACE_BENCH_QUEUE", None)
        else:
            os.environ["FLOWTRACE_BENCH_QUEUE"] = saved
    return app


if "FLOWTRACE_BENCH_BROKER" in os.environ and "FLOWTRACE_BENCH_MODE" in os.environ:
    _env = os.environ
    app = make_app(_env["FLOWTRACE_BENCH_BROKER"], _env["FLOWTRACE_BENCH_DIR"], _env["FLOWTRACE_BENCH_QUEUE"],
                   _env["FLOWTRACE_BENCH_MODE"])
    if _env.get("FLOWTRACE_BENCH_EVENTS"):
        Trace.trace_by_json(_env["FLOWTRACE_BENCH_EVENTS"])
    flowtrace.instrument(app)
