"""The order API: ``uvicorn main:app`` in this folder.

``POST /orders`` validates the order, saves it and hands it to the worker.
Every request is a server span (FastAPI's own telemetry makes it; on an
older FastAPI, the few lines of middleware below, as the FastAPI
instrumentation of opentelemetry-python-contrib would), the validation and
the saving are its children, and the task the handler sends is its child
too, in the worker's service: one trace for the whole order.
"""

from __future__ import annotations

import uuid
from contextlib import asynccontextmanager

from fastapi import FastAPI, HTTPException, Request
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from pydantic import BaseModel

from tasks import process_order
from tracing import init_tracing

provider = init_tracing("order-api")
tracer = trace.get_tracer("order-api")

#: The saved orders; a real service has a database.
ORDERS: dict = {}


@asynccontextmanager
async def lifespan(app):
    yield
    provider.shutdown()  # export what the batch processor still holds


async def server_span(request: Request, call_next):
    """A server span per request, continuing the caller's trace when it sent a traceparent."""
    parent = propagate.extract(dict(request.headers))
    with tracer.start_as_current_span("%s %s" % (request.method, request.url.path), context=parent,
                                      kind=SpanKind.SERVER) as span:
        span.set_attribute("http.request.method", request.method)
        response = await call_next(request)
        span.set_attribute("http.response.status_code", response.status_code)
        if response.status_code >= 500:
            span.set_status(Status(StatusCode.ERROR))
        return response


try:
    # FastAPI makes the server span of each request itself once a tracer
    # provider is set; the spans of its own internals are left out here.
    app = FastAPI(lifespan=lifespan, telemetry={"operation_spans": False})
except TypeError:  # a FastAPI without native telemetry: a middleware does it
    app = FastAPI(lifespan=lifespan)
    app.middleware("http")(server_span)


class Order(BaseModel):
    user_id: str
    product_id: str
    quantity: int


@app.post("/orders")
def create_order(order: Order):
    """Validate, save, and hand the order to the worker."""
    span = trace.get_current_span()
    span.set_attribute("order.user_id", order.user_id)
    with tracer.start_as_current_span("validate_order") as validation:
        if order.quantity <= 0:
            validation.set_attribute("validation.error", "invalid_quantity")
            raise HTTPException(status_code=400, detail="quantity must be positive")
    with tracer.start_as_current_span("save_order") as saving:
        order_id = "order-%s" % uuid.uuid4().hex[:12]
        ORDERS[order_id] = order.model_dump()
        saving.set_attribute("order.id", order_id)
    # No headers to build: flowtrace puts this request's trace context into the message.
    process_order.delay(order_id, order.model_dump())
    return {"order_id": order_id, "status": "processing",
            "trace_id": "%032x" % span.get_span_context().trace_id}
