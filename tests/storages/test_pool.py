"""Tests for flowtrace.storages.pool: the pool, its events, its cache and its errors."""

import socket
import sys
import threading
import traceback
import types

import pytest

from flowtrace import Trace
from flowtrace.storages.pool import FlowResults, StoragePool
from flowtrace.storages import DataStorage, MissingResult, StorageError
from flowtrace.storages.base import error_record
from flowtrace.storages.memory import InMemoryStorage
from flowtrace.storages.redis import RedisStorage
from flowtrace.testing import capture_events

FLOW, TASK, TASK_ID = "orders", "charge", "5f1c0b9e-6d0c-4c43-9a57-2f0c2d1f0a11"


def msg(storage_name="Results", task_name=TASK, storage_task_name=None, task_id=TASK_ID, flow_name=FLOW):
    """The msg dict of a STORAGE_* event for the default task."""
    return {"flow_name": flow_name, "task_name": task_name, "task_id": task_id, "storage_name": storage_name,
            "storage_task_name": storage_task_name or task_name}


def cache_msg(task_name=TASK, task_id=TASK_ID):
    """The msg dict of a TASK_RESULT_CACHE_* event for the default task."""
    return {"flow_name": FLOW, "task_name": task_name, "task_id": task_id, "storage_name": "Results"}


def what(error):
    """The ``what`` the pool reports for a StorageError: the formatted traceback of its cause."""
    return "".join(traceback.format_exception(error.__cause__))


def failure():
    """Return the ``sys.exc_info()`` of a real exception with a traceback."""
    try:
        raise ValueError("card declined")
    except ValueError:
        return sys.exc_info()


def error_fields(exc_info):
    """The error keys of STORAGE_STORE_ERROR and STORAGE_OMIT_STORE_ERROR for ``exc_info``."""
    record = error_record(exc_info)
    return {"error_type": record["type"], "error_value": record["message"], "error_traceback": record["traceback"]}


def closed_port():
    """Return a local TCP port that nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Counting(InMemoryStorage):
    """An in-memory adapter that counts its instances, connects and retrievals."""

    instances = 0

    def __init__(self, **configuration):
        super().__init__()
        type(self).instances += 1
        self.configuration = configuration
        self.connects = 0
        self.retrievals = []

    def connect(self):
        self.connects += 1
        super().connect()

    def retrieve(self, flow_name, task_name, task_id):
        self.retrievals.append((flow_name, task_name, task_id))
        return super().retrieve(flow_name, task_name, task_id)


class NoErrors(DataStorage):
    """An adapter that does not override store_error()."""

    def __init__(self):
        self.connected = False

    def connect(self):
        self.connected = True

    def is_connected(self):
        return self.connected

    def disconnect(self):
        self.connected = False

    def retrieve(self, flow_name, task_name, task_id):
        raise MissingResult("nothing")

    def store(self, node_args, flow_name, task_name, task_id, result):
        return task_id

    def delete(self, flow_name, task_name, task_id):
        raise MissingResult("nothing")


class SelinonStyleNoErrors(InMemoryStorage):
    """An adapter whose store_error() raises NotImplementedError itself, as Selinon's adapters do."""

    def store_error(self, node_args, flow_name, task_name, task_id, exc_info):
        raise NotImplementedError()


class Broken(InMemoryStorage):
    """An in-memory adapter whose chosen operations raise OSError."""

    def __init__(self, failing=()):
        super().__init__()
        self.failing = set(failing)

    def _maybe_fail(self, operation):
        if operation in self.failing:
            raise OSError(5, "Input/output error in %s" % operation)

    def connect(self):
        self._maybe_fail("connect")
        super().connect()

    def disconnect(self):
        self._maybe_fail("disconnect")
        super().disconnect()

    def store(self, node_args, flow_name, task_name, task_id, result):
        self._maybe_fail("store")
        return super().store(node_args, flow_name, task_name, task_id, result)

    def store_error(self, node_args, flow_name, task_name, task_id, exc_info):
        self._maybe_fail("store_error")
        return super().store_error(node_args, flow_name, task_name, task_id, exc_info)


class Uncopyable:
    """A result that copy.deepcopy refuses."""

    def __deepcopy__(self, memo):
        raise TypeError("cannot copy this result")


class ReturnsUncopyable(InMemoryStorage):
    """An adapter whose results cannot be copied into the cache."""

    def retrieve(self, flow_name, task_name, task_id):
        return Uncopyable()


