"""The contract every built-in adapter keeps, run against each of them (see conftest.py)."""

import sys

import pytest

from flowtrace.storages import DataStorage, MissingResult
from flowtrace.storages.base import error_record

FLOW, TASK, TASK_ID = "orders", "charge_card", "5f1c0b9e-6d0c-4c43-9a57-2f0c2d1f0a11"

# Values whose type and contents must come back unchanged, at any depth.
VALUES = {
    "dict": {"status": "paid", "amount": 12.5, "items": [{"sku": "A-1", "qty": 2}], "note": None, "gift": False},
    "list": [1, -2, 3.25, "x", None, True, [], {}],
    "string": "zaž 🚀 \"quoted\" \\ \n tab\t",
    "empty string": "",
    "integer": 42,
    "negative integer": -7,
    "big integer": 2 ** 70,
    "float": 0.1,
    "small float": -1.5e-7,
    "whole float": 5.0,
    "true": True,
    "none": None,
    "empty dict": {},
    "empty list": [],
    "nested": {"a": {"b": {"c": [[1, [2, [3]]]]}}},
}


def shape(value):
    """``value`` with the type of every scalar spelled out, so that ``1``, ``1.0`` and ``True`` differ."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(item) for item in value]
    return (type(value).__name__, value)


def failure():
    """Return the ``sys.exc_info()`` of a real exception with a traceback."""
    try:
        raise ValueError("card declined")
    except ValueError:
        return sys.exc_info()


class TestLifecycle:
    """connect(), is_connected() and disconnect()."""

    def test_is_connected_follows_connect_and_disconnect(self, storage):
        """is_connected() is false before connect(), true after it, false after disconnect(), true after a reconnect."""
        seen = [storage.is_connected()]
        storage.connect()
        seen.append(storage.is_connected())
        storage.disconnect()
        seen.append(storage.is_connected())
        storage.connect()
        seen.append(storage.is_connected())
        assert [False, True, False, True] == seen

    def test_disconnect_when_not_connected_does_nothing(self, storage):
        """disconnect() on an adapter that never connected leaves it disconnected without raising."""
        storage.disconnect()
        assert False is storage.is_connected()

    def test_operations_need_a_connection(self, storage):
        """retrieve() before connect() raises RuntimeError naming the adapter."""
        with pytest.raises(RuntimeError) as caught:
            storage.retrieve(FLOW, TASK, TASK_ID)
        assert "%s is not connected; call connect() first" % type(storage).__name__ == str(caught.value)

    def test_is_a_data_storage(self, storage):
        """Every built-in adapter subclasses flowtrace.DataStorage."""
        assert True is isinstance(storage, DataStorage)

    def test_results_outlive_a_reconnect(self, connected):
        """A result stored before disconnect() is retrieved after connecting again."""
        connected.store(None, FLOW, TASK, TASK_ID, {"kept": True})
        connected.disconnect()
        connected.connect()
        assert {"kept": True} == connected.retrieve(FLOW, TASK, TASK_ID)


class TestStoreAndRetrieve:
    """store() then retrieve()."""

    @pytest.mark.parametrize("value", list(VALUES.values()), ids=list(VALUES))
    def test_round_trip_is_exact(self, connected, value):
        """A JSON value comes back equal, with the same type at every depth."""
        connected.store({"order": 7}, FLOW, TASK, TASK_ID, value)
        assert shape(value) == shape(connected.retrieve(FLOW, TASK, TASK_ID))

    def test_tuple_comes_back_as_a_list(self, connected):
        """A tuple is stored as a JSON array, so it comes back as a list."""
        connected.store(None, FLOW, TASK, TASK_ID, (1, "two"))
        assert [1, "two"] == connected.retrieve(FLOW, TASK, TASK_ID)

    def test_storing_again_replaces_the_result(self, connected):
        """A second store() for the same task replaces the first result."""
        connected.store(None, FLOW, TASK, TASK_ID, "first")
        connected.store(None, FLOW, TASK, TASK_ID, "second")
        assert "second" == connected.retrieve(FLOW, TASK, TASK_ID)

    def test_records_are_addressed_by_flow_task_and_id(self, connected):
        """Results of the same task id under another flow or task name are separate records."""
        connected.store(None, FLOW, TASK, TASK_ID, "a")
        connected.store(None, "refunds", TASK, TASK_ID, "b")
        connected.store(None, FLOW, "send_mail", TASK_ID, "c")
        connected.store(None, FLOW, TASK, "other-id", "d")
        assert ["a", "b", "c", "d"] == [
            connected.retrieve(FLOW, TASK, TASK_ID),
            connected.retrieve("refunds", TASK, TASK_ID),
            connected.retrieve(FLOW, "send_mail", TASK_ID),
            connected.retrieve(FLOW, TASK, "other-id"),
        ]

    def test_names_with_separators_stay_apart(self, connected):
        """Names holding ':' or spaces do not run into each other."""
        connected.store(None, "a:b", "c", "1", "first")
        connected.store(None, "a", "b:c", "1", "second")
        assert ["first", "second"] == [connected.retrieve("a:b", "c", "1"), connected.retrieve("a", "b:c", "1")]

    def test_retrieve_missing_raises_missing_result(self, connected):
        """retrieve() of a task with nothing stored raises MissingResult, a LookupError, with a sentence."""
        with pytest.raises(MissingResult) as caught:
            connected.retrieve(FLOW, TASK, TASK_ID)
        assert (True, "no result is stored for task charge_card (id %s) of flow orders" % TASK_ID) == (
            isinstance(caught.value, LookupError), str(caught.value))

    @pytest.mark.parametrize("value, error", [({1, 2}, TypeError), (float("nan"), ValueError),
                                              ({"x": float("inf")}, ValueError), (object(), TypeError)],
                             ids=["set", "nan", "infinity", "object"])
    def test_refuses_what_json_cannot_hold(self, connected, value, error):
        """A result JSON cannot hold raises before anything is stored."""
        with pytest.raises(error):
            connected.store(None, FLOW, TASK, TASK_ID, value)
        with pytest.raises(MissingResult):
            connected.retrieve(FLOW, TASK, TASK_ID)


class TestStoreError:
    """store_error() and the built-in adapters' retrieve_error()."""

    def test_error_round_trip(self, connected):
        """The error comes back as error_record() describes the exception."""
        exc_info = failure()
        connected.store_error({"order": 7}, FLOW, TASK, TASK_ID, exc_info)
        assert error_record(exc_info) == connected.retrieve_error(FLOW, TASK, TASK_ID)

    def test_error_record_fields(self):
        """error_record() gives the type, the message and the whole printed traceback."""
        exc_info = failure()
        record = error_record(exc_info)
        assert ("ValueError", "card declined", True, True) == (
            record["type"], record["message"], record["traceback"].startswith("Traceback (most recent call last):"),
            record["traceback"].endswith("ValueError: card declined\n"))

    def test_an_error_is_not_a_result(self, connected):
        """A task with only an error stored has no result to retrieve."""
        connected.store_error(None, FLOW, TASK, TASK_ID, failure())
        with pytest.raises(MissingResult):
            connected.retrieve(FLOW, TASK, TASK_ID)

    def test_result_and_error_are_kept_apart(self, connected):
        """Storing an error leaves the task's result as it was, and the other way round."""
        exc_info = failure()
        connected.store(None, FLOW, TASK, TASK_ID, {"partial": 1})
        connected.store_error(None, FLOW, TASK, TASK_ID, exc_info)
        assert ({"partial": 1}, error_record(exc_info)) == (
            connected.retrieve(FLOW, TASK, TASK_ID), connected.retrieve_error(FLOW, TASK, TASK_ID))

    def test_retrieve_error_missing_raises_missing_result(self, connected):
        """retrieve_error() of a task with no error stored raises MissingResult."""
        connected.store(None, FLOW, TASK, TASK_ID, 1)
        with pytest.raises(MissingResult) as caught:
            connected.retrieve_error(FLOW, TASK, TASK_ID)
        assert "no error is stored for task charge_card (id %s) of flow orders" % TASK_ID == str(caught.value)


