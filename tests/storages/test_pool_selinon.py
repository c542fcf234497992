"""Tests for flowtrace.storages.pool with what Selinon projects bring: adapters by duck typing, optional methods, caches."""

import pytest

from flowtrace import Trace
from flowtrace.caches import FIFO, LRU
from flowtrace.storages.base import check_adapter_class, implements
from flowtrace.storages.memory import InMemoryStorage
from flowtrace.storages.pool import StoragePool
from flowtrace.testing import capture_events

FLOW, TASK, TASK_ID = "orders", "charge", "t1"


class Plain:
    """An adapter with no base class at all and no store_error() or delete()."""

    def __init__(self, **configuration):
        self.configuration = configuration
        self.data = None

    def connect(self):
        self.data = {}

    def is_connected(self):
        return self.data is not None

    def disconnect(self):
        self.data = None

    def retrieve(self, flow_name, task_name, task_id):
        return self.data[flow_name, task_name, task_id]

    def store(self, node_args, flow_name, task_name, task_id, result):
        self.data[flow_name, task_name, task_id] = result
        return task_id


class Recording(LRU):
    """An LRU that records the calls the pool makes."""

    def __init__(self, max_cache_size):
        super().__init__(max_cache_size)
        self.calls = []

    def add(self, item_id, item, task_name=None, flow_name=None):
        self.calls.append(("add", item_id, task_name, flow_name))
        super().add(item_id, item, task_name, flow_name)

    def get(self, item_id, task_name=None, flow_name=None):
        self.calls.append(("get", item_id, task_name, flow_name))
        return super().get(item_id, task_name, flow_name)


def cache_msg(task_id=TASK_ID):
    return {"flow_name": FLOW, "task_name": TASK, "task_id": task_id, "storage_name": "Results"}


def msg(task_id=TASK_ID, storage_task_name=TASK):
    return {**cache_msg(task_id), "storage_task_name": storage_task_name}


class TestCheckAdapterClass:
    """check_adapter_class() and implements()."""

    def test_problems(self):
        """Each missing method, a non-method optional attribute, and abstract methods are named."""

        class Half:
            connect = disconnect = lambda self: None
            delete = "nope"

        class Abstract(InMemoryStorage.__mro__[1]):  # DataStorage, store() and the rest left abstract
            pass

        name = "tests.storages.test_pool_selinon.TestCheckAdapterClass.test_problems.<locals>."
        assert ([], [], [
            name + "Half has no is_connected(), retrieve(), store() methods, which a storage adapter needs",
            name + "Half.delete is not a method",
        ], [name + "Abstract cannot be instantiated: it leaves abstract connect, disconnect, is_connected, "
                   "retrieve, store"], ["a str is not a class"]) == (
            check_adapter_class(Plain), check_adapter_class(InMemoryStorage), check_adapter_class(Half),
            check_adapter_class(Abstract), check_adapter_class("redis://:password@host"))

    def test_implements(self):
        """An optional method counts only when the class defines its own, not a base class's default."""
        from flowtrace.storages.base import DataStorage

        class Defaults(DataStorage):
            connect = is_connected = disconnect = retrieve = store = lambda self, *args: None

        assert [True, True, False, False, False, False] == [
            implements(InMemoryStorage, "store_error"), implements(InMemoryStorage(), "delete"),
            implements(Plain, "store_error"), implements(Plain, "delete"),
            implements(Defaults, "store_error"), implements(Defaults, "delete")]


class TestDuckTypedAdapters:
    """A class without flowtrace's base class works in the pool."""

    def test_plain_class_store_and_retrieve(self):
        """The pool creates it from its configuration and stores and reads through it."""
        pool = StoragePool({"Results": (Plain, {"name": "x"})}, {TASK: "Results"})
        pool.store(None, FLOW, TASK, TASK_ID, {"n": 1})
        adapter = pool.get_connected_storage("Results")
        assert ({"n": 1}, {"name": "x"}) == (pool.retrieve(FLOW, TASK, TASK_ID), adapter.configuration)

    def test_without_store_error_it_is_omitted_without_connecting(self):
        """No store_error(): STORAGE_OMIT_STORE_ERROR, and the adapter is not connected for it."""
        adapter = Plain()
        pool = StoragePool({"Results": adapter}, {TASK: "Results"})
        with capture_events() as captured:
            stored = pool.store_error(None, FLOW, TASK, TASK_ID, ValueError("declined"))
        assert (False, [Trace.STORAGE_OMIT_STORE_ERROR], False) == (
            stored, [event for event, _ in captured], adapter.is_connected())

    def test_without_delete_the_pool_refuses(self):
        """No delete(): NotImplementedError naming the storage, no event, not connected."""
        adapter = Plain()
        pool = StoragePool({"Results": adapter}, {TASK: "Results"})
        with capture_events() as captured:
            with pytest.raises(NotImplementedError) as caught:
                pool.delete(FLOW, TASK, TASK_ID)
        assert ("storage 'Results' (Plain) does not delete results", [], False) == (
            str(caught.value), captured, adapter.is_connected())

    def test_delete_raising_not_implemented(self):
        """A delete() of its own that raises NotImplementedError is refused the same way, after STORAGE_DELETE."""

        class Refusing(InMemoryStorage):
            def delete(self, flow_name, task_name, task_id):
                raise NotImplementedError()

        pool = StoragePool({"Results": Refusing()}, {TASK: "Results"})
        with capture_events() as captured:
            with pytest.raises(NotImplementedError) as caught:
                pool.delete(FLOW, TASK, TASK_ID)
        assert ("storage 'Results' (Refusing) does not delete results",
                [Trace.STORAGE_CONNECT, Trace.STORAGE_DELETE]) == (str(caught.value), [e for e, _ in captured])