def pool_with(adapter, cache_size=0, **task_options):
    """A pool whose only storage, ``Results``, is ``adapter``, holding the results of ``charge``."""
    return StoragePool({"Results": adapter}, {TASK: "Results"}, cache_size=cache_size, **task_options)


class TestConstruction:
    """StoragePool(...) and its checks."""

    @pytest.mark.parametrize("arguments, message", [
        (({"Results": (dict, {})},),
         "storage 'Results': builtins.dict is not a storage adapter class: builtins.dict has no connect(), "
         "is_connected(), disconnect(), retrieve(), store() methods, which a storage adapter needs"),
        (({"Results": ({"url": "redis://:secret@host"}, {})},),
         "storage 'Results': a dict is not a storage adapter class: a dict is not a class"),
        (({"Results": {"url": "redis://:secret@host"}},),
         "storage 'Results' must be an adapter instance or a (class, configuration) pair, got a dict: "
         "builtins.dict has no connect(), is_connected(), disconnect(), retrieve(), store() methods, which a "
         "storage adapter needs"),
        (({"Results": (InMemoryStorage, None)}, {}, None, 0, {"Archive": object()}),
         "a cache is given for the storage 'Archive', which is not among the storages (Results)"),
        (({"Results": (InMemoryStorage, None)}, {}, None, 0, {"Results": object()}),
         "the cache of storage 'Results' must have add() and get() methods, as selinon.Cache has; an object has "
         "no add() or get()"),
        (({"Results": (InMemoryStorage, ["x"])},),
         "storage 'Results': the configuration must be a mapping of keyword arguments, got a list"),
        (({"Results": InMemoryStorage},),
         "storage 'Results' must be an adapter instance or a (class, configuration) pair, got the class InMemoryStorage alone"),
        (({"": (InMemoryStorage, None)},), "a storage name must be a non-empty string, got ''"),
        (({"Results": (InMemoryStorage, None)}, {"charge": "Archive"}),
         "task 'charge' uses the storage 'Archive', which is not among the storages (Results)"),
        (({"Results": (InMemoryStorage, None)}, {}, {"charge": "charges"}),
         "task 'charge' has a storage task name ('charges') but no storage"),
        (({"Results": (InMemoryStorage, None)}, {"charge": "Results"}, {"charge": ""}),
         "the storage task name of task 'charge' must be a non-empty string, got ''"),
    ])
    def test_bad_arguments_are_named(self, arguments, message):
        """A wrong entry raises ValueError naming it."""
        with pytest.raises(ValueError) as caught:
            StoragePool(*arguments[:3], **dict(zip(("cache_size", "caches"), arguments[3:])))
        assert message == str(caught.value)

    @pytest.mark.parametrize("size", [-1, 1.5, True])
    def test_bad_cache_size(self, size):
        """A cache size that is not an integer >= 0 raises ValueError."""
        with pytest.raises(ValueError) as caught:
            StoragePool({}, cache_size=size)
        assert "cache_size must be an integer >= 0, got %r" % (size,) == str(caught.value)

    def test_adapters_are_created_on_first_use(self):
        """The pool creates an adapter from its class and configuration only when a task first needs it."""
        Counting.instances = 0
        pool = StoragePool({"Results": (Counting, {"option": 1})}, {TASK: "Results"})
        before = Counting.instances
        adapter = pool.get_connected_storage("Results")
        assert (0, 1, {"option": 1}, True) == (before, Counting.instances, adapter.configuration,
                                               adapter.is_connected())

    def test_lookups(self):
        """storage_name_of() and storage_task_name_of() answer from the mappings, None for a task without storage."""
        pool = StoragePool({"Results": (InMemoryStorage, None)}, {TASK: "Results", "mail": "Results"},
                           {"mail": "mail_v2"})
        assert ("Results", None, TASK, "mail_v2") == (
            pool.storage_name_of(TASK), pool.storage_name_of("other"), pool.storage_task_name_of(TASK),
            pool.storage_task_name_of("mail"))


