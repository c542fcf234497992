"""Tests for flowtrace/sinks/storage.py: events passed to a storage adapter's method."""

import pytest

from flowtrace import Trace
from flowtrace.sinks import storage as storage_sink
from flowtrace.sinks.storage import StorageSink


class Recording:
    """An adapter that records its connections and the events its trace method gets."""

    made = []

    def __init__(self, prefix="p"):
        self.prefix, self.connected, self.seen, self.connects = prefix, False, [], 0
        Recording.made.append(self)

    def connect(self):
        self.connects += 1
        self.connected = True

    def is_connected(self):
        return self.connected

    def disconnect(self):
        self.connected = False

    def retrieve(self, flow_name, task_name, task_id):
        raise KeyError(task_id)

    def store(self, node_args, flow_name, task_name, task_id, result):
        return task_id

    def trace(self, event, msg_dict):
        self.seen.append((self.prefix, event, msg_dict))

    def broken(self, event, msg_dict):
        raise RuntimeError("cannot store the event")


@pytest.fixture(autouse=True)
def fresh():
    Recording.made = []
    yield
    Trace.reset()


class TestStorageSink:
    def test_events_reach_the_method_of_one_connected_adapter(self):
        """Each event is passed to adapter.trace(event, msg_dict) on one adapter, made and connected once."""
        Trace.add_sink(StorageSink(Recording, {"prefix": "x"}, storage_name="Results"))
        Trace.log(Trace.TASK_START, task_name="a")
        Trace.log(Trace.TASK_END, task_name="a")
        [adapter] = Recording.made
        assert ([("x", Trace.TASK_START, {"task_name": "a"}), ("x", Trace.TASK_END, {"task_name": "a"})], 1) == (
            adapter.seen, adapter.connects)

    def test_a_new_process_makes_its_own_adapter(self, monkeypatch):
        """After a fork (another pid) the sink makes and connects a new adapter rather than use the parent's."""
        sink = StorageSink(Recording)
        sink(Trace.TASK_START, {})
        monkeypatch.setattr(storage_sink.os, "getpid", lambda: -1)
        sink(Trace.TASK_END, {})
        assert [[("p", Trace.TASK_START, {})], [("p", Trace.TASK_END, {})]] == [a.seen for a in Recording.made]

    def test_a_failing_method_is_counted_under_the_sinks_name(self):
        """A method that raises is counted in Trace.stats() under storage:NAME.METHOD and never raised."""
        sink = Trace.add_sink(StorageSink(Recording, method="broken", storage_name="Results"))
        Trace.log(Trace.TASK_START, task_name="a")
        assert ("storage:Results.broken", 1, "RuntimeError: cannot store the event") == (
            sink.name, Trace.stats()["storage:Results.broken"]["errors"],
            Trace.stats()["storage:Results.broken"]["last_error"])

    def test_a_class_without_the_method(self):
        """A class without the method named is refused, naming the class and the method."""
        with pytest.raises(ValueError) as caught:
            StorageSink(Recording, method="dump")
        assert ("the storage class tests.sinks.test_storage.Recording has no method 'dump', which is called with "
                "each event") == str(caught.value)

    def test_close_disconnects(self):
        """close() disconnects the adapter; the next event connects a new one."""
        sink = StorageSink(Recording)
        sink(Trace.TASK_START, {})
        sink.close()
        sink(Trace.TASK_END, {})
        assert [False, True] == [a.is_connected() for a in Recording.made]
