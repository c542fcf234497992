"""A small flow configuration on a Celery app with an in-memory broker, for tests/flow/test_start.py and test_canvas.py.

Nothing here crosses a process: messages stay in kombu's ``memory://``
transport, and eager apps run every task in-line.
"""

from __future__ import annotations

import contextlib

from celery import Celery, signals

import flowtrace

YAML = """
tasks:
  - {name: Fetch, import: tests.flow.sample, classname: FetchOrder}
  - {name: Charge, import: tests.flow.sample, classname: ChargeCard}
flows: [pair]
flow-definitions:
  - name: pair
    queue: flows
    edges:
      - {from: [], to: Fetch}
      - {from: Fetch, to: Charge}
"""


def make_app(tmp_path, eager=False, store_eager=False, backend="cache+memory://"):
    """An app named ``canvas`` with the flow ``pair`` (Fetch then Charge) loaded, and a task ``ok`` returning its argument."""
    path = tmp_path / "flows.yml"
    path.write_text(YAML)
    app = Celery("canvas", broker="memory://", backend=backend, set_as_current=False)
    app.conf.update(task_always_eager=eager, task_store_eager_result=store_eager, flowtrace_nudge=False,
                    task_default_queue="celery")

    @app.task(name="ok", shared=False)
    def ok(value=None):
        return value

    flowtrace.load_flows(str(path), app=app)
    return app


@contextlib.contextmanager
def published():
    """Record every message published in this process: ``(routing_key, headers, body, properties)``."""
    sent = []

    def receiver(sender=None, body=None, routing_key=None, headers=None, properties=None, **_):
        sent.append((routing_key, dict(headers), body, dict(properties or {})))

    signals.before_task_publish.connect(receiver, weak=False, dispatch_uid="tests.flow.canvas_app")
    try:
        yield sent
    finally:
        signals.before_task_publish.disconnect(dispatch_uid="tests.flow.canvas_app")
