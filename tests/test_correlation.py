"""Tests for flowtrace.correlation: a task's ids on log records, and nothing after the task.

Tasks run in this process through Celery's own tracer (``build_tracer``, as a
worker child calls it) or eagerly; a real worker is in
tests/integration/test_correlation.py.
"""

import io
import logging
import threading
import uuid

import pytest
import structlog
from celery import Celery, signals
from celery.app.trace import build_tracer
from celery.exceptions import Ignore, Reject

import flowtrace
from flowtrace import Trace, context, correlation
from flowtrace.celery import _main, _patches, _registry, _stamp, instrument, uninstrument
from flowtrace.correlation import FIELDS, CorrelationFilter, current_fields, install, structlog_processor

NOTHING = dict.fromkeys(FIELDS)


def fields(task_id, task_name, **more):
    """The expected fields of a task, with no trace and no flow unless given."""
    return dict(NOTHING, task_id=task_id, task_name=task_name, **more)


class Hex:
    """Equal to any string of ``digits`` lower-case hex digits: an id flowtrace chose."""

    def __init__(self, digits):
        self.digits = digits

    def __eq__(self, other):
        return (isinstance(other, str) and len(other) == self.digits
                and all(c in "0123456789abcdef" for c in other) and other.strip("0") != "")

    def __repr__(self):
        return "<%d hex digits>" % self.digits


TRACE_ID, SPAN_ID = Hex(32), Hex(16)


def traced(task_id, task_name, **more):
    """The expected fields inside a task attempt: its own trace and span ids too."""
    return fields(task_id, task_name, trace_id=TRACE_ID, span_id=SPAN_ID, **more)


