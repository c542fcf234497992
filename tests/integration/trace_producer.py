"""The producer process of the trace-context integration tests.

``python -m tests.integration.trace_producer SCENARIO`` sends a scenario's
tasks (inside a root span ``checkout`` unless the scenario is about having
no context), exports its own spans to the test's OTLP receiver, and prints
one JSON object: the root span's ids and the headers of every message sent.
It reads the same environment variables as :mod:`tests.integration.trace_app`.
"""

from __future__ import annotations

import json
import os
import sys

from celery import chain, chord, signals
from opentelemetry import trace

import flowtrace
from flowtrace.context import new_trace
from tests.integration.trace_app import make_trace_app, setup_otel


def main(scenario: str) -> int:
    env = os.environ
    app = make_trace_app(env["FLOWTRACE_IT_BROKER"], env["FLOWTRACE_IT_DIR"], env["FLOWTRACE_IT_QUEUE"])
    setup_otel(env["FLOWTRACE_IT_OTLP"], "producer")
    if env.get("FLOWTRACE_IT_INSTRUMENTOR"):
        from opentelemetry.instrumentation.celery import CeleryInstrumentor

        CeleryInstrumentor().instrument()
    if scenario == "flow":
        from tests.integration import flow_app

        flow_app.load(app, env["FLOWTRACE_IT_DIR"], env["FLOWTRACE_IT_QUEUE"])
    flowtrace.instrument(app)
    sent = []
    signals.after_task_publish.connect(lambda headers=None, **_: sent.append(dict(headers)), weak=False)
    tracer = trace.get_tracer("tests.integration.trace_producer")
    tasks = app.tasks
    root = None
    if scenario == "bare":
        # No span anywhere: the worker starts the trace. Then a message from
        # a process without flowtrace at all, as celery beat sends them.
        tasks["tr.first"].delay(7)
        flowtrace.uninstrument(app)
        tasks["tr.first"].delay(8)
    else:
        with tracer.start_as_current_span("checkout") as span:
            root = span.get_span_context()
            if scenario == "canvas":
                chain(tasks["tr.first"].s(1),
                      chord([tasks["tr.header"].si(2), tasks["tr.flaky"].si("m")], tasks["tr.collect"].s())
                      ).apply_async()
                tasks["tr.spawn"].delay()
            elif scenario == "modes":
                tasks["tr.first"].apply_async((10,), headers={"flowtrace_trace": "new"})
                with new_trace(link=True):
                    tasks["tr.first"].delay(11)
                tasks["tr.first"].delay(12)
            elif scenario == "flow":
                # A flow with a subflow: outer runs A, then the flow inner (B, Tail), then Summary.
                flowtrace.run_flow(app, "outer", {"order": 3})
            elif scenario == "many":
                for value in range(int(env.get("FLOWTRACE_IT_COUNT", "4"))):
                    tasks["tr.first"].delay(value)
            else:
                raise SystemExit("unknown scenario %r" % scenario)
    provider = trace.get_tracer_provider()
    provider.force_flush()
    provider.shutdown()
    print(json.dumps({
        "trace_id": "%032x" % root.trace_id if root else None,
        "span_id": "%016x" % root.span_id if root else None,
        "headers": sent,
    }, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
