"""The Celery app of tests/integration/test_flows.py: the integration app, with the flows of ``flows/`` loaded.

The worker runs ``celery -A tests.integration.flow_app worker``; the
environment is the one :mod:`tests.integration.app` reads, plus
``FLOWTRACE_IT_NUDGE=0``, which turns the dispatchers' nudges off (they then
wake on their countdown only). The YAML names the run's queue and results
folder through ``{FLOWTRACE_IT_QUEUE}`` and ``{FLOWTRACE_IT_DIR}``.
"""

from __future__ import annotations

import contextlib
import os

import flowtrace
from tests.integration import app as base

FLOWS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "flows")

#: The dispatchers' countdown, the safety net: long, so that a flow that ends
#: quickly shows its dispatcher was woken by nudges.
COUNTDOWN = (30.0, 60.0)
#: With nudges off, the countdown is all there is.
COUNTDOWN_WITHOUT_NUDGE = (0.5, 2.0)


@contextlib.contextmanager
def _environment(**values):
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def load(app, run_dir, queue, nudge=True):
    """Load the flows onto ``app`` for the run in ``run_dir`` on ``queue``."""
    # Nudges are broadcasts: on a control exchange of their own they never reach the
    # workers of other integration tests, which do not know the command.
    app.conf.control_exchange = "flowtrace-it-flows"
    app.conf.flowtrace_nudge = nudge
    app.conf.flowtrace_dispatcher_countdown = COUNTDOWN if nudge else COUNTDOWN_WITHOUT_NUDGE
    with _environment(FLOWTRACE_IT_DIR=run_dir, FLOWTRACE_IT_QUEUE=queue):
        flowtrace.load_flows(FLOWS, app=app)
    return app


def make_flow_app(broker, run_dir, queue):
    """The producer's app (the pytest process)."""
    return load(base.make_app(broker, run_dir, queue), run_dir, queue)


if "FLOWTRACE_IT_BROKER" in os.environ:
    app = load(base.app, os.environ["FLOWTRACE_IT_DIR"], os.environ["FLOWTRACE_IT_QUEUE"],
               nudge=os.environ.get("FLOWTRACE_IT_NUDGE", "1") != "0")
