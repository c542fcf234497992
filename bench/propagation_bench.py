"""Cost of trace-context propagation per publish and per task start: flowtrace against OpenTelemetry's CeleryInstrumentor.

Run ``python bench/propagation_bench.py``. Both sides are timed in the same
run, on the same Celery app and task, through the very signal receivers
Celery calls:

- publish: ``before_task_publish`` (and OpenTelemetry's ``after_task_publish``,
  where its producer span ends) on a fresh copy of a real protocol 2 header
  dict, inside a current span, as in a web request;
- task start: ``task_prerun`` then ``task_postrun`` for one attempt whose
  message carries a ``traceparent``, with ``task.request`` pushed as the
  worker pushes it. flowtrace's side also includes the worker main process's
  share (choosing the attempt's ids at receipt), which OpenTelemetry has no
  equivalent of.

Two settings, each printed as nanoseconds per operation and the ratio
flowtrace / OpenTelemetry (target: at most 1.0):

- ``api``: propagation only. flowtrace with no sink registered;
  OpenTelemetry's instrumentor with no SDK (its spans are non-recording).
- ``sdk``: spans made. flowtrace with ``Trace.trace_by_otel(provider)``;
  the instrumentor with ``tracer_provider=provider``. The provider is the
  SDK's, with a ``BatchSpanProcessor`` on an exporter that drops the spans.

Timings are interleaved (flowtrace, OpenTelemetry, OpenTelemetry, flowtrace,
...), and the minimum over the repeats is reported (``--stat median`` for
the median). Speed is measured, never asserted: the exit status is 0
whatever the ratios (see bench/README.md).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import timeit
import uuid

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from celery import Celery  # noqa: E402
from opentelemetry import context as otel_context  # noqa: E402
from opentelemetry import trace  # noqa: E402

import flowtrace  # noqa: E402
from flowtrace import Trace  # noqa: E402
from flowtrace.celery import _execute, _publish, _stamp  # noqa: E402

try:
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
except ImportError:  # pragma: no cover - the bench extra is missing
    sys.exit("propagation_bench needs opentelemetry-sdk and opentelemetry-instrumentation-celery: "
             "pip install 'flowtrace[bench]'")

TASK_NAME = "bench.resize_image"
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
TARGET = 1.0


class DropExporter(SpanExporter):
    """Accepts spans and does nothing with them."""

    def export(self, spans):
        return SpanExportResult.SUCCESS

    def shutdown(self):
        pass


def make_app():
    app = Celery("propagation_bench", broker="memory://", backend="cache+memory://", set_as_current=True)
    app.conf.task_default_queue = "images"

    @app.task(name=TASK_NAME)
    def resize_image(image_id):
        return image_id

    app.finalize()
    return app


def message_headers(task_id):
    """A protocol 2 header dict as Celery builds it, before the publish receivers run."""
    return {"lang": "py", "task": TASK_NAME, "id": task_id, "shadow": None, "eta": None, "expires": None,
            "group": None, "group_index": None, "retries": 0, "timelimit": [None, None], "root_id": task_id,
            "parent_id": None, "argsrepr": "('img-42',)", "kwargsrepr": "{}", "origin": "gen1@web",
            "ignore_result": False, "replaced_task_nesting": 0, "stamped_headers": None, "stamps": {}}


def request_dict(task_id):
    """What a worker's main process has for the attempt: the headers as received, and the delivery info."""
    headers = message_headers(task_id)
    headers.update({"traceparent": TRACEPARENT, "headers": {"traceparent": TRACEPARENT},
                    "delivery_info": {"exchange": "", "routing_key": "images", "priority": 0, "redelivered": False},
                    "hostname": "w1@host", "is_eager": False, "reply_to": "r", "correlation_id": task_id})
    return headers


class Bench:
    """The statements of one setting, with what they need."""

    def __init__(self, app, instrumentor):
        self.app = app
        self.task = app.tasks[TASK_NAME]
        self.instrumentor = instrumentor
        self.task_id = str(uuid.uuid4())
        self.body = (("img-42",), {}, {"callbacks": None, "errbacks": None, "chain": None, "chord": None})
        self.base_headers = message_headers(self.task_id)
        self.request = request_dict(self.task_id)

    # publish -------------------------------------------------------------

    def flowtrace_publish(self):
        _publish.on_before_publish(sender=TASK_NAME, body=self.body, exchange="", routing_key="images",
                                   headers=dict(self.base_headers), properties={}, declare=None, retry_policy=None)

    def otel_publish(self):
        headers = dict(self.base_headers)
        self.instrumentor._trace_before_publish(sender=TASK_NAME, body=self.body, exchange="", routing_key="images",
                                                headers=headers, properties={}, declare=None, retry_policy=None)
        self.instrumentor._trace_after_publish(sender=TASK_NAME, body=self.body, headers=headers, exchange="",
                                               routing_key="images")

    # task start ------------------------------------------------------------

    def flowtrace_start(self):
        request = dict(self.request)
        _stamp.stamp(request)  # the worker main process's share, at task_received
        task = self.task
        task.push_request(request)
        try:
            _execute.on_prerun(sender=task, task_id=self.task_id, task=task, args=("img-42",), kwargs={})
            _execute.on_postrun(sender=task, task_id=self.task_id, task=task, args=("img-42",), kwargs={},
                                retval="img-42", state="SUCCESS")
        finally:
            task.pop_request()

    def otel_start(self):
        request = dict(self.request)
        task = self.task
        task.push_request(request)
        try:
            self.instrumentor._trace_prerun(sender=task, task_id=self.task_id, task=task, args=("img-42",), kwargs={})
            self.instrumentor._trace_postrun(sender=task, task_id=self.task_id, task=task, args=("img-42",),
                                             kwargs={}, retval="img-42", state="SUCCESS")
        finally:
            task.pop_request()


