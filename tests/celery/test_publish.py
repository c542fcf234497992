"""Tests for flowtrace.celery._publish: the producer's hook."""

import time

from flowtrace import Trace
from flowtrace.celery import _msg, _publish, instrument
from flowtrace.testing import capture_events


def headers_for(task_id="t1", **extra):
    return dict({"lang": "py", "task": "unit.ok", "id": task_id, "root_id": task_id, "parent_id": None,
                 "group": None, "retries": 0, "eta": None, "expires": None, "origin": "gen1@host",
                 "argsrepr": "(1,)", "kwargsrepr": "{'token': 't'}"}, **extra)


class TestPublishHook:
    """before_task_publish: the timestamps in the headers, and TASK_PUBLISH."""

    def test_sent_message(self, app):
        """A message sent through Celery gives TASK_PUBLISH with the identity keys and the queue."""
        instrument(app)
        with capture_events() as captured:
            result = app.tasks["unit.ok"].apply_async(args=(1,), countdown=60)
        assert 1 == len(captured)
        event, msg = captured[0]
        eta = msg.pop("eta")
        assert (Trace.TASK_PUBLISH, {"task_name": "unit.ok", "task_id": result.id, "parent_id": None,
                                     "root_id": result.id, "retries": 0, "queue": "unit",
                                     "hostname": msg["hostname"], "state": "PENDING", "trace_id": None,
                                     "span_id": None}) == (event, msg)
        assert (str, True) == (type(eta), msg["hostname"].startswith("gen"))

    def test_headers_stamped_without_sinks(self, app):
        """The send times go into the headers even when this process has no sink: the worker needs them."""
        instrument(app)
        headers = headers_for()
        before = time.time()
        _publish.on_before_publish(sender="unit.ok", body=((1,), {}, {}), routing_key="unit", headers=headers)
        assert headers[_msg.SENT_HEADER] == headers[_msg.FIRST_SENT_HEADER]
        assert before <= headers[_msg.SENT_HEADER] <= time.time()

    def test_retry_keeps_first_enqueue_time(self, app):
        """A retry published from inside the running attempt keeps that attempt's first enqueue time."""
        instrument(app)
        task = app.tasks["unit.ok"]
        task.push_request(id="t1", flowtrace_first_sent=100.0)
        from celery._state import _task_stack

        _task_stack.push(task)
        try:
            headers = headers_for(retries=1)
            _publish.on_before_publish(sender="unit.ok", body=((1,), {}, {}), routing_key="unit", headers=headers)
        finally:
            _task_stack.pop()
            task.pop_request()
        assert 100.0 == headers[_msg.FIRST_SENT_HEADER]
        assert headers[_msg.SENT_HEADER] > 100.0

    def test_retry_carrying_the_header(self, app):
        """A retry whose headers Celery carried over keeps the first enqueue time it carries."""
        instrument(app)
        headers = headers_for(retries=1, flowtrace_first_sent=100.0, flowtrace_sent=150.0)
        _publish.on_before_publish(sender="unit.ok", body=((1,), {}, {}), routing_key="unit", headers=headers)
        assert 100.0 == headers[_msg.FIRST_SENT_HEADER]
        assert headers[_msg.SENT_HEADER] > 150.0

    def test_other_task_gets_its_own_time(self, app):
        """A task sent from inside another task is a first attempt of its own."""
        instrument(app)
        task = app.tasks["unit.ok"]
        task.push_request(id="parent", flowtrace_first_sent=100.0)
        from celery._state import _task_stack

        _task_stack.push(task)
        try:
            headers = headers_for("child", retries=1)
            _publish.on_before_publish(sender="unit.ok", body=((1,), {}, {}), routing_key="unit", headers=headers)
        finally:
            _task_stack.pop()
            task.pop_request()
        assert headers[_msg.SENT_HEADER] == headers[_msg.FIRST_SENT_HEADER]

    def test_protocol_one_is_left_alone(self, app):
        """A message without protocol 2 headers is neither stamped nor reported."""
        instrument(app)
        headers = {}
        with capture_events() as captured:
            _publish.on_before_publish(sender="unit.ok", body={"id": "t1"}, routing_key="unit", headers=headers)
        assert ({}, []) == (headers, captured)

    def test_arguments_on_request(self, app):
        """With include_args, TASK_PUBLISH carries the values, redacted, and flags Celery's default repr."""
        instrument(app, include_args=True)
        with capture_events() as captured:
            app.tasks["unit.ok"].apply_async(args=(1,), kwargs={"token": "t"})
        assert ([1], {"token": "[redacted]"}) == (captured[0][1]["args"], captured[0][1]["kwargs"])

    def test_caller_repr_flagged(self, app):
        """A caller-supplied argsrepr/kwargsrepr is flagged for the worker and shown instead of the values."""
        instrument(app, include_args=True)
        headers = headers_for(argsrepr="(<hidden>,)")
        with capture_events() as captured:
            _publish.on_before_publish(sender="unit.ok", body=((1,), {"token": "t"}, {}), routing_key="unit",
                                       headers=headers)
        assert [True, False] == headers[_msg.CUSTOM_REPR_HEADER]
        assert ("(<hidden>,)", {"token": "[redacted]"}) == (captured[0][1]["args"], captured[0][1]["kwargs"])

    def test_no_arguments_by_default(self, app):
        """Without include_args, neither the message nor the event carries anything about arguments."""
        instrument(app)
        headers = headers_for()
        with capture_events() as captured:
            _publish.on_before_publish(sender="unit.ok", body=((1,), {}, {}), routing_key="unit", headers=headers)
        assert (False, {"args", "kwargs"}.isdisjoint(captured[0][1])) == (
            _msg.CUSTOM_REPR_HEADER in headers, True)