class TestOperations:
    """store(), retrieve() and delete() and the events around them."""

    def test_first_store(self):
        """The first store connects: STORAGE_CONNECT, STORAGE_STORE, STORAGE_STORED with the record id."""
        pool = pool_with(InMemoryStorage())
        with capture_events() as captured:
            record_id = pool.store({"order": 7}, FLOW, TASK, TASK_ID, {"paid": True})
        assert (TASK_ID, [
            (Trace.STORAGE_CONNECT, {"storage_name": "Results"}),
            (Trace.STORAGE_STORE, msg()),
            (Trace.STORAGE_STORED, {**msg(), "record_id": TASK_ID}),
        ]) == (record_id, captured)

    def test_second_store_does_not_connect_again(self):
        """Once connected, a store emits STORAGE_STORE and STORAGE_STORED only."""
        pool = pool_with(InMemoryStorage())
        pool.store(None, FLOW, TASK, TASK_ID, 1)
        with capture_events() as captured:
            pool.store(None, FLOW, TASK, "second", 2)
        assert ["STORAGE_STORE", "STORAGE_STORED"] == captured.names()

    def test_retrieve(self):
        """A retrieve on a fresh pool emits STORAGE_CONNECT, STORAGE_RETRIEVE, STORAGE_RETRIEVED and returns the result."""
        adapter = InMemoryStorage()
        pool_with(adapter).store(None, FLOW, TASK, TASK_ID, {"paid": True})
        adapter.disconnect()
        with capture_events() as captured:
            result = pool_with(adapter).retrieve(FLOW, TASK, TASK_ID)
        assert ({"paid": True}, [
            (Trace.STORAGE_CONNECT, {"storage_name": "Results"}),
            (Trace.STORAGE_RETRIEVE, msg()),
            (Trace.STORAGE_RETRIEVED, msg()),
        ]) == (result, captured)

    def test_delete(self):
        """A delete emits STORAGE_DELETE then STORAGE_DELETED, and the result is gone."""
        adapter = InMemoryStorage()
        pool = pool_with(adapter)
        pool.store(None, FLOW, TASK, TASK_ID, 1)
        with capture_events() as captured:
            pool.delete(FLOW, TASK, TASK_ID)
        with pytest.raises(MissingResult):
            adapter.retrieve(FLOW, TASK, TASK_ID)
        assert [(Trace.STORAGE_DELETE, msg()), (Trace.STORAGE_DELETED, msg())] == captured

    def test_adapter_sees_the_storage_task_name(self):
        """The adapter is given the storage task name; the events carry both names."""
        adapter = Counting()
        pool = pool_with(adapter, storage_task_names={TASK: "charge_v2"})
        pool.store(None, FLOW, TASK, TASK_ID, "x")
        with capture_events() as captured:
            result = pool.retrieve(FLOW, TASK, TASK_ID)
        assert ("x", [(FLOW, "charge_v2", TASK_ID)], "x", [
            (Trace.STORAGE_RETRIEVE, msg(storage_task_name="charge_v2")),
            (Trace.STORAGE_RETRIEVED, msg(storage_task_name="charge_v2")),
        ]) == (result, list(adapter.retrievals), adapter.retrieve(FLOW, "charge_v2", TASK_ID), captured)

    def test_retrieve_missing_is_a_storage_issue(self):
        """A result that is not stored gives STORAGE_ISSUE and a StorageError caused by MissingResult."""
        pool = pool_with(InMemoryStorage())
        pool.get_connected_storage("Results")
        with capture_events() as captured:
            with pytest.raises(StorageError) as caught:
                pool.retrieve(FLOW, TASK, TASK_ID)
        error = caught.value
        assert (
            "storage 'Results' could not retrieve the result of task charge (id %s) of flow orders: MissingResult: "
            "no result is stored for task charge (id %s) of flow orders" % (TASK_ID, TASK_ID),
            "Results", "retrieve", MissingResult,
            [(Trace.STORAGE_RETRIEVE, msg()), (Trace.STORAGE_ISSUE, {**msg(), "what": what(error)})],
        ) == (str(error), error.storage_name, error.operation, type(error.__cause__), captured)

    def test_delete_missing_is_a_storage_issue(self):
        """Deleting what is not stored gives STORAGE_DELETE, STORAGE_ISSUE and a StorageError."""
        pool = pool_with(InMemoryStorage())
        pool.get_connected_storage("Results")
        with capture_events() as captured:
            with pytest.raises(StorageError) as caught:
                pool.delete(FLOW, TASK, TASK_ID)
        assert ("delete", [(Trace.STORAGE_DELETE, msg()),
                           (Trace.STORAGE_ISSUE, {**msg(), "what": what(caught.value)})]) == (
            caught.value.operation, captured)

    @pytest.mark.parametrize("operation, arguments", [
        ("store", (None, FLOW, "unknown", TASK_ID, 1)),
        ("retrieve", (FLOW, "unknown", TASK_ID)),
        ("delete", (FLOW, "unknown", TASK_ID)),
    ])
    def test_task_without_storage(self, operation, arguments):
        """An operation on a task with no storage raises ValueError and emits nothing."""
        pool = pool_with(InMemoryStorage())
        with capture_events() as captured:
            with pytest.raises(ValueError) as caught:
                getattr(pool, operation)(*arguments)
        assert ("task 'unknown' has no storage; the tasks with one are charge", []) == (str(caught.value), captured)

    def test_get_connected_storage(self):
        """get_connected_storage() connects once and returns the same adapter every time."""
        adapter = Counting()
        pool = pool_with(adapter)
        with capture_events() as captured:
            got = [pool.get_connected_storage("Results"), pool.get_connected_storage("Results")]
        assert ([adapter, adapter], 1, [(Trace.STORAGE_CONNECT, {"storage_name": "Results"})]) == (
            got, adapter.connects, captured)

    def test_get_connected_storage_unknown_name(self):
        """get_connected_storage() of a name that is not configured raises ValueError."""
        with pytest.raises(ValueError) as caught:
            pool_with(InMemoryStorage()).get_connected_storage("Archive")
        assert "no storage is named 'Archive'; the storages are Results" == str(caught.value)

    def test_flow_results(self):
        """results(flow, ids).get(task) reads the result of that task's id in that flow."""
        pool = pool_with(InMemoryStorage())
        pool.store(None, FLOW, TASK, TASK_ID, {"paid": True})
        view = pool.results(FLOW, {TASK: TASK_ID})
        with pytest.raises(KeyError):
            view.get("mail")
        assert (True, {"paid": True}) == (isinstance(view, FlowResults), view.get(TASK))


