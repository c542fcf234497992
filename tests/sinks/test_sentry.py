"""Tests for flowtrace.sinks.sentry, through the real sentry-sdk transport and a local receiver."""

import sys
import traceback
import uuid
import warnings

import pytest
import sentry_sdk

from flowtrace import MissingDependency, Trace
from flowtrace.sinks.sentry import expand_env
from tests.sinks.sentry_compat import (
    ATTACHES_STACKTRACE_BY_DEFAULT,
    by_major,
    no_sentry_filtering,
    start_root_span,
    strongest_sentry_filtering,
)
from tests.sinks.sentry_receiver import SentryReceiver, refusing_port

# gzip, chosen explicitly: with the Brotli package installed sentry-sdk would
# default to brotli, which the receiver does not decode. No proxy: a proxy in
# the environment must not carry 127.0.0.1 traffic away from the receiver.
OPTIONS = {"http_proxy": "", "https_proxy": "", "_experiments": {"transport_compression_algo": "gzip"}}


@pytest.fixture(autouse=True)
def _isolated_sentry():
    """Give each test its own Sentry scope and leave no Sentry client behind."""
    with sentry_sdk.isolation_scope():
        yield
    sentry_sdk.get_client().close(timeout=2.0)
    sentry_sdk.get_global_scope().set_client(None)


@pytest.fixture
def receiver():
    with SentryReceiver() as running:
        yield running
    assert [] == running.errors


def _delivered(receiver, count):
    """Flush flowtrace's sinks, then return the events the receiver has, waiting until there are ``count``."""
    Trace.flush()
    return receiver.wait_for_events(count)


def _crumbs(event):
    return [(c.get("category"), c.get("message"), c.get("level"), c.get("data"))
            for c in event["breadcrumbs"]["values"]]


def _summary(event):
    """The parts of a received Sentry event that the sink decides."""
    return {
        "level": event["level"],
        "message": event.get("message"),
        "tags": event.get("tags"),
        "fingerprint": event.get("fingerprint"),
        "flowtrace": event["contexts"].get("flowtrace"),
        "exception": [
            {"type": value["type"], "value": value["value"],
             "frames": [(f["function"], f["lineno"]) for f in value["stacktrace"]["frames"]]}
            for value in event.get("exception", {}).get("values", [])
        ],
    }


def _secret(label):
    # Built at run time so that the value is in no source line Sentry could quote.
    return "%s-%s" % (label, uuid.uuid4().hex)


def _charge_card():
    raise ValueError("card declined")


def _caught(fn):
    """Call ``fn`` and return the exception it raises, with its traceback."""
    try:
        fn()
    except Exception as exc:
        return exc
    raise AssertionError("%s did not raise" % fn)


def _caught_exc_info(fn):
    try:
        fn()
    except Exception:
        return sys.exc_info()
    raise AssertionError("%s did not raise" % fn)


def _frames(exc):
    return [(frame.f_code.co_name, lineno) for frame, lineno in traceback.walk_tb(exc.__traceback__)]