class TestStorageCaches:
    """StoragePool(caches=...): a cache per storage, called as Selinon calls it."""

    def test_called_with_selinons_arguments(self):
        """The cache gets the task id as item id and the storage task name and flow name as hints."""
        cache = Recording(4)
        pool = StoragePool({"Results": InMemoryStorage()}, {TASK: "Results"}, {TASK: "charges"},
                           caches={"Results": cache})
        pool.store(None, FLOW, TASK, TASK_ID, 1)
        with capture_events() as captured:
            values = [pool.retrieve(FLOW, TASK, TASK_ID), pool.retrieve(FLOW, TASK, TASK_ID)]
        assert ([1, 1], [("get", TASK_ID, "charges", FLOW), ("add", TASK_ID, "charges", FLOW),
                         ("get", TASK_ID, "charges", FLOW)], [
            (Trace.TASK_RESULT_CACHE_GET, cache_msg()),
            (Trace.TASK_RESULT_CACHE_MISS, {**cache_msg(), "what": "the result is not in the result cache"}),
            (Trace.STORAGE_RETRIEVE, msg(storage_task_name="charges")),
            (Trace.STORAGE_RETRIEVED, msg(storage_task_name="charges")),
            (Trace.TASK_RESULT_CACHE_ADD, cache_msg()),
            (Trace.TASK_RESULT_CACHE_GET, cache_msg()), (Trace.TASK_RESULT_CACHE_HIT, cache_msg()),
        ]) == (values, cache.calls, captured)

    def test_a_hit_saves_the_storage_read_and_is_a_copy(self):
        """After the first read, the storage is not asked again, and changing a hit leaves the cache alone."""
        storage = InMemoryStorage()
        pool = StoragePool({"Results": storage}, {TASK: "Results"}, caches={"Results": FIFO(2)})
        pool.store(None, FLOW, TASK, TASK_ID, {"n": [1]})
        pool.retrieve(FLOW, TASK, TASK_ID)
        with capture_events() as captured:
            hit = pool.retrieve(FLOW, TASK, TASK_ID)
            hit["n"].append(2)
            again = pool.retrieve(FLOW, TASK, TASK_ID)
        assert ({"n": [1]}, [Trace.TASK_RESULT_CACHE_GET, Trace.TASK_RESULT_CACHE_HIT] * 2) == (
            again, [e for e, _ in captured])

    @pytest.mark.parametrize("operation", ["store", "delete"])
    def test_store_and_delete_remove_from_the_cache(self, operation):
        """Storing again or deleting makes a cache with remove() forget the task's result."""
        cache = LRU(4)
        pool = StoragePool({"Results": InMemoryStorage()}, {TASK: "Results"}, caches={"Results": cache})
        pool.store(None, FLOW, TASK, TASK_ID, 1)
        pool.retrieve(FLOW, TASK, TASK_ID)
        if operation == "store":
            pool.store(None, FLOW, TASK, TASK_ID, 2)
        else:
            pool.delete(FLOW, TASK, TASK_ID)
        assert False is (TASK_ID in cache)

    def test_a_failing_cache_is_an_issue_and_the_storage_answers(self):
        """A cache whose get() raises something else than a miss gives TASK_RESULT_CACHE_ISSUE; the storage is read."""

        class Broken(LRU):
            def get(self, item_id, task_name=None, flow_name=None):
                raise OSError("cache down")

        pool = StoragePool({"Results": InMemoryStorage()}, {TASK: "Results"}, caches={"Results": Broken(2)})
        pool.store(None, FLOW, TASK, TASK_ID, 7)
        with capture_events() as captured:
            value = pool.retrieve(FLOW, TASK, TASK_ID)
        assert (7, [Trace.TASK_RESULT_CACHE_GET, Trace.TASK_RESULT_CACHE_ISSUE, Trace.STORAGE_RETRIEVE,
                    Trace.STORAGE_RETRIEVED, Trace.TASK_RESULT_CACHE_ADD]) == (value, [e for e, _ in captured])

    def test_other_storages_keep_the_shared_cache(self):
        """A storage without its own cache uses cache_size's shared cache; with cache_size 0 it has none."""
        pool = StoragePool({"Results": InMemoryStorage(), "Archive": InMemoryStorage()},
                           {TASK: "Results", "archive": "Archive"}, caches={"Results": LRU(2)})
        pool.store(None, FLOW, "archive", TASK_ID, 1)
        with capture_events() as captured:
            pool.retrieve(FLOW, "archive", TASK_ID)
        assert [Trace.STORAGE_RETRIEVE, Trace.STORAGE_RETRIEVED] == [e for e, _ in captured]
