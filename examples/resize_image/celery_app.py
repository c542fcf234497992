"""The image worker: one Celery task, traced from the web request that sent it.

Start it with ``celery -A celery_app worker`` in this folder. The broker is
``RESIZE_BROKER_URL`` (Redis or RabbitMQ), or by default Celery's embedded
``filesystem://`` broker in the folder ``RESIZE_DIR``.

Compared with instrumenting Celery by hand, three things are gone: no
``worker_process_init`` re-instrumentation (``flowtrace.instrument`` works
before the pool forks, and the SDK's batch processor restarts its thread in
each child), no reading of ``traceparent`` out of the request, and no span
to open around the task body: the attempt's span is current when the task
runs.
"""

from __future__ import annotations

import os
import time

from celery import Celery, signals
from opentelemetry import trace

import flowtrace
import flowtrace.celery.embedded

app = Celery("resize_image")
if os.environ.get("RESIZE_BROKER_URL"):
    app.conf.broker_url = os.environ["RESIZE_BROKER_URL"]
else:
    app.conf.update(flowtrace.celery.embedded.celery_config(os.environ.get("RESIZE_DIR", "/tmp/flowtrace-resize-image"),
                                                            results=False))
app.conf.update(task_default_queue=os.environ.get("RESIZE_QUEUE", "images"), task_ignore_result=True,
                worker_prefetch_multiplier=1)

# Propagation and lifecycle events, in the producer and in the worker alike.
flowtrace.instrument(app)

tracer = trace.get_tracer("resize_image")


@signals.worker_init.connect(weak=False)
def _worker_tracing(**_):
    # In the worker's main process, before it forks its pool: every child inherits it.
    from tracing import init_tracing

    init_tracing("image-worker")


@app.task(name="images.resize")
def resize_image(image_id: str) -> str:
    """Download, transform and upload an image; each step is a span under the task's."""
    trace.get_current_span().set_attribute("image.id", image_id)
    with tracer.start_as_current_span("download"):
        data = b"\x89PNG" + image_id.encode() * 64
        time.sleep(0.01)
    with tracer.start_as_current_span("transform") as span:
        span.set_attribute("image.bytes", len(data))
        thumbnail = data[: len(data) // 4]
        time.sleep(0.01)
    with tracer.start_as_current_span("upload"):
        time.sleep(0.01)
    return "%s: %d bytes" % (image_id, len(thumbnail))
