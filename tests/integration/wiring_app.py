"""The Celery app of tests/integration/test_wiring.py: the integration app, with wiring_flows/ loaded."""

from __future__ import annotations

import os
from unittest import mock

import flowtrace
from tests.integration import app as base

FLOWS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "wiring_flows")


def load(app, run_dir, queue):
    """Load wiring_flows/ onto ``app`` for the run in ``run_dir`` on ``queue``."""
    app.conf.control_exchange = "flowtrace-it-wiring"
    app.conf.flowtrace_dispatcher_countdown = (0.5, 2.0)
    with mock.patch.dict(os.environ, FLOWTRACE_IT_DIR=run_dir, FLOWTRACE_IT_QUEUE=queue):
        flowtrace.load_flows(FLOWS, app=app)
    return app


def make_wiring_app(broker, run_dir, queue):
    """The producer's app (the pytest process)."""
    return load(base.make_app(broker, run_dir, queue), run_dir, queue)


if "FLOWTRACE_IT_BROKER" in os.environ:
    app = load(base.app, os.environ["FLOWTRACE_IT_DIR"], os.environ["FLOWTRACE_IT_QUEUE"])
