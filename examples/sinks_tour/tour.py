"""A tour of flowtrace's sinks: one small simulated flow, traced through each of them.

Run it with ``python examples/sinks_tour/tour.py``. It needs no broker: the
events are emitted directly, as the dispatcher and the Celery integration
emit them. Standard output gets the JSON lines; standard error gets the
logging and structlog renderings and a summary.
"""

from __future__ import annotations

import collections
import logging
import sys

import structlog

from flowtrace import Trace


def emit_flow():
    """Emit the events of a two-task flow in which the second task fails once and is retried."""
    flow = {"flow_name": "resize_flow", "dispatcher_id": "d-1", "node_args": {"image": "cat.png", "api_key": "k-123"}}
    Trace.log(Trace.FLOW_SCHEDULE, flow, queue="flows")
    Trace.log(Trace.DISPATCHER_WAKEUP, flow, state=None, retry=0)
    Trace.log(Trace.FLOW_START, flow)
    for task_id, name in (("t-1", "fetch"), ("t-2", "resize")):
        Trace.log(Trace.TASK_SCHEDULE, flow, task_name=name, task_id=task_id, parent={})
        Trace.log(Trace.TASK_START, flow, task_name=name, task_id=task_id)
        if name == "resize":
            error = MemoryError("image too large for one pass")
            Trace.log(Trace.TASK_RETRY, flow, task_name=name, task_id=task_id, countdown=2, exc_info=error)
            Trace.log(Trace.TASK_START, flow, task_name=name, task_id=task_id, retried_count=1)
        Trace.log(Trace.TASK_END, flow, task_name=name, task_id=task_id, runtime=0.012)
        Trace.log(Trace.NODE_SUCCESSFUL, flow, node_name=name, node_id=task_id)
    Trace.log(Trace.FLOW_END, flow, state={"finished_nodes": {"fetch": ["t-1"], "resize": ["t-2"]}})


def main() -> int:
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(levelname)-7s %(name)s: %(message)s")
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))
    counts = collections.Counter()

    Trace.trace_by_json()                        # JSON lines on standard output
    Trace.trace_by_logging()                     # the flowtrace.trace logger
    Trace.trace_by_structlog()                   # structlog key-values

    def count(event, msg):
        counts.update([Trace.event2str(event)])

    def broken(event, msg):
        raise ConnectionError("the collector is down")

    Trace.trace_by_func(count)
    Trace.add_sink(broken, name="broken")  # counted and logged once a minute, never felt by the flow

    emit_flow()

    print("\nevents per name: %s" % dict(counts), file=sys.stderr)
    broken = {name: row["errors"] for name, row in Trace.stats().items() if row["errors"]}
    print("sink failures, isolated and counted: %s" % broken, file=sys.stderr)
    Trace.reset()
    return 0


if __name__ == "__main__":
    sys.exit(main())
