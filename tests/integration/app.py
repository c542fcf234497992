"""The Celery app the integration tests run in real ``celery worker`` subprocesses.

The pytest process builds the same app with :func:`make_app` to send tasks.
The worker imports this module (``celery -A tests.integration.app worker``),
which builds the app from environment variables:

- ``FLOWTRACE_IT_BROKER``: the broker URL; ``filesystem://`` keeps its
  folders under ``FLOWTRACE_IT_DIR``;
- ``FLOWTRACE_IT_DIR``: the run's folder (broker folders, results);
- ``FLOWTRACE_IT_QUEUE``: the run's queue (and Redis key prefix), so that
  runs sharing a broker never see each other's tasks;
- ``FLOWTRACE_IT_EVENTS``: the JSON lines file every process appends to;
- ``FLOWTRACE_IT_INSTRUMENT``: when the worker calls ``flowtrace.instrument``:
  ``import`` (here, before the worker starts), ``worker_ready`` (in the main
  process once the pool runs), ``process_init`` (in each prefork child),
  ``everywhere`` (all three), or ``none``;
- ``FLOWTRACE_IT_CLIENT``: the name of the worker's broker connections;
- ``FLOWTRACE_IT_SENTRY`` / ``FLOWTRACE_IT_OTEL``: files that enable
  sentry-sdk's CeleryIntegration / OpenTelemetry's CeleryInstrumentor and
  record what each of them captures;
- ``FLOWTRACE_IT_LOGS``: a JSON lines file for the worker's log records, with
  flowtrace's log correlation on (``CorrelationFilter`` on the root logger's
  handlers, ``structlog_processor`` in structlog), and a ``task_postrun``
  receiver connected after flowtrace's that logs for ``it.log``.
"""

from __future__ import annotations

import json
import logging
import os
import time

from celery import Celery, signals
from celery.exceptions import Ignore, Reject
from celery.worker.control import control_command
from kombu import Exchange, Queue

import flowtrace
from flowtrace import Trace
from flowtrace.celery import embedded


class ExpectedError(Exception):
    """Listed in ``it.expected``'s ``throws``."""


def broker_options(url: str, name: str, client_name: str) -> dict:
    """Transport options that keep one run's broker state apart from every other run's.

    ``client_name`` names the connections on Redis and RabbitMQ, so that a test
    can close exactly the worker's connections to make it reconnect.
    """
    if url.startswith("redis"):
        return {"global_keyprefix": name + ":", "client_name": client_name}
    if url.startswith(("amqp", "pyamqp")):
        return {"client_properties": {"connection_name": client_name}}
    return {}


