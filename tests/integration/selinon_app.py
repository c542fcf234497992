"""The Celery app of tests/integration/test_selinon_tasks.py: the integration app, with selinon_flows/ loaded.

The worker runs ``celery -A tests.integration.selinon_app worker`` with
``FLOWTRACE_IT_INSTRUMENT=none``: nothing calls ``flowtrace.instrument``,
so the task events it writes come from ``load_flows(app=...)`` alone.
"""

from __future__ import annotations

import os
from unittest import mock

import flowtrace
from tests.integration import app as base

FLOWS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "selinon_flows")


def load(app, run_dir, queue):
    """Load selinon_flows/ onto ``app`` for the run in ``run_dir`` on ``queue``."""
    app.conf.control_exchange = "flowtrace-it-selinon"
    app.conf.flowtrace_dispatcher_countdown = (0.5, 2.0)
    # Not flow_app's helper: importing flow_app would load its flows onto the worker's app.
    with mock.patch.dict(os.environ, FLOWTRACE_IT_DIR=run_dir, FLOWTRACE_IT_QUEUE=queue):
        flowtrace.load_flows(FLOWS, app=app)
    return app


def make_selinon_app(broker, run_dir, queue):
    """The producer's app (the pytest process)."""
    return load(base.make_app(broker, run_dir, queue), run_dir, queue)


if "FLOWTRACE_IT_BROKER" in os.environ:
    app = load(base.app, os.environ["FLOWTRACE_IT_DIR"], os.environ["FLOWTRACE_IT_QUEUE"])
