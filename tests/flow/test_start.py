"""Tests for flowtrace/flow/_start.py: the send options of a flow's start, and eager mode, through run_flow."""

import datetime

import pytest

import flowtrace
from flowtrace import Trace
from flowtrace.errors import ConfigurationError
from flowtrace.flow import _start
from flowtrace.testing import capture_events
from tests.flow.canvas_app import make_app, published


@pytest.fixture
def app(tmp_path):
    """An app with the flow ``pair``, sending to an in-memory broker."""
    app = make_app(tmp_path)
    yield app
    flowtrace.uninstrument(app)


ETA = datetime.datetime(2030, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)


class TestCheckOptions:
    """check_options(): Celery's send options, by name and type."""

    def test_every_option(self, app):
        """Valid options come back as given, a single link as a list, None values left out."""
        link = app.tasks["ok"].s()
        errback = app.tasks["ok"].si("failed")
        assert {"queue": "q", "eta": ETA, "priority": 9, "link": [link], "link_error": [errback, link]} == (
            _start.check_options({"queue": "q", "eta": ETA, "priority": 9, "link": link,
                                  "link_error": (errback, link), "countdown": None}))

    @pytest.mark.parametrize("options, message", [
        ({"retries": 3}, "unknown send option 'retries'; a flow accepts queue, countdown, eta, priority, link, "
                         "link_error"),
        ({"expires": 3, "shadow": "x"}, "unknown send options 'expires', 'shadow'; a flow accepts queue, countdown, "
                                        "eta, priority, link, link_error"),
        ({"queue": ""}, "send option 'queue' must be a non-empty string, not ''"),
        ({"queue": 3}, "send option 'queue' must be a non-empty string, not 3"),
        ({"countdown": "5"}, "send option 'countdown' must be a number of seconds, not '5'"),
        ({"countdown": True}, "send option 'countdown' must be a number of seconds, not True"),
        ({"eta": "2030-01-02T03:04:05"}, "send option 'eta' must be a datetime.datetime, not '2030-01-02T03:04:05'"),
        ({"priority": 2.5}, "send option 'priority' must be an int, not 2.5"),
        ({"link": "ok"}, "send option 'link' must be a Celery signature or a list of them, not 'ok'"),
        ({"link_error": [None]}, "send option 'link_error' must be a Celery signature or a list of them, not None"),
    ])
    def test_wrong_names_and_types(self, options, message):
        """An unknown name or a value of the wrong type is a TypeError that names it."""
        with pytest.raises(TypeError) as caught:
            _start.check_options(options)
        assert message == str(caught.value)

    @pytest.mark.parametrize("options, message", [
        ({"countdown": -1}, "send option 'countdown' must not be negative, not -1"),
        ({"priority": 256}, "send option 'priority' must be within 0..255, not 256"),
        ({"countdown": 1, "eta": ETA}, "give send option 'countdown' or 'eta', not both (Celery would silently "
                                       "drop 'eta')"),
    ])
    def test_values_out_of_range(self, options, message):
        """A value of the right type but out of range is a ValueError that names it."""
        with pytest.raises(ValueError) as caught:
            _start.check_options(options)
        assert message == str(caught.value)


class TestRunFlowOptions:
    """run_flow() passes the send options to the dispatcher's first message."""

    def test_options_reach_the_message(self, app):
        """queue, eta, priority, link and link_error are the message's; FLOW_SCHEDULE names the queue used."""
        with capture_events() as captured, published() as sent:
            result = flowtrace.run_flow(app, "pair", {"n": 1}, queue="urgent", eta=ETA, priority=7,
                                        link=app.tasks["ok"].s(), link_error=app.tasks["ok"].si("failed"))
        ((routing_key, headers, body, properties),) = sent
        assert ("urgent", result.id, "flowtrace.dispatcher", ETA.isoformat(), 7) == (
            routing_key, headers["id"], headers["task"], headers["eta"], properties["priority"])
        assert ([dict(app.tasks["ok"].s())], [dict(app.tasks["ok"].si("failed"))]) == (
            body[2]["callbacks"], body[2]["errbacks"])
        assert [(Trace.FLOW_SCHEDULE, {"flow_name": "pair", "dispatcher_id": result.id, "node_args": {"n": 1},
                                       "queue": "urgent", "selective": False})] == [
            (event, msg) for event, msg in captured if event == Trace.FLOW_SCHEDULE]

    def test_countdown(self, app):
        """countdown makes the message due later; without a queue, the flow's own queue is used."""
        before = datetime.datetime.now(datetime.timezone.utc)
        with published() as sent:
            flowtrace.run_flow(app, "pair", countdown=60)
        ((routing_key, headers, _body, _properties),) = sent
        due = datetime.datetime.fromisoformat(headers["eta"]) - before
        assert ("flows", True) == (routing_key, datetime.timedelta(seconds=59) < due < datetime.timedelta(seconds=61))

    def test_bad_option_sends_nothing(self, app):
        """A bad option fails before FLOW_SCHEDULE and before any message."""
        with capture_events() as captured, published() as sent:
            with pytest.raises(TypeError):
                flowtrace.run_flow(app, "pair", retries=2)
        assert ([], []) == (captured, sent)


class TestEager:
    """Under task_always_eager a flow runs in-line, or fails at once naming the setting it needs."""

    def test_without_stored_results(self, tmp_path):
        """Without task_store_eager_result: ConfigurationError naming it, before anything is sent (was RecursionError)."""
        app = make_app(tmp_path, eager=True)
        try:
            with capture_events() as captured, pytest.raises(ConfigurationError) as caught:
                flowtrace.run_flow(app, "pair", {"n": 1})
        finally:
            flowtrace.uninstrument(app)
        assert ("a flow run in-line (task_always_eager) needs task_store_eager_result = True on app 'canvas': its "
                "dispatcher reads the outcome of the nodes, which run in-line too, from the result backend",
                []) == (str(caught.value), captured)

    def test_with_stored_results(self, tmp_path):
        """With task_store_eager_result the flow runs in-line and its result is its final state."""
        app = make_app(tmp_path, eager=True, store_eager=True)
        try:
            with capture_events() as captured:
                result = flowtrace.run_flow(app, "pair", {"n": 1})
        finally:
            flowtrace.uninstrument(app)
        final = result.get()
        fetch, charge = final["finished_nodes"]["Fetch"][0], final["finished_nodes"]["Charge"][0]
        assert ("SUCCESS", {"finished_nodes": {"Fetch": [fetch], "Charge": [charge]}, "failed_nodes": {},
                            "active_nodes": []}) == (result.state, final)
        assert [Trace.FLOW_SCHEDULE, Trace.FLOW_START, Trace.FLOW_END] == [
            event for event, _msg in captured if event in (Trace.FLOW_SCHEDULE, Trace.FLOW_START, Trace.FLOW_END)]