def make_app(broker: str, run_dir: str, queue: str, client_name: str = None) -> Celery:
    """Build the integration app; the same tasks in the pytest process and in the worker."""
    app = Celery("flowtrace_it", set_as_current=False)
    # The embedded broker's settings (and the file:// result backend) come from
    # flowtrace.celery.embedded, which also writes message files whole (kombu #1551).
    app.conf.update(embedded.celery_config(run_dir))
    if not broker.startswith("filesystem:"):
        app.conf.update(
            broker_url=broker,
            broker_transport=None,
            broker_transport_options=broker_options(broker, queue, client_name or queue + "-producer"),
        )
    app.conf.update(
        task_default_queue=queue,
        # Nothing a run declares on RabbitMQ outlives it for long: the queue
        # expires 15 minutes after its last use, and takes its exchange along.
        task_queues=[Queue(queue, Exchange(queue, durable=False, auto_delete=True), routing_key=queue,
                           expires=900)],
        # One control exchange for all runs: a run's broadcasts name their
        # destination worker, and per-run names would pile up on RabbitMQ.
        control_exchange="flowtrace-it",
        worker_prefetch_multiplier=1,
        # A killed pool child is reported after this wait (WorkerLostError); 10 s by default.
        worker_lost_wait=1.0,
        accept_content=["json"],
    )

    @app.task(shared=False, name="it.ok")
    def ok(value=None, **kwargs):
        return value

    @app.task(shared=False, name="it.fail")
    def fail(message="boom"):
        raise ValueError(message)

    @app.task(shared=False, name="it.expected", throws=(ExpectedError,))
    def expected():
        raise ExpectedError("declared in throws")

    @app.task(shared=False, name="it.retry_once", bind=True, max_retries=3)
    def retry_once(self):
        if self.request.retries == 0:
            raise self.retry(exc=KeyError("flaky"), countdown=0.2)
        return "second time lucky"

    @app.task(shared=False, name="it.ignore")
    def ignore():
        raise Ignore()

    @app.task(shared=False, name="it.reject")
    def reject():
        raise Reject("cannot use this input", requeue=False)

    @app.task(shared=False, name="it.sleep")
    def sleep(seconds):
        time.sleep(seconds)
        return seconds

    @app.task(shared=False, name="it.die")
    def die():
        os.kill(os.getpid(), 9)

    @app.task(shared=False, name="it.die_once", acks_late=True, reject_on_worker_lost=True)
    def die_once(marker):
        # The first delivery dies; Celery puts the message back and the second one runs.
        if not os.path.exists(marker):
            open(marker, "w").close()
            os.kill(os.getpid(), 9)
        return "redelivered"

    @app.task(shared=False, name="it.hard_limit", time_limit=1)
    def hard_limit():
        time.sleep(30)

    @app.task(shared=False, name="it.log")
    def log(label, fail=False):
        _log_inside(label)
        if fail:
            raise ValueError(label)
        return label

    return app


def _log_inside(label):
    """Log through the task's own logger, a third-party library's and structlog, as a task would."""
    import structlog

    own = logging.getLogger("it.correlation")
    own.info("own %s", label)
    logging.getLogger("urllib3.connectionpool").warning("third-party %s", label)
    own.info("explicit %s", label, extra={"task_id": "set-by-user"})
    structlog.get_logger("it.structlog").info("structlog", label=label)
    structlog.get_logger("it.structlog").info("structlog explicit", label=label, task_name="set-by-user")


# --- the worker side --------------------------------------------------------

def _instrument_now(app):
    flowtrace.instrument(app, include_args=True)


def _line_writer(path):
    """A function writing one JSON line to ``path`` per call, safe across processes."""

    def write(record):
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (json.dumps(record, default=str, sort_keys=True) + "\n").encode())
        finally:
            os.close(fd)

    return write


def _setup_sentry(path):
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.transport import Transport

    write = _line_writer(path)

    class FileTransport(Transport):
        """Writes what sentry-sdk would send, synchronously, to the test's file.

        One line per error event and per transaction (sentry-sdk 2.x), and one
        per span of a ``span`` item (3.x streams spans, in batches per trace,
        instead of sending transactions).
        """

        def capture_envelope(self, envelope):
            for item in envelope.items:
                payload = item.payload.json
                if payload is None:
                    continue
                if item.type in ("event", "transaction"):
                    write({"item": item.type, "payload": payload})
                elif item.type == "span":
                    for span in payload["items"]:
                        write({"item": "span", "payload": span})

        def flush(self, timeout, callback=None):
            return None

        def kill(self):
            return None

    sentry_sdk.init(dsn="http://public@127.0.0.1:9/1", transport=FileTransport, traces_sample_rate=1.0,
                    integrations=[CeleryIntegration()], default_integrations=False)


def _setup_otel(path):
    from opentelemetry import trace
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

    write = _line_writer(path)

    class FileExporter(SpanExporter):
        def export(self, spans):
            for span in spans:
                write({"name": span.name, "kind": span.kind.name, "status": span.status.status_code.name,
                       "attributes": dict(span.attributes or {}),
                       "events": [event.name for event in span.events],
                       "trace_id": "%032x" % span.context.trace_id,
                       "span_id": "%016x" % span.context.span_id,
                       "parent": "%016x" % span.parent.span_id if span.parent else None})
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(FileExporter()))
    trace.set_tracer_provider(provider)

    # As OpenTelemetry's documentation says: instrument in each pool child.
    @signals.worker_process_init.connect(weak=False)
    def _instrument_child(**_):
        CeleryInstrumentor().instrument()