class TestSentrySink:
    """SentrySink: breadcrumbs, Sentry events, tags, redaction and a Sentry that is down."""

    def test_every_event_becomes_a_breadcrumb(self, receiver):
        """Each event, whatever its level, is a `flowtrace` breadcrumb with its level and msg dict, in order."""
        Trace.trace_by_sentry(receiver.dsn, **OPTIONS)

        Trace.log(Trace.FLOW_START, flow_name="orders", dispatcher_id="d-1", node_args={"order": 7})
        Trace.log(Trace.TASK_START, task_name="Charge", task_id="t-1", flow_name="orders", queue="q", retried_count=0)
        Trace.log(Trace.TASK_RETRY, task_name="Charge", task_id="t-1", countdown=2, what=["timeout", 1])
        Trace.log(Trace.DISPATCHER_FAILURE, flow_name="orders", dispatcher_id="d-1", what="broken")

        events = _delivered(receiver, 2)
        expected = [
            ("flowtrace", "FLOW_START", "info", {"flow_name": "orders", "dispatcher_id": "d-1", "node_args": {"order": 7}}),
            ("flowtrace", "TASK_START", "info",
             {"task_name": "Charge", "task_id": "t-1", "flow_name": "orders", "queue": "q", "retried_count": 0}),
            ("flowtrace", "TASK_RETRY", "warning",
             {"task_name": "Charge", "task_id": "t-1", "countdown": 2, "what": ["timeout", 1]}),
            ("flowtrace", "DISPATCHER_FAILURE", "error", {"flow_name": "orders", "dispatcher_id": "d-1", "what": "broken"}),
        ]
        assert expected == _crumbs(events[-1])

    def test_info_events_produce_no_sentry_event(self, receiver):
        """Info events reach Sentry only as breadcrumbs: the only Sentry event is the warning's."""
        Trace.trace_by_sentry(receiver.dsn, **OPTIONS)

        for event in (Trace.FLOW_START, Trace.TASK_SCHEDULE, Trace.TASK_START, Trace.TASK_END, Trace.FLOW_END):
            Trace.log(event, flow_name="orders")
        Trace.log(Trace.FLOW_FAILURE, flow_name="orders")

        # The transport sends in order from one queue, so an envelope for an
        # info event would have arrived before the warning's.
        events = _delivered(receiver, 1)
        assert [("warning", "FLOW_FAILURE orders")] == [(e["level"], e.get("message")) for e in events]

    def test_expected_failure_is_only_a_breadcrumb(self, receiver):
        """A failure marked expected (Task.throws) is an info breadcrumb, not a Sentry event."""
        Trace.trace_by_sentry(receiver.dsn, **OPTIONS)
        Trace.log(Trace.TASK_FAILURE, task_name="Charge", expected=True, exc_info=_caught(_charge_card))
        Trace.log(Trace.FLOW_FAILURE, flow_name="orders")
        events = _delivered(receiver, 1)
        assert ([("warning", "FLOW_FAILURE orders")], [("flowtrace", "TASK_FAILURE", "info",
                                                         {"task_name": "Charge", "expected": True})]) == (
            [(e["level"], e.get("message")) for e in events], _crumbs(events[0])[:1])

    @pytest.mark.parametrize("event, level", [(Trace.FLOW_FAILURE, "warning"), (Trace.DISPATCHER_FAILURE, "error")])
    def test_event_without_exception_is_a_message(self, receiver, event, level):
        """A warning or error event without `exc_info` becomes a Sentry message at the event's level."""
        Trace.trace_by_sentry(receiver.dsn, **OPTIONS)
        name = Trace.event2str(event)

        Trace.log(event, flow_name="orders", dispatcher_id="d-9", state={"failed": ["Charge"]})

        details = {"flow_name": "orders", "dispatcher_id": "d-9", "state": {"failed": ["Charge"]}}
        expected = [{
            "level": level,
            "message": "%s orders" % name,
            "tags": {"event": name, "flow_name": "orders", "dispatcher_id": "d-9"},
            "fingerprint": ["flowtrace", name, "orders"],
            "flowtrace": {"event": name, "event_id": event, "details": details},
            "exception": [],
        }]
        assert expected == [_summary(e) for e in _delivered(receiver, 1)]

    @pytest.mark.parametrize("as_tuple", [False, True], ids=["exception", "exc_info_tuple"])
    def test_exception_is_captured_with_its_traceback(self, receiver, as_tuple):
        """With `exc_info` in the msg, Sentry gets that exception and its traceback frames, and no message."""
        Trace.trace_by_sentry(receiver.dsn, **OPTIONS)
        exc_info = _caught_exc_info(_charge_card) if as_tuple else None
        exc = exc_info[1] if as_tuple else _caught(_charge_card)

        Trace.log(Trace.TASK_FAILURE, task_name="Charge", task_id="t-1", flow_name="orders",
                  exc_info=exc_info if as_tuple else exc)

        frames = _frames(exc)
        assert ["_charge_card"] == [name for name, _ in frames][-1:]
        details = {"task_name": "Charge", "task_id": "t-1", "flow_name": "orders"}
        expected = [{
            "level": "warning",
            "message": None,
            "tags": {"event": "TASK_FAILURE", "task_name": "Charge", "flow_name": "orders"},
            "fingerprint": ["flowtrace", "TASK_FAILURE", "Charge"],
            "flowtrace": {"event": "TASK_FAILURE", "event_id": Trace.TASK_FAILURE, "details": details},
            "exception": [{"type": "ValueError", "value": "card declined", "frames": frames}],
        }]
        events = _delivered(receiver, 1)
        assert expected == [_summary(e) for e in events]
        assert [("flowtrace", "TASK_FAILURE", "warning", details)] == _crumbs(events[0])

    @pytest.mark.parametrize("msg, tags", [
        ({"flow_name": "orders", "task_name": "Charge", "dispatcher_id": "d-1", "trace_id": "ab" * 16},
         {"event": "TASK_FAILURE", "flow_name": "orders", "task_name": "Charge", "dispatcher_id": "d-1",
          "trace_id": "ab" * 16}),
        ({"flow_name": "orders"}, {"event": "TASK_FAILURE", "flow_name": "orders"}),
        ({"task_name": "Charge", "dispatcher_id": None, "node_args": {"a": 1}},
         {"event": "TASK_FAILURE", "task_name": "Charge"}),
        ({}, {"event": "TASK_FAILURE"}),
    ], ids=["all", "flow_only", "none_is_absent", "empty"])
    def test_tags_are_the_event_and_the_ids_present(self, receiver, msg, tags):
        """The Sentry event is tagged with `event` and with each of the id keys the msg holds, and no others."""
        Trace.trace_by_sentry(receiver.dsn, **OPTIONS)

        Trace.log(Trace.TASK_FAILURE, msg)

        assert [tags] == [e["tags"] for e in _delivered(receiver, 1)]

    def test_redacted_secrets_never_reach_sentry(self, receiver):
        """Values under secret keys, flowtrace's and the user's, appear in no byte sent to Sentry."""
        # Sentry's own filtering is turned off, so only flowtrace's redaction stands between the secrets and Sentry.
        Trace.trace_by_sentry(receiver.dsn, **no_sentry_filtering(), **OPTIONS)
        Trace.redact_keys("ssn")
        secrets = {key: _secret(key) for key in ("password", "db_password", "api_key", "dsn", "ssn", "auth")}

        Trace.log(Trace.TASK_START, task_name="Charge", db_password=secrets["db_password"],
                  headers={"X-Api-Key": secrets["api_key"], "accept": "json"})
        Trace.log(Trace.TASK_FAILURE, task_name="Charge", password=secrets["password"],
                  node_args={"customer_ssn": secrets["ssn"]}, stores=[{"sentry_dsn": secrets["dsn"]}],
                  authorization="Bearer " + secrets["auth"], exc_info=_caught(_charge_card))

        events = _delivered(receiver, 1)
        bodies = receiver.bodies()
        assert [] == [key for key, value in secrets.items() if any(value.encode() in body for body in bodies)]
        expected = [
            ("flowtrace", "TASK_START", "info",
             {"task_name": "Charge", "db_password": "[redacted]", "headers": {"X-Api-Key": "[redacted]", "accept": "json"}}),
            ("flowtrace", "TASK_FAILURE", "warning",
             {"task_name": "Charge", "password": "[redacted]", "authorization": "[redacted]",
              "node_args": {"customer_ssn": "[redacted]"}, "stores": [{"sentry_dsn": "[redacted]"}]}),
        ]
        assert expected == _crumbs(events[0])

    def test_frame_locals_are_redacted(self, receiver):
        """Local variables Sentry attaches to traceback frames are redacted with flowtrace's key list."""
        Trace.trace_by_sentry(receiver.dsn, **no_sentry_filtering(), **OPTIONS)
        Trace.redact_keys("ssn")
        secret_password, secret_ssn = _secret("pw"), _secret("ssn")

        def connect():
            db_password = secret_password  # noqa: F841 - a local that Sentry would send
            customer = {"customer_ssn": secret_ssn, "name": "ann"}  # noqa: F841
            raise ConnectionError("db down")

        Trace.log(Trace.TASK_FAILURE, task_name="Charge", exc_info=_caught(connect))
        events = _delivered(receiver, 1)
        frame = events[0]["exception"]["values"][0]["stacktrace"]["frames"][-1]
        leaked = [s for s in (secret_password, secret_ssn) if any(s.encode() in b for b in receiver.bodies())]
        assert ([], "[redacted]", {"customer_ssn": "[redacted]", "name": "'ann'"}) == (
            leaked, frame["vars"]["db_password"], frame["vars"]["customer"])

    @pytest.mark.parametrize("attach", [True, False, None], ids=["attach_stacktrace", "no_stacktrace", "default"])
    def test_message_stack_locals_are_redacted(self, receiver, attach):
        """The stack Sentry attaches to a message event (`attach_stacktrace`, on by default from 3.0) is redacted too.

        It holds the locals of every frame down to the sink: the emitter's,
        and Trace.log's arguments before redaction.
        """
        options = dict(OPTIONS, **no_sentry_filtering())
        if attach is not None:
            options["attach_stacktrace"] = attach
        Trace.trace_by_sentry(receiver.dsn, **options)
        Trace.redact_keys("ssn")
        secret_password, secret_ssn = _secret("pw"), _secret("ssn")

        def give_up():
            db_password = secret_password
            customer = {"customer_ssn": secret_ssn, "name": "ann"}
            Trace.log(Trace.FLOW_FAILURE, {"flow_name": "orders", "db_password": db_password}, customer=customer)

        give_up()
        event, = _delivered(receiver, 1)
        frames = [frame for thread in event.get("threads", {}).get("values", [])
                  for frame in thread["stacktrace"]["frames"]]
        leaked = [s for s in (secret_password, secret_ssn) if any(s.encode() in b for b in receiver.bodies())]
        emitter = [frame["vars"] for frame in frames if frame["function"] == "give_up"]
        attached = ATTACHES_STACKTRACE_BY_DEFAULT if attach is None else attach
        expected_emitter = {"db_password": "[redacted]", "customer": {"customer_ssn": "[redacted]", "name": "'ann'"},
                            "secret_password": "[redacted]", "secret_ssn": "[redacted]"}
        # The stack ends where sentry-sdk's own would, in the sink: the frames that built it are hidden.
        assert ([], [expected_emitter] if attached else [], [("flowtrace.sinks.sentry", "__call__")] if attached else [],
                "FLOW_FAILURE orders") == (
            leaked, emitter, [(frame["module"], frame["function"]) for frame in frames[-1:]], event.get("message"))

    def test_what_sentry_filters_by_default(self, receiver):
        """With Sentry's default options 2.x filters top-level breadcrumb data and frame locals by its deny list; 3.x neither."""
        Trace.trace_by_sentry(receiver.dsn, **OPTIONS)

        def connect():
            session = "s-1"  # noqa: F841 - not a flowtrace secret, but on 2.x's deny list
            raise ConnectionError("db down")

        Trace.log(Trace.TASK_START, task_name="Charge", session="s-2", node_args={"session": "s-3"})
        Trace.log(Trace.TASK_FAILURE, task_name="Charge", exc_info=_caught(connect))

        event, = _delivered(receiver, 1)
        failure = ("flowtrace", "TASK_FAILURE", "warning", {"task_name": "Charge"})
        assert by_major(
            v2=([("flowtrace", "TASK_START", "info",
                  {"task_name": "Charge", "session": "[Filtered]", "node_args": {"session": "s-3"}}), failure],
                {"session": "[Filtered]"}),
            v3=([("flowtrace", "TASK_START", "info",
                  {"task_name": "Charge", "session": "s-2", "node_args": {"session": "s-3"}}), failure],
                {"session": "'s-1'"}),
        ) == (_crumbs(event), event["exception"]["values"][0]["stacktrace"]["frames"][-1]["vars"])

    def test_later_sinks_get_the_msg_unchanged(self, receiver):
        """Sentry's scrubbing of breadcrumbs changes neither what later sinks receive nor the emitter's containers."""
        Trace.trace_by_sentry(receiver.dsn, **strongest_sentry_filtering(), **OPTIONS)
        received = []
        Trace.trace_by_func(lambda event, msg: received.append((event, msg)))
        node_args = {"session": "s-1"}
        pages = [{"csrf": "c-1"}]

        Trace.log(Trace.TASK_START, task_name="Charge", session="s-2", node_args=node_args, pages=pages)
        Trace.log(Trace.TASK_FAILURE, task_name="Charge", session="s-3", credentials="c-2")
        events = _delivered(receiver, 1)

        assert [
            (Trace.TASK_START,
             {"task_name": "Charge", "session": "s-2", "node_args": {"session": "s-1"}, "pages": [{"csrf": "c-1"}]}),
            (Trace.TASK_FAILURE, {"task_name": "Charge", "session": "s-3", "credentials": "c-2"}),
        ] == received
        assert ({"session": "s-1"}, [{"csrf": "c-1"}]) == (node_args, pages)
        # 2.x did scrub its own copy: the filter is on, flowtrace just keeps it to Sentry.
        # 3.x has no breadcrumb filter and sends the data as it was logged.
        assert by_major(
            v2=[
                {"task_name": "Charge", "session": "[Filtered]",
                 "node_args": {"session": "[Filtered]"}, "pages": [{"csrf": "[Filtered]"}]},
                {"task_name": "Charge", "session": "[Filtered]", "credentials": "[Filtered]"},
            ],
            v3=[
                {"task_name": "Charge", "session": "s-2", "node_args": {"session": "s-1"}, "pages": [{"csrf": "c-1"}]},
                {"task_name": "Charge", "session": "s-3", "credentials": "c-2"},
            ],
        ) == [data for _, _, _, data in _crumbs(events[0])]

    def test_breadcrumb_keeps_the_values_of_its_event(self, receiver):
        """A breadcrumb shows the msg as it was when logged, even if the emitter changes its containers later."""
        Trace.trace_by_sentry(receiver.dsn, **OPTIONS)
        node_args = {"items": [1, 2]}

        Trace.log(Trace.TASK_START, task_name="Charge", node_args=node_args)
        node_args["items"].append(3)
        node_args["late"] = True
        Trace.log(Trace.FLOW_FAILURE, flow_name="orders")

        assert [
            ("flowtrace", "TASK_START", "info", {"task_name": "Charge", "node_args": {"items": [1, 2]}}),
            ("flowtrace", "FLOW_FAILURE", "warning", {"flow_name": "orders"}),
        ] == _crumbs(_delivered(receiver, 1)[0])

    def test_no_deprecated_sentry_api_is_used(self, receiver, caplog):
        """The sink makes sentry-sdk warn of no deprecation, logged (in its debug mode) or as a DeprecationWarning.

        sentry-sdk 2.x says so in log records, or with warnings.warn; 3.x with
        warnings.warn. Every path of the sink is taken: a message with its
        stack attached, an exception, tags and the W3C trace context.
        """
        with caplog.at_level("DEBUG", logger="sentry_sdk.errors"), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            Trace.trace_by_sentry(receiver.dsn, debug=True, attach_stacktrace=True, **OPTIONS)
            Trace.log(Trace.TASK_START, task_name="Charge", flow_name="orders")
            Trace.log(Trace.FLOW_FAILURE, flow_name="orders", dispatcher_id="d-1")
            Trace.log(Trace.TASK_FAILURE, task_name="Charge", trace_id="ab" * 16, span_id="cd" * 8,
                      parent_span_id="ef" * 8, exc_info=_caught(_charge_card))
            events = _delivered(receiver, 2)

        assert ([], [], [(None, "FLOW_FAILURE orders"), ("ValueError", None)]) == (
            [r.getMessage() for r in caplog.records if "deprecat" in r.getMessage().lower()],
            ["%s: %s" % (w.category.__name__, w.message) for w in caught
             if issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning))
             or "deprecat" in str(w.message).lower()],
            [(e.get("exception", {}).get("values", [{}])[0].get("type"), e.get("message")) for e in events])

    def test_sentry_down_does_not_reach_the_emitter(self):
        """With nothing listening at the DSN, Trace.log and Trace.flush return and later sinks still get every event."""
        sock, port = refusing_port()
        try:
            Trace.trace_by_sentry("http://publickey@127.0.0.1:%d/1" % port, **OPTIONS)
            received = []
            Trace.trace_by_func(lambda event, msg: received.append((event, msg)))
            exc = _caught(_charge_card)

            Trace.log(Trace.TASK_START, task_name="Charge")
            Trace.log(Trace.TASK_FAILURE, task_name="Charge", exc_info=exc)
            Trace.log(Trace.DISPATCHER_FAILURE, flow_name="orders")
            Trace.flush(timeout=2.0)

            assert [
                (Trace.TASK_START, {"task_name": "Charge"}),
                (Trace.TASK_FAILURE, {"task_name": "Charge", "exc_info": exc}),
                (Trace.DISPATCHER_FAILURE, {"flow_name": "orders"}),
            ] == received
            assert {"errors": 0, "dropped": 0, "last_error": None} == Trace.stats()["sentry"]
        finally:
            sentry_sdk.get_client().close(timeout=2.0)
            sock.close()