class TestStoreError:
    """store_error() and STORAGE_STORE_ERROR / STORAGE_OMIT_STORE_ERROR."""

    def test_error_is_stored(self):
        """An adapter with store_error(): STORAGE_CONNECT then STORAGE_STORE_ERROR with the error fields."""
        adapter = InMemoryStorage()
        exc_info = failure()
        with capture_events() as captured:
            stored = pool_with(adapter).store_error({"order": 7}, FLOW, TASK, TASK_ID, exc_info)
        assert (True, error_record(exc_info), [
            (Trace.STORAGE_CONNECT, {"storage_name": "Results"}),
            (Trace.STORAGE_STORE_ERROR, {**msg(), **error_fields(exc_info)}),
        ]) == (stored, adapter.retrieve_error(FLOW, TASK, TASK_ID), captured)

    def test_exception_instead_of_exc_info(self):
        """An exception object is accepted in place of exc_info."""
        adapter = InMemoryStorage()
        exc_info = failure()
        pool_with(adapter).store_error(None, FLOW, TASK, TASK_ID, exc_info[1])
        assert error_record(exc_info) == adapter.retrieve_error(FLOW, TASK, TASK_ID)

    def test_adapter_without_store_error_is_not_connected(self):
        """An adapter that does not override store_error() gives STORAGE_OMIT_STORE_ERROR and is not even connected."""
        adapter = NoErrors()
        exc_info = failure()
        with capture_events() as captured:
            stored = pool_with(adapter).store_error(None, FLOW, TASK, TASK_ID, exc_info)
        assert (False, False, [(Trace.STORAGE_OMIT_STORE_ERROR, {**msg(), **error_fields(exc_info)})]) == (
            stored, adapter.is_connected(), captured)

    def test_not_implemented_error_means_omitted(self):
        """A store_error() raising NotImplementedError gives STORAGE_CONNECT then STORAGE_OMIT_STORE_ERROR."""
        exc_info = failure()
        with capture_events() as captured:
            stored = pool_with(SelinonStyleNoErrors()).store_error(None, FLOW, TASK, TASK_ID, exc_info)
        assert (False, [(Trace.STORAGE_CONNECT, {"storage_name": "Results"}),
                        (Trace.STORAGE_OMIT_STORE_ERROR, {**msg(), **error_fields(exc_info)})]) == (stored, captured)

    def test_task_without_storage_is_omitted(self):
        """A task with no storage gives STORAGE_OMIT_STORE_ERROR with no storage names."""
        exc_info = failure()
        with capture_events() as captured:
            stored = pool_with(InMemoryStorage()).store_error(None, FLOW, "mail", TASK_ID, exc_info)
        assert (False, [(Trace.STORAGE_OMIT_STORE_ERROR,
                         {**msg(storage_name=None, task_name="mail"), "storage_task_name": None,
                          **error_fields(exc_info)})]) == (stored, captured)

    def test_failing_store_error_is_a_storage_issue(self):
        """A store_error() that raises gives STORAGE_ISSUE and a StorageError."""
        with capture_events() as captured:
            with pytest.raises(StorageError) as caught:
                pool_with(Broken({"store_error"})).store_error(None, FLOW, TASK, TASK_ID, failure())
        assert ("store_error", [(Trace.STORAGE_CONNECT, {"storage_name": "Results"}),
                                (Trace.STORAGE_ISSUE, {**msg(), "what": what(caught.value)})]) == (
            caught.value.operation, captured)