def _setup_logs(path):
    import structlog

    from flowtrace import correlation

    write = _line_writer(path)

    class JsonLines(logging.Handler):
        """One JSON line per record, with the correlation fields the filter set."""

        def emit(self, record):
            line = {"source": "logging", "logger": record.name, "level": record.levelname,
                    "message": record.getMessage(), "process": record.processName, "pid": record.process,
                    "thread": record.threadName}
            line.update({key: getattr(record, key, "<missing>") for key in correlation.FIELDS})
            write(line)

    # Celery sets up the worker's logging after this module is imported (and
    # empties the root logger's handlers), so the handler and the filter go in
    # once it has; the pool children inherit both.
    @signals.after_setup_logger.connect(weak=False)
    def _add_handler(logger=None, **_):
        logger.addHandler(JsonLines())
        correlation.install(logger)

    def render(logger, method_name, event_dict):
        write(dict(event_dict, source="structlog", pid=os.getpid()))
        raise structlog.DropEvent

    structlog.configure(processors=[correlation.structlog_processor, render], cache_logger_on_first_use=False)

    # Connected after instrument(): runs once flowtrace's postrun ended the attempt's fields.
    @signals.task_postrun.connect(weak=False)
    def _after_postrun(task_id=None, task=None, **_):
        if task is not None and task.name == "it.log":
            logging.getLogger("it.after").info("postrun receiver %s", task_id)


@control_command()
def flowtrace_it_break_connection(state):
    """Make the consumer's next read fail as a lost connection does (for the filesystem broker)."""
    connection = state.consumer.connection
    original = connection.drain_events
    error = connection.connection_errors[0]

    def fail_once(*args, **kwargs):
        connection.drain_events = original
        raise error("flowtrace integration test: simulated connection loss")

    connection.drain_events = fail_once
    return {"ok": "connection will break"}


def _from_environment():
    env = os.environ
    app = make_app(env["FLOWTRACE_IT_BROKER"], env["FLOWTRACE_IT_DIR"], env["FLOWTRACE_IT_QUEUE"],
                   env.get("FLOWTRACE_IT_CLIENT"))
    events = env.get("FLOWTRACE_IT_EVENTS")
    if events:
        # Registered before the pool forks, so every child inherits the sink.
        Trace.trace_by_json(events)
    if env.get("FLOWTRACE_IT_SENTRY"):
        _setup_sentry(env["FLOWTRACE_IT_SENTRY"])
    if env.get("FLOWTRACE_IT_OTEL"):
        _setup_otel(env["FLOWTRACE_IT_OTEL"])
    when = env.get("FLOWTRACE_IT_INSTRUMENT", "import")
    if when in ("import", "everywhere"):
        _instrument_now(app)
    if when == "everywhere":
        # Every place a user might call it, all at once: the events must not double.
        signals.worker_ready.connect(lambda **_: _instrument_now(app), weak=False)
        signals.worker_process_init.connect(lambda **_: _instrument_now(app), weak=False)
    elif when == "worker_ready":
        @signals.worker_ready.connect(weak=False)
        def _late(**_):
            _instrument_now(app)
            print("flowtrace-it: instrumented in the main process", flush=True)
    elif when == "process_init":
        @signals.worker_process_init.connect(weak=False)
        def _in_child(**_):
            _instrument_now(app)
    elif when not in ("none", "import", "everywhere"):
        raise ValueError("unknown FLOWTRACE_IT_INSTRUMENT %r" % (when,))
    if env.get("FLOWTRACE_IT_LOGS"):
        _setup_logs(env["FLOWTRACE_IT_LOGS"])
    return app


if "FLOWTRACE_IT_BROKER" in os.environ:
    app = _from_environment()
