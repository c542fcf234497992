"""Fixtures for the Celery integration's unit tests: an in-memory app, nothing instrumented after a test."""

import pytest
from celery import Celery
from celery.exceptions import Ignore, Reject

from flowtrace.celery import _registry, uninstrument


class Expected(Exception):
    """Listed in ``throws`` of the ``expected`` task."""


@pytest.fixture(autouse=True)
def _nothing_instrumented():
    yield
    for app in list(_registry.apps):
        uninstrument(app)


@pytest.fixture
def app():
    """A Celery app on the in-memory broker, with one task per outcome."""
    app = Celery("unit", broker="memory://", backend="cache+memory://", set_as_current=False)
    app.conf.task_default_queue = "unit"

    @app.task(shared=False, name="unit.ok")
    def ok(value=None, **kwargs):
        return value

    @app.task(shared=False, name="unit.fail")
    def fail():
        raise ValueError("boom")

    @app.task(shared=False, name="unit.expected", throws=(Expected,))
    def expected():
        raise Expected("declared")

    @app.task(shared=False, name="unit.retry", bind=True, max_retries=1)
    def retry(self):
        if self.request.retries == 0:
            raise self.retry(exc=KeyError("flaky"), countdown=5)
        return "again"

    @app.task(shared=False, name="unit.ignore")
    def ignore():
        raise Ignore()

    @app.task(shared=False, name="unit.reject")
    def reject():
        raise Reject("bad input", requeue=True)

    yield app
    app.close()