class TestOutage:
    """A storage that is down: STORAGE_ISSUE, a retryable StorageError, nothing half-done."""

    def test_redis_down(self):
        """A Redis adapter on a closed port gives STORAGE_CONNECT, STORAGE_ISSUE and a StorageError, and stays disconnected."""
        port = closed_port()
        pool = StoragePool({"Results": (RedisStorage, {"url": "redis://127.0.0.1:%d/7" % port, "socket_timeout": 2})},
                           {TASK: "Results"}, cache_size=8)
        with capture_events() as captured:
            with pytest.raises(StorageError) as caught:
                pool.store(None, FLOW, TASK, TASK_ID, {"paid": True})
        error = caught.value
        assert (
            "storage 'Results' could not connect: ConnectionError: %s" % error.__cause__,
            "connect", "redis.exceptions.ConnectionError",
            [(Trace.STORAGE_CONNECT, {"storage_name": "Results"}),
             (Trace.STORAGE_ISSUE, {**msg(), "what": what(error)})],
            False, 0,
        ) == (str(error), error.operation, error_record(error.__cause__)["type"], captured,
              pool._adapters.made["Results"].is_connected(), len(pool._caches["Results"].cache))

    def test_retry_after_an_outage_stores_the_result(self):
        """After a failed connect, the retried store connects again and the result is stored."""
        adapter = Broken({"connect"})
        pool = pool_with(adapter)
        with pytest.raises(StorageError):
            pool.store(None, FLOW, TASK, TASK_ID, "x")
        adapter.failing.clear()
        with capture_events() as captured:
            pool.store(None, FLOW, TASK, TASK_ID, "x")
        assert (["STORAGE_CONNECT", "STORAGE_STORE", "STORAGE_STORED"], "x") == (
            captured.names(), adapter.retrieve(FLOW, TASK, TASK_ID))

    def test_failing_store(self):
        """A store() that raises after connecting gives STORAGE_STORE, STORAGE_ISSUE and a StorageError."""
        pool = pool_with(Broken({"store"}))
        pool.get_connected_storage("Results")
        with capture_events() as captured:
            with pytest.raises(StorageError) as caught:
                pool.store(None, FLOW, TASK, TASK_ID, "x")
        assert (
            "storage 'Results' could not store the result of task charge (id %s) of flow orders: OSError: "
            "[Errno 5] Input/output error in store" % TASK_ID,
            [(Trace.STORAGE_STORE, msg()), (Trace.STORAGE_ISSUE, {**msg(), "what": what(caught.value)})],
        ) == (str(caught.value), captured)

    def test_constructor_failure_keeps_no_adapter(self):
        """An adapter whose constructor raises gives STORAGE_ISSUE; the next call tries to create it again."""
        pool = StoragePool({"Results": (InMemoryStorage, {"unknown_option": 1})}, {TASK: "Results"})
        with capture_events() as captured:
            for _ in range(2):
                with pytest.raises(StorageError) as caught:
                    pool.store(None, FLOW, TASK, TASK_ID, 1)
        assert ("connect", TypeError, ["STORAGE_ISSUE", "STORAGE_ISSUE"], {}) == (
            caught.value.operation, type(caught.value.__cause__), captured.names(), pool._adapters.made)


