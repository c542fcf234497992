"""The Celery app behind ``flowtrace demo outcomes``: one task per outcome a task can have.

``flowtrace demo outcomes`` (and so ``make demo-outcomes``) starts a real
``celery worker`` on this module and sends the tasks from its own process.
To run it by hand, point both sides at the same folders through the
environment::

    export FLOWTRACE_DEMO_BROKER=/tmp/demo/broker FLOWTRACE_DEMO_RESULTS=/tmp/demo/results
    export FLOWTRACE_DEMO_EVENTS=/tmp/demo/events.jsonl PYTHONPATH=examples/celery_demo
    celery -A demo_app worker --pool=prefork --concurrency=2 --loglevel=info

- ``FLOWTRACE_DEMO_BROKER``: the folder of Celery's embedded ``filesystem://``
  broker (its queue, processed and control sub-folders are made in it);
- ``FLOWTRACE_DEMO_RESULTS``: the folder of the ``file://`` result backend;
- ``FLOWTRACE_DEMO_EVENTS``: the JSON lines file every process appends its
  events to;
- ``FLOWTRACE_DEMO_READY`` (optional): a file the worker writes its process
  id to once it is ready to take tasks.
"""

from __future__ import annotations

import json
import os

from celery import Celery, signals
from celery.exceptions import Ignore, Reject

import flowtrace
import flowtrace.celery.embedded
from flowtrace import Trace

#: How long ``flaky`` waits before its second attempt, in seconds.
RETRY_COUNTDOWN = 0.2


def make_app(broker_dir: str, results_dir: str) -> Celery:
    """Build the demo app on a filesystem broker in ``broker_dir`` and a file backend in ``results_dir``.

    The producer and the worker each build it, with the same folders.
    """
    app = Celery("flowtrace_demo", set_as_current=False)
    # The embedded broker, whose message files are written whole (kombu #1551).
    app.conf.update(flowtrace.celery.embedded.celery_config(broker_dir, results=False))
    os.makedirs(results_dir, exist_ok=True)
    app.conf.update(
        result_backend="file://" + os.path.abspath(results_dir),
        accept_content=["json"],
        worker_prefetch_multiplier=1,
    )

    @app.task(name="demo.add")
    def add(x, y):
        """Succeeds."""
        return x + y

    @app.task(name="demo.flaky", bind=True, max_retries=3)
    def flaky(self):
        """Fails its first attempt and asks to be retried; the second attempt succeeds."""
        if self.request.retries == 0:
            raise self.retry(exc=ConnectionError("upstream busy"), countdown=RETRY_COUNTDOWN)
        return "second time lucky"

    @app.task(name="demo.divide")
    def divide(x, y):
        """Fails with ZeroDivisionError when ``y`` is 0."""
        return x / y

    @app.task(name="demo.skip")
    def skip():
        """Tells the worker to ignore the task: no result is stored."""
        raise Ignore()

    @app.task(name="demo.refuse")
    def refuse():
        """Rejects its message without requeueing it."""
        raise Reject("refusing this input", requeue=False)

    @app.task(name="demo.slow")
    def slow():
        """Would succeed, but the demo revokes it while it waits for its countdown."""
        return "too late"

    return app


def trace(app: Celery, events_path: str):
    """Send this process's events, and those of the pool children it forks, to ``events_path``.

    Returns:
        The JSON lines sink, for ``Trace.remove_sink``.
    """
    # Registered before the worker forks its pool, so that every child inherits the sink.
    sink = Trace.trace_by_json(events_path)
    flowtrace.instrument(app, include_args=True)
    return sink


def _announce_ready(path: str):
    def on_ready(sender=None, **_):
        # Written whole and then renamed, so the demo never reads half a file.
        partial = path + ".partial"
        with open(partial, "w") as f:
            json.dump({"pid": os.getpid(), "hostname": getattr(sender, "hostname", None)}, f)
        os.replace(partial, path)

    signals.worker_ready.connect(on_ready, weak=False, dispatch_uid="flowtrace_demo.ready")


def _from_environment() -> Celery:
    env = os.environ
    made = make_app(env["FLOWTRACE_DEMO_BROKER"], env["FLOWTRACE_DEMO_RESULTS"])
    trace(made, env["FLOWTRACE_DEMO_EVENTS"])
    if env.get("FLOWTRACE_DEMO_READY"):
        _announce_ready(env["FLOWTRACE_DEMO_READY"])
    return made


if "FLOWTRACE_DEMO_BROKER" in os.environ:
    app = _from_environment()
