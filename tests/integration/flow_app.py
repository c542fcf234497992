"""The Celery app of tests/integration/test_flows.py: the integration app, with the flows of ``flows/`` loaded.

The worker runs ``celery -A tests.integration.flow_app worker``; the
environment is the one :mod:`tests.integration.app` reads, plus:

- ``FLOWTRACE_IT_NUDGE=0``, which turns the dispatchers' nudges off (they
  then wake on their countdown only);
- ``FLOWTRACE_IT_BACKEND_OUTAGE=1``, which gives the worker the result
  backend ``flow_tasks.OutageBackend``: the dispatcher's reads of an
  ``Unreadable`` node's state fail a few times.

The YAML names the run's queue and results folder through
``{FLOWTRACE_IT_QUEUE}`` and ``{FLOWTRACE_IT_DIR}``.
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
#: With the result backend failing: short too. The wake-up that a failed read
#: postponed was the one the node's nudge caused, and no other nudge comes for
#: that node, so the retries after RESULT_BACKEND_ISSUE run on the countdown
#: alone, which backs off from the first value: a second or two in all, not
#: 30 s or more per retry.
COUNTDOWN_WITH_OUTAGE = (0.25, 1.0)


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


def load(app, run_dir, queue, nudge=True, outage=False):
    """Load the flows onto ``app`` for the run in ``run_dir`` on ``queue``; ``outage``: see the module's docstring."""
    # Nudges are broadcasts: on a control exchange of their own they never reach the
    # workers of other integration tests, which do not know the command.
    app.conf.control_exchange = "flowtrace-it-flows"
    app.conf.flowtrace_nudge = nudge
    app.conf.flowtrace_dispatcher_countdown = (COUNTDOWN_WITH_OUTAGE if outage else
                                               COUNTDOWN if nudge else COUNTDOWN_WITHOUT_NUDGE)
    if outage:
        # Celery's "module:Class+url" form: the class, on the run's own file:// folder.
        app.conf.result_backend = "tests.integration.flow_tasks:OutageBackend+" + app.conf.result_backend
    with _environment(FLOWTRACE_IT_DIR=run_dir, FLOWTRACE_IT_QUEUE=queue):
        flowtrace.load_flows(FLOWS, app=app)
    return app


def make_flow_app(broker, run_dir, queue):
    """The producer's app (the pytest process)."""
    return load(base.make_app(broker, run_dir, queue), run_dir, queue)


if "FLOWTRACE_IT_BROKER" in os.environ:
    app = load(base.app, os.environ["FLOWTRACE_IT_DIR"], os.environ["FLOWTRACE_IT_QUEUE"],
               nudge=os.environ.get("FLOWTRACE_IT_NUDGE", "1") != "0",
               outage=os.environ.get("FLOWTRACE_IT_BACKEND_OUTAGE") == "1")