def _time(fn, number):
    timer = timeit.Timer(fn, timer=time.perf_counter_ns)
    return timer.timeit(number) / number


def measure(pair, repeats, budget_ns):
    """Interleaved timings of (flowtrace fn, OpenTelemetry fn); ns per call for each, per repeat."""
    flow, otel = pair
    slowest = 0.0
    for fn in pair:
        _time(fn, 200)
        slowest = max(slowest, _time(fn, 1000))
    number = max(200, int(budget_ns / max(slowest, 1.0)))
    times = {"flowtrace": [], "otel": []}
    for repeat in range(repeats):
        order = [("flowtrace", flow), ("otel", otel)]
        if repeat % 2:
            order.reverse()
        for name, fn in order:
            times[name].append(_time(fn, number))
    return times, number


def run_setting(setting, app, repeats, budget_ns):
    provider = None
    Trace.reset()
    instrumentor = CeleryInstrumentor()
    if setting == "sdk":
        provider = TracerProvider()
        provider.add_span_processor(BatchSpanProcessor(DropExporter(), max_queue_size=1 << 16))
        instrumentor.instrument(tracer_provider=provider)
        Trace.trace_by_otel(provider)
        request_span = provider.get_tracer("web").start_span("POST /images")
    else:
        instrumentor.instrument(tracer_provider=trace.NoOpTracerProvider())
        request_span = trace.NonRecordingSpan(trace.SpanContext(
            0x4BF92F3577B34DA6A3CE929D0E0E4736, 0x00F067AA0BA902B7, is_remote=False,
            trace_flags=trace.TraceFlags(1)))
    flowtrace.instrument(app)
    bench = Bench(app, instrumentor)
    results = []
    try:
        # Publishing happens inside the web request's span.
        token = otel_context.attach(trace.set_span_in_context(request_span))
        try:
            publish, number = measure((bench.flowtrace_publish, bench.otel_publish), repeats, budget_ns)
        finally:
            otel_context.detach(token)
        results.append(("publish", publish, number))
        start, number = measure((bench.flowtrace_start, bench.otel_start), repeats, budget_ns)
        results.append(("task_start", start, number))
    finally:
        flowtrace.uninstrument(app)
        instrumentor.uninstrument()
        Trace.reset()
        if provider is not None:
            provider.shutdown()
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run (a second or two)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--stat", choices=("min", "median"), default="min", help="the statistic reported")
    args = parser.parse_args(argv)
    repeats, budget_ns = (3, 2_000_000) if args.quick else (21, 20_000_000)
    stat = min if args.stat == "min" else statistics.median
    app = make_app()
    rows = []
    for setting in ("api", "sdk"):
        for operation, times, number in run_setting(setting, app, repeats, budget_ns):
            flow_ns, otel_ns = stat(times["flowtrace"]), stat(times["otel"])
            rows.append({"setting": setting, "operation": operation, "flowtrace_ns": flow_ns, "otel_ns": otel_ns,
                         "ratio": flow_ns / otel_ns, "target": TARGET, "number": number,
                         "flowtrace_median_ns": statistics.median(times["flowtrace"]),
                         "otel_median_ns": statistics.median(times["otel"])})
    meta = {"python": platform.python_version(), "machine": platform.machine(), "repeats": repeats,
            "stat": args.stat, "quick": args.quick}
    if args.json:
        print(json.dumps({"meta": meta, "results": rows}, indent=2))
        return 0
    print("trace-context propagation, flowtrace vs OpenTelemetry's CeleryInstrumentor (%s of %d repeats)"
          % (args.stat, repeats))
    print("%-8s %-11s %14s %14s %8s %8s" % ("setting", "operation", "flowtrace ns", "otel ns", "ratio", "target"))
    for row in rows:
        verdict = "PASS" if row["ratio"] <= row["target"] else "MISS"
        print("%-8s %-11s %14.0f %14.0f %8.2f %8s %s" % (row["setting"], row["operation"], row["flowtrace_ns"],
                                                          row["otel_ns"], row["ratio"], "<= %.1f" % row["target"],
                                                          verdict))
    return 0


if __name__ == "__main__":
    sys.exit(main())