class TestResultCache:
    """The result cache, on when cache_size > 0."""

    def test_miss_then_hit(self):
        """The first retrieve misses and reads the storage; the second is a hit and does not."""
        adapter = Counting()
        pool = pool_with(adapter, cache_size=4)
        pool.store(None, FLOW, TASK, TASK_ID, {"paid": True})
        with capture_events() as first:
            pool.retrieve(FLOW, TASK, TASK_ID)
        with capture_events() as second:
            result = pool.retrieve(FLOW, TASK, TASK_ID)
        assert ({"paid": True}, 1, [
            (Trace.TASK_RESULT_CACHE_GET, cache_msg()),
            (Trace.TASK_RESULT_CACHE_MISS, {**cache_msg(), "what": "the result is not in the result cache"}),
            (Trace.STORAGE_RETRIEVE, msg()),
            (Trace.STORAGE_RETRIEVED, msg()),
            (Trace.TASK_RESULT_CACHE_ADD, cache_msg()),
        ], [
            (Trace.TASK_RESULT_CACHE_GET, cache_msg()),
            (Trace.TASK_RESULT_CACHE_HIT, cache_msg()),
        ]) == (result, len(adapter.retrievals), first, second)

    def test_first_retrieve_on_a_fresh_pool(self):
        """On a fresh pool the cache is asked first, then the adapter is connected."""
        adapter = InMemoryStorage()
        pool_with(adapter).store(None, FLOW, TASK, TASK_ID, 1)
        with capture_events() as captured:
            pool_with(adapter, cache_size=4).retrieve(FLOW, TASK, TASK_ID)
        assert ["TASK_RESULT_CACHE_GET", "TASK_RESULT_CACHE_MISS", "STORAGE_RETRIEVE", "STORAGE_RETRIEVED",
                "TASK_RESULT_CACHE_ADD"] == captured.names()

    def test_hits_are_copies(self):
        """Changing a result the pool returned does not change what the cache returns next."""
        pool = pool_with(InMemoryStorage(), cache_size=4)
        pool.store(None, FLOW, TASK, TASK_ID, {"items": [1]})
        pool.retrieve(FLOW, TASK, TASK_ID)["items"].append(2)
        pool.retrieve(FLOW, TASK, TASK_ID)["items"].append(3)
        assert {"items": [1]} == pool.retrieve(FLOW, TASK, TASK_ID)

    def test_least_recently_used_goes_first(self):
        """With room for two, reading a, b, a, c drops b and keeps a."""
        pool = pool_with(InMemoryStorage(), cache_size=2)
        for task_id in "abc":
            pool.store(None, FLOW, TASK, task_id, task_id)
        for task_id in "abac":
            pool.retrieve(FLOW, TASK, task_id)
        with capture_events(events=["TASK_RESULT_CACHE_HIT", "TASK_RESULT_CACHE_MISS"]) as captured:
            pool.retrieve(FLOW, TASK, "a")
            pool.retrieve(FLOW, TASK, "b")
        assert [(Trace.TASK_RESULT_CACHE_HIT, cache_msg(task_id="a")),
                (Trace.TASK_RESULT_CACHE_MISS,
                 {**cache_msg(task_id="b"), "what": "the result is not in the result cache"})] == captured

    @pytest.mark.parametrize("operation, arguments", [
        ("store", (None, FLOW, TASK, TASK_ID, "new")),
        ("delete", (FLOW, TASK, TASK_ID)),
    ])
    def test_store_and_delete_evict(self, operation, arguments):
        """store() and delete() drop the task's cached result, so the next read asks the storage."""
        pool = pool_with(InMemoryStorage(), cache_size=4)
        pool.store(None, FLOW, TASK, TASK_ID, "old")
        pool.retrieve(FLOW, TASK, TASK_ID)
        getattr(pool, operation)(*arguments)
        with capture_events(events=["TASK_RESULT_CACHE_HIT", "TASK_RESULT_CACHE_MISS"]) as captured:
            try:
                pool.retrieve(FLOW, TASK, TASK_ID)
            except StorageError:
                pass
        assert ["TASK_RESULT_CACHE_MISS"] == captured.names()

    def test_off_by_default(self):
        """Without cache_size, no TASK_RESULT_CACHE_* event is emitted and every read asks the storage."""
        adapter = Counting()
        pool = pool_with(adapter)
        pool.store(None, FLOW, TASK, TASK_ID, 1)
        with capture_events() as captured:
            pool.retrieve(FLOW, TASK, TASK_ID)
            pool.retrieve(FLOW, TASK, TASK_ID)
        assert (2, ["STORAGE_RETRIEVE", "STORAGE_RETRIEVED"] * 2) == (len(adapter.retrievals), captured.names())

    def test_a_result_that_cannot_be_cached(self):
        """A result the cache cannot copy gives TASK_RESULT_CACHE_ISSUE and is still returned."""
        pool = pool_with(ReturnsUncopyable(), cache_size=4)
        with capture_events() as captured:
            result = pool.retrieve(FLOW, TASK, TASK_ID)
        issue = captured[-1]
        assert (True, ["TASK_RESULT_CACHE_GET", "TASK_RESULT_CACHE_MISS", "STORAGE_CONNECT", "STORAGE_RETRIEVE",
                       "STORAGE_RETRIEVED", "TASK_RESULT_CACHE_ADD", "TASK_RESULT_CACHE_ISSUE"],
                cache_msg(), True) == (
            isinstance(result, Uncopyable), captured.names(), {k: v for k, v in issue[1].items() if k != "what"},
            issue[1]["what"].endswith("TypeError: cannot copy this result\n"))