class TestTraceBySentry:
    """Trace.trace_by_sentry: the DSN, an existing client, sentry-sdk options and a missing sentry-sdk."""

    def test_dsn_env_vars_are_expanded(self, receiver, monkeypatch):
        """Each `{NAME}` in the DSN is replaced by the environment variable, and events go to that DSN."""
        monkeypatch.setenv("FT_TEST_SENTRY_KEY", receiver.PUBLIC_KEY)
        monkeypatch.setenv("FT_TEST_SENTRY_PORT", str(receiver.port))

        Trace.trace_by_sentry("http://{FT_TEST_SENTRY_KEY}@127.0.0.1:{FT_TEST_SENTRY_PORT}/1", **OPTIONS)
        Trace.log(Trace.FLOW_FAILURE, flow_name="orders")

        assert receiver.dsn == sentry_sdk.get_client().dsn
        assert ["FLOW_FAILURE orders"] == [e.get("message") for e in _delivered(receiver, 1)]
        assert [("/api/1/envelope/", True)] == [
            (env.path, "sentry_key=%s," % receiver.PUBLIC_KEY in env.headers["X-Sentry-Auth"])
            for env in receiver.envelopes]

    def test_unset_env_var_is_named_without_the_dsn(self, monkeypatch):
        """A DSN naming an unset variable raises a ValueError naming it, and shows neither the DSN nor other values."""
        key = _secret("key")
        monkeypatch.setenv("FT_TEST_SENTRY_KEY", key)
        monkeypatch.delenv("FT_TEST_SENTRY_HOST", raising=False)
        dsn = "http://{FT_TEST_SENTRY_KEY}@{FT_TEST_SENTRY_HOST}/1"

        with pytest.raises(ValueError) as raised:
            Trace.trace_by_sentry(dsn, **OPTIONS)

        message = str(raised.value)
        assert "the Sentry DSN refers to the environment variable FT_TEST_SENTRY_HOST, which is not set" == message
        assert (False, False) == (key in message, dsn in message)
        assert ([], False) == (Trace.sinks(), sentry_sdk.get_client().is_active())

    def test_no_dsn_uses_the_initialised_client(self, receiver):
        """With `dsn=None` the sink reports through the client the application already initialised."""
        sentry_sdk.init(dsn=receiver.dsn, **OPTIONS)
        client = sentry_sdk.get_client()

        Trace.trace_by_sentry()
        Trace.log(Trace.DISPATCHER_FAILURE, flow_name="orders")

        assert ["DISPATCHER_FAILURE orders"] == [e.get("message") for e in _delivered(receiver, 1)]
        assert client is sentry_sdk.get_client()

    def test_close_closes_the_client_it_started(self, receiver):
        """Trace.reset() closes the client the sink initialised; closing the sink again does nothing more."""
        sink = Trace.trace_by_sentry(receiver.dsn, **OPTIONS)
        started = sentry_sdk.get_client()
        Trace.reset()
        sink.close()
        assert (None, started) == (started.transport, sentry_sdk.get_client())

    def test_close_leaves_a_later_client_open(self, receiver):
        """A client initialised after the sink's (sentry_sdk.init again) is not the sink's to close."""
        sink = Trace.trace_by_sentry(receiver.dsn, **OPTIONS)
        started = sentry_sdk.get_client()
        sentry_sdk.init(dsn=receiver.dsn, **OPTIONS)
        later = sentry_sdk.get_client()
        sink.close()
        assert (None, True, True) == (started.transport, later.transport is not None, later is not started)

    def test_close_leaves_the_application_client_open(self, receiver):
        """With `dsn=None` the client is the application's: closing the sink leaves it open."""
        sentry_sdk.init(dsn=receiver.dsn, **OPTIONS)
        client = sentry_sdk.get_client()
        Trace.trace_by_sentry().close()
        assert (True, client) == (client.transport is not None, sentry_sdk.get_client())

    def test_no_dsn_and_no_client_raises(self):
        """With `dsn=None` and no Sentry client initialised, a ValueError says so and no sink is registered."""
        with pytest.raises(ValueError) as raised:
            Trace.trace_by_sentry()

        assert "no Sentry client is initialised; pass a dsn or call sentry_sdk.init() first" == str(raised.value)
        assert [] == Trace.sinks()

    def test_options_without_dsn_raise(self, receiver):
        """Options with `dsn=None` raise a ValueError, as they could not be applied to the existing client."""
        sentry_sdk.init(dsn=receiver.dsn, **OPTIONS)

        with pytest.raises(ValueError) as raised:
            Trace.trace_by_sentry(environment="staging")

        expected = "Sentry options were given without a dsn; pass dsn= or initialise sentry_sdk yourself"
        assert (expected, []) == (str(raised.value), Trace.sinks())

    def test_dsn_that_is_not_a_string_raises(self):
        """A DSN that is not a string raises a ValueError naming its type."""
        with pytest.raises(ValueError) as raised:
            Trace.trace_by_sentry(b"http://publickey@127.0.0.1:1/1")

        assert ("the Sentry dsn must be a string, got bytes", []) == (str(raised.value), Trace.sinks())

    @pytest.mark.parametrize("experiments, encoding", [
        ({"transport_compression_algo": "gzip"}, "gzip"),
        ({"transport_compression_level": 0}, None),
    ], ids=["gzip", "identity"])
    def test_options_reach_sentry_sdk(self, receiver, experiments, encoding):
        """Options are passed to `sentry_sdk.init`: here the transport's compression, as the receiver sees it."""
        options = dict(OPTIONS, _experiments=experiments)
        Trace.trace_by_sentry(receiver.dsn, environment="staging", **options)

        Trace.log(Trace.FLOW_FAILURE, flow_name="orders")

        events = _delivered(receiver, 1)
        assert [("staging", "FLOW_FAILURE orders")] == [(e["environment"], e.get("message")) for e in events]
        assert [encoding] == [env.content_encoding for env in receiver.envelopes]

    def test_missing_sentry_sdk_names_the_extra(self, monkeypatch):
        """Without sentry-sdk, a MissingDependency names `flowtrace[sentry]` and no sink is registered."""
        monkeypatch.setitem(sys.modules, "sentry_sdk", None)

        with pytest.raises(MissingDependency) as raised:
            Trace.trace_by_sentry("http://publickey@127.0.0.1:1/1")

        expected = ("trace_by_sentry needs the 'sentry_sdk' package, which is not installed; "
                    "install it with: pip install 'flowtrace[sentry]'")
        assert (expected, True, []) == (str(raised.value), isinstance(raised.value, ImportError), Trace.sinks())


