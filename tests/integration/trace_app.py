"""The Celery app of the trace-context integration tests, for workers and for the producer process.

It is the integration app (:mod:`tests.integration.app`) plus the tasks of
the trace scenarios. Beside the variables of that module, it reads:

- ``FLOWTRACE_IT_OTLP``: an OTLP/HTTP traces endpoint; the process then sets
  up the OpenTelemetry SDK (a ``BatchSpanProcessor`` with its default 5 s
  delay and the real OTLP/HTTP exporter) and registers
  ``Trace.trace_by_otel()``;
- ``FLOWTRACE_IT_SERVICE``: the ``service.name`` of the process's spans;
- ``FLOWTRACE_IT_INSTRUMENTOR``: also run OpenTelemetry's CeleryInstrumentor
  (in each pool child, as its documentation says);
- ``FLOWTRACE_IT_MAX_TASKS``: ``worker_max_tasks_per_child``;
- ``FLOWTRACE_IT_FLOWS``: also load the flows of :mod:`tests.integration.flow_app`;
- ``FLOWTRACE_IT_PRODUCER``: set in the producer process, which sets itself up.
"""

from __future__ import annotations

import os
import time

from celery import signals

import flowtrace
from flowtrace import Trace
from tests.integration.app import make_app


def make_trace_app(broker: str, run_dir: str, queue: str, client_name: str = None):
    """The integration app with the trace scenarios' tasks."""
    app = make_app(broker, run_dir, queue, client_name)
    # Poll a chord's header often: its callback is sent by celery.chord_unlock on the file:// backend.
    app.conf.result_chord_retry_interval = 0.2
    from opentelemetry import trace

    tracer = trace.get_tracer("tests.integration.trace_app")

    @app.task(shared=False, name="tr.first")
    def first(value):
        return value

    @app.task(shared=False, name="tr.header")
    def header(value):
        with tracer.start_as_current_span("header.work"):
            return value

    @app.task(shared=False, name="tr.flaky", bind=True, max_retries=3)
    def flaky(self, marker):
        if self.request.retries == 0:
            raise self.retry(exc=KeyError("flaky"), countdown=0.2)
        return marker

    @app.task(shared=False, name="tr.collect")
    def collect(results):
        return sorted(results)

    @app.task(shared=False, name="tr.spawn")
    def spawn():
        with tracer.start_as_current_span("spawn.work"):
            app.tasks["tr.spawned"].delay()

    @app.task(shared=False, name="tr.spawned")
    def spawned():
        return "child"

    @app.task(shared=False, name="tr.slow")
    def slow(seconds):
        time.sleep(seconds)
        return seconds

    if os.environ.get("FLOWTRACE_IT_MAX_TASKS"):
        app.conf.worker_max_tasks_per_child = int(os.environ["FLOWTRACE_IT_MAX_TASKS"])
    return app


def setup_otel(endpoint: str, service: str) -> None:
    """The OpenTelemetry SDK as a user sets it up: a batch processor and the OTLP/HTTP exporter."""
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    trace.set_tracer_provider(provider)
    Trace.trace_by_otel()


def _from_environment():
    env = os.environ
    app = make_trace_app(env["FLOWTRACE_IT_BROKER"], env["FLOWTRACE_IT_DIR"], env["FLOWTRACE_IT_QUEUE"],
                         env.get("FLOWTRACE_IT_CLIENT"))
    if env.get("FLOWTRACE_IT_EVENTS"):
        Trace.trace_by_json(env["FLOWTRACE_IT_EVENTS"])
    if env.get("FLOWTRACE_IT_OTLP"):
        setup_otel(env["FLOWTRACE_IT_OTLP"], env.get("FLOWTRACE_IT_SERVICE", "worker"))
    if env.get("FLOWTRACE_IT_INSTRUMENTOR"):
        @signals.worker_process_init.connect(weak=False)
        def _instrument_child(**_):
            from opentelemetry.instrumentation.celery import CeleryInstrumentor

            CeleryInstrumentor().instrument()
    if env.get("FLOWTRACE_IT_FLOWS"):
        from tests.integration import flow_app

        flow_app.load(app, env["FLOWTRACE_IT_DIR"], env["FLOWTRACE_IT_QUEUE"])
    if env.get("FLOWTRACE_IT_INSTRUMENT", "import") != "none":
        flowtrace.instrument(app, include_args=True)
    return app


if "FLOWTRACE_IT_BROKER" in os.environ and not os.environ.get("FLOWTRACE_IT_PRODUCER"):
    app = _from_environment()