class TestDelete:
    """delete()."""

    def test_deleted_result_is_gone(self, connected):
        """After delete(), retrieve() raises MissingResult."""
        connected.store(None, FLOW, TASK, TASK_ID, "x")
        connected.delete(FLOW, TASK, TASK_ID)
        with pytest.raises(MissingResult):
            connected.retrieve(FLOW, TASK, TASK_ID)

    def test_delete_removes_the_error_too(self, connected):
        """delete() removes a stored error with the result."""
        connected.store(None, FLOW, TASK, TASK_ID, "x")
        connected.store_error(None, FLOW, TASK, TASK_ID, failure())
        connected.delete(FLOW, TASK, TASK_ID)
        with pytest.raises(MissingResult):
            connected.retrieve_error(FLOW, TASK, TASK_ID)

    def test_delete_of_an_error_only_task(self, connected):
        """delete() of a task that has only an error stored succeeds."""
        connected.store_error(None, FLOW, TASK, TASK_ID, failure())
        connected.delete(FLOW, TASK, TASK_ID)
        with pytest.raises(MissingResult):
            connected.retrieve_error(FLOW, TASK, TASK_ID)

    def test_delete_missing_raises_missing_result(self, connected):
        """delete() of a task with nothing stored raises MissingResult."""
        with pytest.raises(MissingResult) as caught:
            connected.delete(FLOW, TASK, TASK_ID)
        assert "no result is stored for task charge_card (id %s) of flow orders" % TASK_ID == str(caught.value)

    def test_delete_leaves_other_records(self, connected):
        """delete() removes only the record it names."""
        connected.store(None, FLOW, TASK, TASK_ID, "gone")
        connected.store(None, FLOW, TASK, "other-id", "kept")
        connected.delete(FLOW, TASK, TASK_ID)
        assert "kept" == connected.retrieve(FLOW, TASK, "other-id")
