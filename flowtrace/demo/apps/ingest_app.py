"""The Celery app of the document ingestion example: the flows of ``ingest.yml``, traced to a JSON lines file.

``flowtrace demo`` starts a real ``celery worker`` on this module and starts
the flow from its own process. To run it by hand, point both sides at the
same folder through the environment::

    cd examples/flow_demo
    export INGEST_DIR=/tmp/ingest
    celery -A ingest_app worker --pool=prefork --concurrency=2 --loglevel=info

    # in another terminal, in the same folder, with the same INGEST_DIR:
    python -c 'import ingest_app; print(ingest_app.start(ingest_app.app).get(timeout=60))'
    flowtrace view $INGEST_DIR/events.jsonl

- ``INGEST_DIR``: the folder of Celery's embedded ``filesystem://`` broker
  and ``file://`` result backend (see :func:`flowtrace.celery.embedded.celery_config`),
  of the ``Documents`` storage of ``ingest.yml`` (``INGEST_DIR/storage``)
  and of the events file ``events.jsonl`` that every process appends to;
- ``INGEST_READY`` (optional): a file the worker writes its process id to
  once it is ready to take tasks.
"""

from __future__ import annotations

import json
import os

from celery import Celery, signals

import flowtrace
import flowtrace.celery.embedded
from flowtrace import Trace

#: The flow configuration, next to this module.
FLOWS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ingest.yml")

#: The flow's arguments when the demo starts it.
BATCH = {"batch": "inbox-2026-11-21", "urgent": False}


def make_app(folder: str) -> Celery:
    """Build the app on the embedded broker and result backend in ``folder``, with the flows loaded.

    The producer and the worker each build it, with the same folder.
    """
    app = Celery("ingest", set_as_current=False)
    app.conf.update(flowtrace.celery.embedded.celery_config(folder))
    app.conf.update(
        accept_content=["json"],
        worker_prefetch_multiplier=1,
        # The dispatcher's own polling, the safety net: nodes that end wake it
        # at once (see "Reacting in milliseconds" in docs/flows.rst).
        flowtrace_dispatcher_countdown=(2.0, 10.0),
    )
    flowtrace.load_flows(FLOWS, app=app)
    return app


def trace(app: Celery, events_path: str):
    """Send this process's events, and those of the pool processes it forks, to ``events_path``.

    Returns:
        The JSON lines sink, for ``Trace.remove_sink``.
    """
    # Registered before the worker forks its pool, so that every pool process inherits it.
    sink = Trace.trace_by_json(events_path)
    flowtrace.instrument(app)
    return sink


def start(app: Celery, batch: dict | None = None):
    """Start the ``ingest_batch`` flow on ``app`` with ``batch`` (:data:`BATCH` by default); returns its AsyncResult."""
    return flowtrace.run_flow(app, "ingest_batch", dict(batch or BATCH))


def _announce_ready(path: str):
    def on_ready(sender=None, **_):
        # Written whole and then renamed, so that no reader sees half of it.
        partial = path + ".partial"
        with open(partial, "w") as f:
            json.dump({"pid": os.getpid(), "hostname": getattr(sender, "hostname", None)}, f)
        os.replace(partial, path)

    signals.worker_ready.connect(on_ready, weak=False, dispatch_uid="ingest_app.ready")


def _from_environment() -> Celery:
    folder = os.environ["INGEST_DIR"]
    made = make_app(folder)
    trace(made, os.path.join(folder, "events.jsonl"))
    if os.environ.get("INGEST_READY"):
        _announce_ready(os.environ["INGEST_READY"])
    return made


if "INGEST_DIR" in os.environ:
    app = _from_environment()