class ListHandler(logging.Handler):
    """Keeps every record it handles."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records = []

    def emit(self, record):
        self.records.append(record)


def record_fields(record):
    return {key: getattr(record, key) for key in FIELDS}


@pytest.fixture(autouse=True)
def _nothing_instrumented():
    yield
    for app in list(_registry.apps):
        uninstrument(app)


@pytest.fixture
def seen():
    """What the tasks of ``app`` saw: ``current_fields()`` inside their bodies, in order."""
    return []


@pytest.fixture
def handler():
    """A handler with the filter on the root logger, and a third-party logger that reaches it."""
    handler = ListHandler()
    handler.addFilter(CorrelationFilter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(old_level)


@pytest.fixture
def app(seen):
    """A Celery app on the in-memory broker, instrumented, whose tasks log and record their fields."""
    app = Celery("correlation", broker="memory://", backend="cache+memory://", set_as_current=False)
    app.conf.task_default_queue = "unit"
    own = logging.getLogger("tests.correlation.task")
    third_party = logging.getLogger("urllib3.connectionpool")

    def body(label):
        seen.append(current_fields())
        own.info("own %s", label)
        third_party.warning("third-party %s", label)

    @app.task(shared=False, name="unit.ok")
    def ok(label="ok", **kwargs):
        body(label)
        return label

    @app.task(shared=False, name="unit.fail")
    def fail():
        body("fail")
        raise ValueError("boom")

    @app.task(shared=False, name="unit.retry", bind=True, max_retries=1)
    def retry(self):
        body("retry")
        if self.request.retries == 0:
            raise self.retry(exc=KeyError("flaky"), countdown=5)
        return "again"

    @app.task(shared=False, name="unit.ignore")
    def ignore():
        body("ignore")
        raise Ignore()

    @app.task(shared=False, name="unit.reject")
    def reject():
        body("reject")
        raise Reject("bad input", requeue=False)

    @app.task(shared=False, name="unit.wait")
    def wait(barrier_id):
        # Both threads are inside their tasks before either reads its fields.
        BARRIERS[barrier_id].wait(5)
        body("wait")
        BARRIERS[barrier_id].wait(5)
        seen.append(current_fields())

    instrument(app)
    yield app
    app.close()


BARRIERS = {}


def worker_call(app, name, args=(), kwargs=None, task_id=None, **headers):
    """Run a task through the tracer a worker child builds (not eager), in this thread."""
    task = app.tasks[name]
    task_id = task_id or str(uuid.uuid4())
    tracer = build_tracer(name, task, app=app, hostname="unit@host")
    request = {"id": task_id, "task": name, "root_id": task_id, "parent_id": None, "retries": 0,
               "hostname": "unit@host", "is_eager": False, "delivery_info": {"exchange": "", "routing_key": "unit"},
               **headers}
    tracer(task_id, list(args), kwargs or {}, request)
    return task_id


class TestCurrentFields:
    """current_fields() and bind_fields()."""

    def test_outside_a_task(self):
        """Outside a task and a trace, every field is None."""
        assert NOTHING == current_fields()

    def test_trace_ids_come_from_the_trace_context(self):
        """trace_id and span_id are those of flowtrace.context, inside a task or not."""
        token = context.set_ids("a" * 32, "b" * 16)
        try:
            assert dict(NOTHING, trace_id="a" * 32, span_id="b" * 16) == current_fields()
        finally:
            context.reset_ids(token)

    def test_bind_fields_inside_an_attempt(self):
        """bind_fields adds flow fields to the running attempt, and they end with it."""
        token = context.enter_task({"task_id": "t1", "task_name": "n"})
        try:
            assert context.bind_fields(flow_name="orders", dispatcher_id="d1") is True
            assert fields("t1", "n", flow_name="orders", dispatcher_id="d1") == current_fields()
        finally:
            context.exit_task(token)
        assert NOTHING == current_fields()

    def test_bind_fields_outside_an_attempt(self):
        """Outside an attempt bind_fields binds nothing and says so."""
        assert (False, NOTHING) == (context.bind_fields(flow_name="orders"), current_fields())

    def test_bind_fields_rejects_unknown_names(self):
        """A field that is not bindable is a ValueError naming it."""
        with pytest.raises(ValueError, match="'span_id'"):
            context.bind_fields(span_id="x")

    def test_exit_with_a_foreign_token_clears(self):
        """A token that cannot reset (used twice) still leaves nothing bound."""
        token = context.enter_task({"task_id": "t1"})
        context.exit_task(token)
        context.enter_task({"task_id": "stale"})
        context.exit_task(token)
        assert NOTHING == current_fields()


class TestFilter:
    """CorrelationFilter on a handler."""

    def test_outside_a_task_every_key_is_none(self, handler):
        """Outside a task, every field is set to None and the record passes."""
        logging.getLogger("tests.correlation").info("outside")
        assert [NOTHING] == [record_fields(r) for r in handler.records]

    def test_format_string_never_fails(self):
        """A format string naming the fields renders outside a task."""
        stream = io.StringIO()
        stream_handler = logging.StreamHandler(stream)
        stream_handler.setFormatter(logging.Formatter("%(task_id)s %(task_name)s %(trace_id)s %(message)s"))
        stream_handler.addFilter(CorrelationFilter())
        logger = logging.getLogger("tests.correlation.format")
        logger.addHandler(stream_handler)
        logger.propagate = False
        try:
            logger.warning("hello")
        finally:
            logger.removeHandler(stream_handler)
            logger.propagate = True
        assert "None None None hello\n" == stream.getvalue()

    def test_explicit_extra_wins(self, handler):
        """A field the caller passed in extra is left as it is; the others are still set."""
        token = context.enter_task({"task_id": "t1", "task_name": "n"})
        try:
            logging.getLogger("tests.correlation").info("explicit", extra={"task_id": "mine"})
        finally:
            context.exit_task(token)
        assert [fields("mine", "n")] == [record_fields(r) for r in handler.records]

    def test_celery_record_names_its_task(self, handler):
        """Outside a task, a Celery record whose data names a task gets that task's id and name."""
        data = {"id": "t9", "name": "shop.charge", "args": "()", "kwargs": "{}", "eta": None}
        logging.getLogger("celery.worker.strategy").info("Task %(name)s[%(id)s] received", data,
                                                         extra={"data": data})
        logging.getLogger("myapp").info("not Celery's", extra={"data": data})
        assert [fields("t9", "shop.charge"), NOTHING] == [record_fields(r) for r in handler.records]

    def test_never_drops(self):
        """filter() returns True inside and outside a task."""
        record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", (), None)
        token = context.enter_task({"task_id": "t1"})
        try:
            inside = CorrelationFilter().filter(record)
        finally:
            context.exit_task(token)
        assert (True, True) == (inside, CorrelationFilter().filter(logging.LogRecord("x", 20, "", 1, "m", (), None)))


