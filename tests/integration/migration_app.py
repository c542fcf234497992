"""The Celery app of tests/integration/test_migrations.py: the integration app, with one version of migration_flows/.

The worker runs ``celery -A tests.integration.migration_app worker``; the
environment is the one :mod:`tests.integration.app` reads, plus
``FLOWTRACE_IT_FLOWS``: the version to load, ``v1`` or ``v2`` (a folder of
``migration_flows/``). The YAML's ``global: migration_dir`` is the run's
``migrations`` folder.

Task B goes to a queue of its own, :func:`held_queue`, which a worker of
version 1 does not consume and one of version 2 does: under version 1 the
flow stops with A finished and B sent, and its dispatcher waking on its
countdown sees that state whenever it wakes, so that the state a stopped
worker leaves queued is known. (A B that ran and ended under version 1
would not do: a worker in warm shutdown still hands the dispatcher messages
that come due in its timer to its pool while a task finishes, and one of
them can end the flow before the worker exits.)

Nudges are off: a dispatcher wakes on its countdown only.
"""

from __future__ import annotations

import os
from unittest import mock

from celery import signals
from kombu import Exchange, Queue

import flowtrace
from tests.integration import app as base

FLOWS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "migration_flows")
#: The dispatchers' countdown: short, since it is all that wakes them.
COUNTDOWN = (0.5, 1.0)


def flows(version: str) -> str:
    """The folder of configuration ``version`` (``v1`` or ``v2``)."""
    return os.path.join(FLOWS, version)


def migration_dir(run_dir: str) -> str:
    """The run's migration folder, as the YAML's ``global: migration_dir`` names it."""
    return os.path.join(run_dir, "migrations")


def held_queue(queue: str) -> Queue:
    """The queue of task B, for the run on ``queue``; declared as the run's own, so that it expires with the run."""
    name = queue + "-held"
    return Queue(name, Exchange(name, durable=False, auto_delete=True), routing_key=name, expires=900)


def load(app, run_dir, queue, version):
    """Load configuration ``version`` onto ``app`` for the run in ``run_dir`` on ``queue``."""
    app.conf.task_queues = list(app.conf.task_queues) + [held_queue(queue)]
    app.conf.control_exchange = "flowtrace-it-migrations"
    app.conf.flowtrace_nudge = False
    app.conf.flowtrace_dispatcher_countdown = COUNTDOWN
    with mock.patch.dict(os.environ, FLOWTRACE_IT_DIR=run_dir, FLOWTRACE_IT_QUEUE=queue):
        flowtrace.load_flows(flows(version), app=app)
    return app


def make_migration_app(broker, run_dir, queue):
    """The producer's app (the pytest process): version 1, which starts the flows."""
    return load(base.make_app(broker, run_dir, queue), run_dir, queue, "v1")


if "FLOWTRACE_IT_BROKER" in os.environ:
    app = load(base.app, os.environ["FLOWTRACE_IT_DIR"], os.environ["FLOWTRACE_IT_QUEUE"],
               os.environ["FLOWTRACE_IT_FLOWS"])

    if os.environ["FLOWTRACE_IT_FLOWS"] != "v1":
        # The worker's -Q names the run's queue only; Celery's documented way to add one.
        @signals.celeryd_after_setup.connect(weak=False)
        def _consume_held(sender=None, instance=None, **_):
            instance.app.amqp.queues.select_add(held_queue(os.environ["FLOWTRACE_IT_QUEUE"]))
