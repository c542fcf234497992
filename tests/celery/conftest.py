"""Fixtures for the Celery integration's unit tests: an in-memory app, nothing instrumented after a test.

And, for the trace-context tests, the headers of the messages published and a current span.
"""

import pytest
from celery import Celery, signals
from celery.exceptions import Ignore, Reject
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from flowtrace.celery import _registry, uninstrument
from tests.celery.propagation import SPAN, TRACE


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


@pytest.fixture
def published():
    """The headers of every message published in the test, as sent, in order."""
    sent = []

    def keep(headers=None, **_):
        sent.append(headers)

    signals.after_task_publish.connect(keep, weak=False, dispatch_uid="tests.published")
    yield sent
    signals.after_task_publish.disconnect(dispatch_uid="tests.published")


@pytest.fixture
def in_span():
    """Make a span with ids (trace_id, span_id) current, as a web framework's instrumentation would."""
    tokens = []

    def enter(trace_id=TRACE, span_id=SPAN, flags=1):
        span = NonRecordingSpan(SpanContext(int(trace_id, 16), int(span_id, 16), is_remote=False,
                                            trace_flags=TraceFlags(flags)))
        tokens.append(otel_context.attach(trace.set_span_in_context(span)))

    yield enter
    for token in reversed(tokens):
        otel_context.detach(token)