class TestStructlogProcessor:
    """structlog_processor."""

    def test_inside_a_task(self):
        """Inside a task, the known fields are added and the user's own keys are kept."""
        token = context.enter_task({"task_id": "t1", "task_name": "n"})
        try:
            event = structlog_processor(None, "info", {"event": "hi", "task_name": "user's"})
        finally:
            context.exit_task(token)
        assert {"event": "hi", "task_id": "t1", "task_name": "user's"} == event

    def test_outside_a_task_adds_nothing(self):
        """Outside a task and a trace, the event is unchanged."""
        assert {"event": "hi"} == structlog_processor(None, "info", {"event": "hi"})

    def test_foreign_celery_record(self):
        """A standard library record of Celery's, rendered by structlog, names the task it is about."""
        data = {"id": "t9", "name": "shop.charge"}
        record = logging.LogRecord("celery.worker.strategy", logging.INFO, "", 1, "received", (), None)
        record.data = data
        event = structlog_processor(None, "info", {"event": "received", "_record": record})
        assert {"event": "received", "_record": record, "task_id": "t9", "task_name": "shop.charge"} == event

    def test_in_a_structlog_chain(self, app):
        """Configured in structlog, a task's events carry its ids and later events do not."""
        out = []

        def keep(logger, method_name, event_dict):
            out.append(dict(event_dict))
            raise structlog.DropEvent

        logger = structlog.wrap_logger(None, processors=[structlog_processor, keep])
        task = app.tasks["unit.ok"]
        original = task.run
        task.run = lambda label="ok": (logger.info("inside", label=label), label)[1]
        try:
            task_id = worker_call(app, "unit.ok")
        finally:
            task.run = original
        logger.info("after")
        assert [{"event": "inside", "label": "ok", "task_id": task_id, "task_name": "unit.ok", "trace_id": TRACE_ID,
                 "span_id": SPAN_ID}, {"event": "after"}] == out


class TestInstall:
    """install()."""

    def test_adds_once_to_each_handler(self):
        """Each handler of the logger gets one filter; a second call adds none."""
        logger = logging.getLogger("tests.correlation.install")
        first, second = logging.NullHandler(), logging.NullHandler()
        logger.addHandler(first)
        logger.addHandler(second)
        try:
            assert (2, 0) == (install(logger), install("tests.correlation.install"))
            assert [1, 1] == [sum(isinstance(f, CorrelationFilter) for f in h.filters) for h in (first, second)]
        finally:
            logger.removeHandler(first)
            logger.removeHandler(second)

    def test_root_by_default(self, monkeypatch):
        """Without an argument, the root logger's handlers get it."""
        handler = logging.NullHandler()
        monkeypatch.setattr(logging.getLogger(), "handlers", [handler])
        assert (1, True) == (install(), any(isinstance(f, CorrelationFilter) for f in handler.filters))

    def test_rejects_other_values(self):
        """Anything but a logger, a name or None is a ValueError."""
        with pytest.raises(ValueError, match="42"):
            install(42)

    def test_exported_lazily(self):
        """flowtrace.CorrelationFilter is the module's class."""
        assert flowtrace.CorrelationFilter is correlation.CorrelationFilter