class TestExpandEnv:
    """expand_env: `{NAME}` parts of a DSN replaced by environment variables."""

    def test_every_reference_is_replaced(self, monkeypatch):
        """Each `{NAME}` is replaced by its variable's value, and the rest of the text is kept."""
        monkeypatch.setenv("FT_TEST_A", "key")
        monkeypatch.setenv("FT_TEST_B", "sentry.example:9000")

        assert "https://key@sentry.example:9000/42" == expand_env("https://{FT_TEST_A}@{FT_TEST_B}/42")

    def test_text_without_references_is_unchanged(self):
        """A DSN without `{NAME}` parts is returned as it is."""
        assert "http://publickey@127.0.0.1:1/1" == expand_env("http://publickey@127.0.0.1:1/1")


class TestW3CTraceContext:
    """Breadcrumbs and events carry the W3C ids, so that Sentry and the trace backend line up."""

    def test_msg_ids_are_the_event_trace_context(self, receiver):
        """An event about a task attempt has the attempt's W3C ids as its Sentry trace context and tags."""
        Trace.trace_by_sentry(receiver.dsn, **OPTIONS)
        Trace.log(Trace.TASK_FAILURE, task_name="Charge", trace_id="ab" * 16, span_id="cd" * 8,
                  parent_span_id="ef" * 8)
        event, = _delivered(receiver, 1)
        assert ({"trace_id": "ab" * 16, "span_id": "cd" * 8, "parent_span_id": "ef" * 8}, "ab" * 16, "cd" * 8) == (
            {key: event["contexts"]["trace"].get(key) for key in ("trace_id", "span_id", "parent_span_id")},
            event["tags"]["trace_id"], event["tags"]["span_id"])

    def test_current_ids_go_into_breadcrumbs(self, receiver):
        """An event emitted in a trace without ids of its own gets the current ones, in its breadcrumb too."""
        from flowtrace.context import reset_ids, set_ids

        Trace.trace_by_sentry(receiver.dsn, **OPTIONS)
        token = set_ids("12" * 16, "34" * 8)
        try:
            Trace.log(Trace.STORAGE_STORE, storage_name="db")
            Trace.log(Trace.NODE_FAILURE, node_name="charge")
        finally:
            reset_ids(token)
        event, = _delivered(receiver, 1)
        assert ([{"storage_name": "db", "trace_id": "12" * 16, "span_id": "34" * 8},
                 {"node_name": "charge", "trace_id": "12" * 16, "span_id": "34" * 8}], "12" * 16) == (
            [c[3] for c in _crumbs(event)], event["contexts"]["trace"]["trace_id"])

    def test_inside_a_sentry_span_sentry_keeps_its_own(self, receiver):
        """Inside a Sentry span (a transaction in 2.x, a segment span in 3.x) the event stays in Sentry's trace.

        The W3C ids are then in its tags only.
        """
        Trace.trace_by_sentry(receiver.dsn, traces_sample_rate=1.0, **OPTIONS)
        with start_root_span("checkout") as root:
            Trace.log(Trace.TASK_FAILURE, task_name="Charge", trace_id="ab" * 16, span_id="cd" * 8)
        event, = _delivered(receiver, 1)
        assert ((root.trace_id, root.span_id), {"event": "TASK_FAILURE", "task_name": "Charge",
                                                "trace_id": "ab" * 16, "span_id": "cd" * 8}) == (
            (event["contexts"]["trace"]["trace_id"], event["contexts"]["trace"]["span_id"]), event["tags"])

    def test_outside_a_trace_sentry_keeps_its_own(self, receiver):
        """With no W3C trace, the Sentry event keeps sentry-sdk's own trace context."""
        Trace.trace_by_sentry(receiver.dsn, **OPTIONS)
        Trace.log(Trace.NODE_FAILURE, node_name="charge")
        event, = _delivered(receiver, 1)
        assert ("trace_id" in event["contexts"]["trace"], "trace_id" in event["tags"]) == (True, False)
