"""The order worker: ``celery -A tasks worker`` in this folder.

The broker is ``ORDERS_BROKER_URL``, or Celery's embedded ``filesystem://``
broker in the folder ``ORDERS_DIR``. The task needs no tracing code of its
own beyond the child spans it wants: the trace context arrives in the
message headers, and the attempt's span is current while it runs.
"""

from __future__ import annotations

import os
import time

from celery import Celery, signals
from opentelemetry import trace

import flowtrace
import flowtrace.celery.embedded

app = Celery("orders")
if os.environ.get("ORDERS_BROKER_URL"):
    app.conf.broker_url = os.environ["ORDERS_BROKER_URL"]
else:
    app.conf.update(flowtrace.celery.embedded.celery_config(os.environ.get("ORDERS_DIR", "/tmp/flowtrace-orders"),
                                                            results=False))
app.conf.update(task_default_queue=os.environ.get("ORDERS_QUEUE", "orders"), task_ignore_result=True,
                worker_prefetch_multiplier=1)
flowtrace.instrument(app)

tracer = trace.get_tracer("order-worker")


@signals.worker_init.connect(weak=False)
def _worker_tracing(**_):
    from tracing import init_tracing

    init_tracing("order-worker")


@app.task(name="orders.process_order", bind=True, max_retries=3)
def process_order(self, order_id: str, order: dict) -> str:
    """Confirm the order by e-mail and update the inventory, each in a span of its own."""
    span = trace.get_current_span()  # the attempt's span
    span.set_attribute("order.id", order_id)
    span.set_attribute("order.retry_count", self.request.retries)
    with tracer.start_as_current_span("send_confirmation_email") as email:
        email.set_attribute("email.recipient", order["user_id"])
        time.sleep(0.02)
    with tracer.start_as_current_span("update_inventory") as inventory:
        inventory.set_attribute("product.id", order["product_id"])
        inventory.set_attribute("inventory.delta", -order["quantity"])
        time.sleep(0.01)
    return "completed"