class TestAttempts:
    """The Celery integration binds the fields from prerun to postrun, for every outcome."""

    @pytest.mark.parametrize("name", ["unit.ok", "unit.fail", "unit.retry", "unit.ignore", "unit.reject"])
    def test_fields_inside_and_none_after(self, app, seen, handler, name):
        """Every record inside the body has the task's fields, third-party loggers included; none after."""
        task_id = worker_call(app, name)
        logging.getLogger("tests.correlation").info("after the task")
        assert [traced(task_id, name)] == seen
        inside = [record_fields(r) for r in handler.records if r.name in ("tests.correlation.task",
                                                                          "urllib3.connectionpool")]
        assert [traced(task_id, name)] * 2 == inside
        assert NOTHING == record_fields(handler.records[-1])
        assert NOTHING == current_fields()

    def test_without_sinks(self, app, seen):
        """The fields are bound with no sink registered: correlation does not need tracing on."""
        assert not Trace.enabled
        task_id = worker_call(app, "unit.ok")
        assert ([traced(task_id, "unit.ok")], NOTHING) == (seen, current_fields())

    def test_no_bleed_into_the_next_task(self, app, seen, handler):
        """Two tasks in a row in one thread each see only their own fields."""
        first = worker_call(app, "unit.fail")
        second = worker_call(app, "unit.ok")
        assert [traced(first, "unit.fail"), traced(second, "unit.ok")] == seen
        own = [r.task_id for r in handler.records if r.name == "tests.correlation.task"]
        assert [first, second] == own

    def test_eager(self, app, seen):
        """apply() binds them too, and an eager retry's second attempt has its own."""
        result = app.tasks["unit.retry"].apply()
        assert [traced(result.id, "unit.retry")] * 2 == seen
        assert NOTHING == current_fields()

    def test_eager_throw(self, app, seen):
        """apply(throw=True) re-raising still leaves nothing bound."""
        with pytest.raises(ValueError):
            app.tasks["unit.fail"].apply(throw=True)
        assert (1, NOTHING) == (len(seen), current_fields())

    @pytest.mark.filterwarnings("ignore:Exception raised outside body:RuntimeWarning")
    def test_internal_error(self, app, monkeypatch, handler):
        """An error outside the body: nothing bound after, its event and Celery's error line name the task."""
        Trace.trace_by_func(lambda event, msg: emitted.append((Trace.event2str(event), current_fields())))
        emitted = []

        def broken(*args, **kwargs):
            raise RuntimeError("loader broke")

        monkeypatch.setattr(app.loader, "on_task_init", broken)
        task_id = worker_call(app, "unit.ok")
        assert [("TASK_START", traced(task_id, "unit.ok")), ("TASK_FAILURE", traced(task_id, "unit.ok"))] == emitted
        unexpected = [r for r in handler.records if r.name == "celery.app.trace" and r.levelno == logging.ERROR]
        assert [(task_id, "unit.ok")] == [(r.task_id, r.task_name) for r in unexpected]
        assert NOTHING == current_fields()

    def test_celery_outcome_lines_name_the_task(self, app, handler):
        """Celery's own "succeeded" and "raised" lines in the executing process come before postrun."""
        ok = worker_call(app, "unit.ok")
        failed = worker_call(app, "unit.fail")
        lines = [(r.levelname, r.task_id) for r in handler.records if r.name == "celery.app.trace"]
        assert [("INFO", ok), ("ERROR", failed)] == lines

    def test_postrun_receiver_connected_later_sees_nothing(self, app, handler):
        """A task_postrun receiver connected after flowtrace's runs after the fields ended."""
        after = []

        def receiver(task_id=None, **_):
            after.append(current_fields())

        signals.task_postrun.connect(receiver, weak=False)
        try:
            worker_call(app, "unit.ok")
        finally:
            signals.task_postrun.disconnect(receiver)
        assert [NOTHING] == after

    def test_flow_task_by_kwargs(self, app, seen):
        """A task called with a dispatcher's flow_name and dispatcher_id kwargs carries them."""
        task_id = worker_call(app, "unit.ok", kwargs={"flow_name": "orders", "dispatcher_id": "d-1"})
        worker_call(app, "unit.ok", kwargs={"flow_name": "only one of the two"})
        assert [traced(task_id, "unit.ok", flow_name="orders", dispatcher_id="d-1"), traced(seen[1]["task_id"],
                                                                                            "unit.ok")] == seen

    def test_flow_task_by_header(self, app, seen):
        """The flow header the dispatcher sets wins over kwargs (a dispatcher's own message has only the header)."""
        header = {"flow_name": "orders", "dispatcher_id": "d-2", "parent": None, "node_args": {}, "retried_count": 0}
        task_id = worker_call(app, "unit.ok", kwargs={"flow_name": "orders"}, flowtrace_flow=header)
        assert [traced(task_id, "unit.ok", flow_name="orders", dispatcher_id="d-2")] == seen

    def test_threads_keep_their_own(self, app, seen):
        """Two threads running tasks at once each see their own fields (the threads pool)."""
        BARRIERS["two"] = threading.Barrier(2)
        ids = ["a-" + str(uuid.uuid4()), "b-" + str(uuid.uuid4())]
        threads = [threading.Thread(target=worker_call, args=(app, "unit.wait", ("two",)), kwargs={"task_id": i})
                   for i in ids]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        assert ([[traced(i, "unit.wait")] * 2 for i in ids], 4) == (
            [[s for s in seen if s["task_id"] == i] for i in ids], len(seen))

    def test_uninstrumented_app_binds_nothing(self, app, seen):
        """Tasks of an app that is not instrumented bind nothing."""
        uninstrument(app)
        worker_call(app, "unit.ok")
        assert [NOTHING] == seen