class TestDisconnectAll:
    """disconnect_all()."""

    def test_disconnects_each_connected_adapter(self):
        """Each connected adapter gets STORAGE_DISCONNECT, by name; one never used is left alone."""
        adapters = {name: InMemoryStorage() for name in ("B", "A", "Unused")}
        pool = StoragePool(adapters, {"x": "A", "y": "B", "z": "Unused"})
        pool.store(None, FLOW, "y", TASK_ID, 1)
        pool.store(None, FLOW, "x", TASK_ID, 1)
        with capture_events() as captured:
            pool.disconnect_all()
        assert ([(Trace.STORAGE_DISCONNECT, {"storage_name": "A"}), (Trace.STORAGE_DISCONNECT, {"storage_name": "B"})],
                [False, False, False]) == (captured, [adapter.is_connected() for adapter in adapters.values()])

    def test_a_failing_disconnect_is_reported_and_the_rest_go_on(self):
        """A disconnect() that raises gives STORAGE_ISSUE; the next adapter is still disconnected; nothing raises."""
        broken, fine = Broken({"disconnect"}), InMemoryStorage()
        pool = StoragePool({"A": broken, "B": fine}, {"x": "A", "y": "B"})
        pool.store(None, FLOW, "x", TASK_ID, 1)
        pool.store(None, FLOW, "y", TASK_ID, 1)
        with capture_events() as captured:
            pool.disconnect_all()
        issue = captured[1]
        assert ([(Trace.STORAGE_DISCONNECT, {"storage_name": "A"}), (Trace.STORAGE_DISCONNECT, {"storage_name": "B"})],
                Trace.STORAGE_ISSUE,
                {"flow_name": None, "task_name": None, "task_id": None, "storage_name": "A", "storage_task_name": None},
                True, False) == (
            [captured[0], captured[2]], issue[0], {k: v for k, v in issue[1].items() if k != "what"},
            issue[1]["what"].endswith("OSError: [Errno 5] Input/output error in disconnect\n"), fine.is_connected())

    def test_used_again_it_connects_again(self):
        """An adapter used after disconnect_all() gets STORAGE_CONNECT again."""
        pool = pool_with(InMemoryStorage())
        pool.store(None, FLOW, TASK, TASK_ID, 1)
        pool.disconnect_all()
        with capture_events() as captured:
            pool.retrieve(FLOW, TASK, TASK_ID)
        assert ["STORAGE_CONNECT", "STORAGE_RETRIEVE", "STORAGE_RETRIEVED"] == captured.names()


class TestThreads:
    """The pool shared by the threads of a worker."""

    def test_first_use_from_many_threads_connects_once(self):
        """Threads that need an adapter at the same moment create and connect it once."""
        Counting.instances = 0
        pool = StoragePool({"Results": (Counting, None)}, {TASK: "Results"})
        barrier = threading.Barrier(8)
        errors = []

        def worker(n):
            barrier.wait()
            try:
                pool.store(None, FLOW, TASK, "id-%d" % n, n)
            except Exception as exc:  # reported below, not lost in the thread
                errors.append(exc)

        with capture_events(events=["STORAGE_CONNECT"]) as captured:
            threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        adapter = pool.get_connected_storage("Results")
        assert ([], 1, 1, 1, list(range(8))) == (
            errors, Counting.instances, adapter.connects, len(captured),
            [adapter.retrieve(FLOW, TASK, "id-%d" % n) for n in range(8)])


