"""The web side of the example: an upload handler that hands the image to the worker.

``python producer.py img-42`` sends one task inside a ``handle_upload`` span
and prints the trace id to look up in the trace backend.
"""

from __future__ import annotations

import sys

from opentelemetry import trace

from celery_app import resize_image
from tracing import init_tracing

provider = init_tracing("web-api")
tracer = trace.get_tracer("web-api")


def handle_upload(image_id: str) -> str:
    """What a request handler does: its span is the parent of the task, wherever the task runs."""
    with tracer.start_as_current_span("handle_upload") as span:
        span.set_attribute("image.id", image_id)
        resize_image.delay(image_id)
        return "%032x" % span.get_span_context().trace_id


if __name__ == "__main__":
    trace_id = handle_upload(sys.argv[1] if len(sys.argv) > 1 else "img-42")
    provider.shutdown()  # exports what the batch processor still holds
    print(trace_id)