class TestMainProcess:
    """The worker main process binds a task's fields around what it reports about it."""

    def test_events_are_emitted_with_the_task_fields(self):
        """A main-process event is emitted with its task's id and name bound, and nothing after."""
        emitted = []
        Trace.trace_by_func(lambda event, msg: emitted.append(current_fields()))
        _main.log_about_task(Trace.TASK_RECEIVED, {"task_id": "t1", "task_name": "unit.ok"})
        _main.log_about_task(Trace.TASK_RECEIVED, {"task_id": "t2", "task_name": "unit.ok", "flow_name": "f",
                                         "dispatcher_id": "d"})
        assert ([fields("t1", "unit.ok"), fields("t2", "unit.ok", flow_name="f", dispatcher_id="d")],
                NOTHING) == (emitted, current_fields())

    def test_request_on_failure_runs_bound(self, app, monkeypatch):
        """Request.on_failure (a lost child's report and log line) runs with the task's fields and the
        attempt's trace ids bound."""
        during = []
        parent = "00-%s-%s-01" % ("a" * 32, "b" * 16)

        class FakeRequest:
            id = "t-lost"
            task = app.tasks["unit.ok"]
            request_dict = {"id": "t-lost", "retries": 0, "traceparent": parent}

        request = FakeRequest()
        span_id = _stamp.stamp(request.request_dict)[0]
        hook = _patches._make_on_failure_hook(lambda *args: during.append(current_fields()))
        monkeypatch.setattr(_main, "after_request_failure", lambda *args: during.append(current_fields()))
        hook(request, None)
        assert ([fields("t-lost", "unit.ok", trace_id="a" * 32, span_id=span_id)] * 2, NOTHING) == (
            during, current_fields())

    def test_request_on_failure_without_headers(self, app, monkeypatch):
        """A request with no message headers still runs bound to its task's fields, with no trace ids."""
        during = []

        class FakeRequest:
            id = "t-lost"
            task = app.tasks["unit.ok"]

        hook = _patches._make_on_failure_hook(lambda *args: during.append(current_fields()))
        monkeypatch.setattr(_main, "after_request_failure", lambda *args: during.append(current_fields()))
        hook(FakeRequest(), None)
        assert ([fields("t-lost", "unit.ok")] * 2, NOTHING) == (during, current_fields())