class TestFromConfig:
    """StoragePool.from_config()."""

    def test_builds_the_mappings_from_a_flow_configuration(self):
        """Storages come from ``storages`` (class imported, configuration kept), task storages from ``tasks``."""
        config = types.SimpleNamespace(
            storages={"Results": types.SimpleNamespace(load_class=lambda: Counting, configuration={"option": 2},
                                                cache=None)},
            tasks={
                TASK: types.SimpleNamespace(storage="Results", storage_task_name="charge_v2"),
                "mail": types.SimpleNamespace(storage="Results", storage_task_name="mail"),
                "log": types.SimpleNamespace(storage=None, storage_task_name=None),
            },
        )
        pool = StoragePool.from_config(config, cache_size=3)
        adapter = pool.get_connected_storage("Results")
        assert (Counting, {"option": 2}, "Results", "charge_v2", "Results", "mail", None, 3) == (
            type(adapter), adapter.configuration, pool.storage_name_of(TASK), pool.storage_task_name_of(TASK),
            pool.storage_name_of("mail"), pool.storage_task_name_of("mail"), pool.storage_name_of("log"),
            pool.cache_size)


class TestFromConfigCaches:
    """from_config() gives each storage the cache its YAML names."""

    @pytest.mark.parametrize("import_line", ["", "import: flowtrace.caches", "import: selinon.caches"])
    def test_a_storage_cache_saves_the_second_read(self, tmp_path, import_line):
        """With an LRU of 2 (flowtrace's for selinon.caches too), the second read is a hit and reads no storage."""
        import flowtrace.flow
        from flowtrace.caches import LRU

        path = tmp_path / "flows.yml"
        path.write_text("""\
tasks: [{name: a, import: tests.flow.sample, classname: FetchOrder, storage: Results}]
storages:
  - name: Results
    import: flowtrace.storages.memory
    classname: InMemoryStorage
    cache: {name: LRU, %s, configuration: {max_cache_size: 2}}
flows: [f]
flow-definitions: [{name: f, edges: [{from: [], to: a}]}]
""" % import_line if import_line else """\
tasks: [{name: a, import: tests.flow.sample, classname: FetchOrder, storage: Results}]
storages:
  - name: Results
    import: flowtrace.storages.memory
    classname: InMemoryStorage
    cache: {name: LRU, configuration: {max_cache_size: 2}}
flows: [f]
flow-definitions: [{name: f, edges: [{from: [], to: a}]}]
""", encoding="utf-8")
        pool = StoragePool.from_config(flowtrace.flow.load_flows(str(path)))
        pool.store(None, "f", "a", "t1", {"n": 1})
        with capture_events() as captured:
            results = [pool.retrieve("f", "a", "t1"), pool.retrieve("f", "a", "t1")]
        assert ([{"n": 1}, {"n": 1}], LRU, ["TASK_RESULT_CACHE_GET", "TASK_RESULT_CACHE_MISS", "STORAGE_RETRIEVE",
                                           "STORAGE_RETRIEVED", "TASK_RESULT_CACHE_ADD", "TASK_RESULT_CACHE_GET",
                                           "TASK_RESULT_CACHE_HIT"]) == (
            results, type(pool._caches["Results"].cache), captured.names())

    def test_a_cache_that_cannot_be_made_names_its_storage(self):
        """A cache whose class refuses its configuration is a ValueError naming the storage."""
        from flowtrace.flow.model import Cache, FlowConfig, FrozenMap, Storage

        config = FlowConfig(FrozenMap(), FrozenMap(), FrozenMap({"Results": Storage(
            "Results", "flowtrace.storages.memory", "InMemoryStorage",
            cache=Cache("LRU", None, FrozenMap({"max_cache_size": -1})))}))
        with pytest.raises(ValueError) as caught:
            StoragePool.from_config(config)
        assert ("storage 'Results': its cache LRU cannot be made: ValueError: LRU max_cache_size must be an integer "
                ">= 0, got -1") == str(caught.value)
