"""Tests for flowtrace.celery._msg: the pieces of the task events' msg dicts."""

import datetime

from flowtrace.celery import _msg


class Custom(Exception):
    """An exception from a module, not a built-in."""


class TestIdentity:
    """The identity keys from each of Celery's views of a task."""

    def test_group_only_when_present(self):
        """group_id is there for a group member and absent otherwise; retries defaults to 0."""
        headers = {"task": "t", "id": "1", "root_id": "1", "parent_id": None, "group": "g1", "retries": None}
        assert {"task_name": "t", "task_id": "1", "parent_id": None, "root_id": "1", "group_id": "g1",
                "retries": 0, "queue": "q", "hostname": "h"} == _msg.from_headers(headers, "q", "h")
        assert "group_id" not in _msg.from_headers(dict(headers, group=None), "q", "h")

    def test_from_request_dict(self):
        """The raw request dict of task_internal_error gives the same keys, and None gives empty ones."""
        request = {"id": "1", "root_id": "1", "parent_id": "0", "retries": 2, "hostname": "w@h",
                   "delivery_info": {"routing_key": "q"}}
        assert {"task_name": "t", "task_id": "1", "parent_id": "0", "root_id": "1", "retries": 2, "queue": "q",
                "hostname": "w@h"} == _msg.from_request_dict(request, "t")
        assert {"task_name": "t", "task_id": None, "parent_id": None, "root_id": None, "retries": 0,
                "queue": None, "hostname": None} == _msg.from_request_dict(None, "t")


class TestFlowHeader:
    """The flowtrace_flow header of a flow's messages: its keys follow the identity keys."""

    HEADER = {"flow_name": "order", "dispatcher_id": "d1", "parent": {"A": "a1"}, "node_args": {"id": 7},
              "retried_count": 1, "unknown": "dropped"}

    def test_every_builder_copies_it(self):
        """Headers, request dict and context all give the flow keys, in FLOW_KEYS order, and nothing else."""

        class Context:
            id, parent_id, root_id, group, retries, hostname, delivery_info = "1", None, "1", None, 0, "h", {}

        context = Context()
        setattr(context, _msg.FLOW_HEADER, self.HEADER)
        built = [_msg.from_headers({"task": "t", "id": "1", _msg.FLOW_HEADER: self.HEADER}, "q", "h"),
                 _msg.from_request_dict({"id": "1", _msg.FLOW_HEADER: self.HEADER}, "t"),
                 _msg.from_context(context, "t")]
        for msg in built:
            assert list(_msg.FLOW_KEYS) == list(msg)[-len(_msg.FLOW_KEYS):]
            assert ("d1", {"id": 7}, False) == (msg["dispatcher_id"], msg["node_args"], "unknown" in msg)

    def test_same_name_as_the_dispatcher(self):
        """The dispatcher sets the header the integration reads."""
        from flowtrace.flow import dispatcher

        assert dispatcher.FLOW_HEADER == _msg.FLOW_HEADER


class TestDetails:
    """Exceptions, retry timing and arguments."""

    def test_type_name(self):
        """Built-ins by their name, everything else with its module."""
        assert ("KeyError", "tests.celery.test_msg.Custom") == (_msg.type_name(KeyError()), _msg.type_name(Custom()))

    def test_exception_without_einfo(self):
        """Without Celery's einfo the traceback is formatted from the exception."""
        try:
            raise Custom("bad")
        except Custom as exc:
            caught = exc
        msg = _msg.exception({}, caught)
        assert ("tests.celery.test_msg.Custom", "bad", caught) == (msg["exc_type"], msg["exc_message"],
                                                                   msg["exc_info"])
        assert msg["traceback"].endswith("tests.celery.test_msg.Custom: bad\n")

    def test_unprintable_message(self):
        """An exception whose str() raises still gives a message."""
        class Unprintable(Exception):
            def __str__(self):
                raise RuntimeError("no")

        assert "<unprintable Unprintable>" == _msg.exception({}, Unprintable())["exc_message"]

    def test_when(self):
        """A number is a countdown, a datetime an ISO eta, None nothing."""
        eta = datetime.datetime(2030, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
        assert ({"countdown": 1.5}, {"eta": "2030-01-02T03:04:05+00:00"}, {}) == (
            _msg.when({}, 1.5), _msg.when({}, eta), _msg.when({}, None))

    def test_arguments_without_flags(self):
        """Without the producer's flags the values are used, never the repr strings."""
        assert {"args": [1], "kwargs": {"a": 1}} == _msg.arguments({}, (1,), {"a": 1}, "(1,)", "{'a': 1}", None)

    def test_arguments_mixed_flags(self):
        """Each of args and kwargs follows its own flag."""
        assert {"args": "<args>", "kwargs": {"a": 1}} == _msg.arguments(
            {}, (1,), {"a": 1}, "<args>", "{'a': 1}", [True, False])
