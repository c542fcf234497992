"""``StoragePool``: the storage adapters of a flow setup, and the events around every storage operation.

Tasks store their results through the pool, and the dispatcher reads them
through it. The pool creates each adapter on first use, connects it, and
wraps each operation in its ``STORAGE_*`` events. When an adapter fails, the
pool emits ``STORAGE_ISSUE`` and raises
:class:`~flowtrace.storages.StorageError`, which tells the calling task to
retry instead of losing the result.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from flowtrace.caches import make_cache
from flowtrace.errors import MissingResult, StorageError
from flowtrace.storages import _msg
from flowtrace.storages._adapters import Adapters, issue
from flowtrace.storages._cache import ResultCache
from flowtrace.storages._results import FlowResults
from flowtrace.storages._spec import StorageSpec, check_setup
from flowtrace.storages.base import ExcInfo, StorageAdapter, implements
from flowtrace.trace import Trace

if TYPE_CHECKING:
    from flowtrace.flow.model import FlowConfig

__all__ = ["StoragePool", "FlowResults", "StorageError", "MissingResult"]


class StoragePool:
    """The storage adapters of a flow setup, by storage name, and the tasks that use them.

    Each operation takes the task's name as the flow configuration knows it;
    the pool finds the task's storage and passes the adapter the task's
    *storage task name* instead (the same name unless configured otherwise).
    The events each operation emits are listed in :doc:`/storages`.

    Example::

        from flowtrace.storages.pool import StoragePool
        from flowtrace.storages import RedisStorage

        pool = StoragePool(
            {"Results": (RedisStorage, {"url": "redis://127.0.0.1:6379/0"})},
            task_storage={"fetch": "Results", "parse": "Results"},
        )
        pool.store(node_args, "order", "fetch", task_id, {"status": 200})
        pool.retrieve("order", "fetch", task_id)

    Args:
        storages: storage name to either ``(adapter class, configuration)``,
            where the configuration mapping (or ``None``) becomes the
            constructor's keyword arguments when the storage is first used,
            or an adapter instance already made.
        task_storage: task name to the name of the storage holding its
            results. A task that is not listed has no storage.
        storage_task_names: task name to the name its results are stored
            under, for the tasks where it differs from the task name.
        cache_size: how many retrieved results of the storages without a
            cache of their own to keep in one shared result cache (least
            recently used first out); ``0``, the default as in Selinon, turns
            it and its ``TASK_RESULT_CACHE_*`` events off.
        caches: storage name to that storage's own result cache, as a
            storage's ``cache`` in Selinon's YAML gives it: a
            :mod:`flowtrace.caches` instance such as ``LRU(max_cache_size=10)``,
            one of Selinon's, or any object with Selinon's ``add()`` and
            ``get()``. It is called as Selinon calls it, with the task id as
            the item id and the storage task name and flow name as
            ``task_name`` and ``flow_name``. Every result cache gives out
            copies, so a caller that changes a result does not change the
            cache.

    Raises:
        ValueError: naming the entry that is wrong: a class that is not a
            storage adapter (see
            :func:`~flowtrace.storages.base.check_adapter_class`), a
            configuration that is not a mapping, a task whose storage is not
            in ``storages``, a storage task name for a task without storage,
            a negative ``cache_size``, or a cache for an unknown storage or
            without ``add()`` and ``get()``.

    .. versionadded:: 0.1.0
    """

    def __init__(self, storages: Mapping[str, StorageSpec], task_storage: Mapping[str, str] | None = None,
                 storage_task_names: Mapping[str, str] | None = None, *, cache_size: int = 0,
                 caches: Mapping[str, Any] | None = None) -> None:
        setup = check_setup(storages, task_storage, storage_task_names, cache_size, caches)
        self._specs = setup.specs
        self._adapters = Adapters(setup.specs, setup.adapters)
        self._task_storage = setup.task_storage
        self._storage_task_names = setup.storage_task_names
        self.cache_size = cache_size
        shared = ResultCache(size=cache_size)
        self._caches = {name: ResultCache(setup.caches[name]) if name in setup.caches else shared
                        for name in self._specs}

    @classmethod
    def from_config(cls, config: FlowConfig, *, cache_size: int = 0) -> StoragePool:
        """Return a pool for the storages and tasks of a loaded flow configuration.

        The storage classes are imported now, so that a wrong ``import`` or
        ``classname`` fails here; the adapters are still created on first use.
        Selinon's own Redis, PostgreSQL and S3 adapters run on flowtrace's
        (:mod:`flowtrace.storages.equivalents`). Each storage's ``cache`` is
        made with :func:`flowtrace.caches.make_cache` and given as ``caches``.

        Args:
            config: a :class:`~flowtrace.flow.model.FlowConfig`, as
                :func:`flowtrace.load_flows` returns it.
            cache_size: as for the constructor.

        Raises:
            ValueError: as the constructor does, or naming the storage whose
                cache cannot be made.
            ImportError: if a storage class cannot be imported.

        .. versionadded:: 0.1.0
        """
        storages: dict[str, StorageSpec] = {name: (storage.load_class(), storage.configuration)
                                            for name, storage in config.storages.items()}
        task_storage = {name: task.storage for name, task in config.tasks.items() if task.storage is not None}
        storage_task_names = {name: task.storage_task_name for name, task in config.tasks.items()
                              if task.storage is not None and task.storage_task_name not in (None, name)}
        caches = {name: _cache_of(name, storage.cache) for name, storage in config.storages.items()
                  if storage.cache is not None}
        return cls(storages, task_storage, storage_task_names, cache_size=cache_size, caches=caches)

    # --- lookups -----------------------------------------------------------

    def storage_name_of(self, task_name: str) -> str | None:
        """Return the name of the storage holding a task's results, or ``None`` if it has none.

        Args:
            task_name: the task, as the flow configuration names it.

        .. versionadded:: 0.1.0
        """
        return self._task_storage.get(task_name)

    def storage_task_name_of(self, task_name: str) -> str:
        """Return the name a task's results are stored under.

        Args:
            task_name: the task, as the flow configuration names it.

        .. versionadded:: 0.1.0
        """
        return self._storage_task_names.get(task_name, task_name)

    def get_connected_storage(self, storage_name: str) -> StorageAdapter:
        """Return a storage's adapter, created and connected first if needed.

        Connecting emits ``STORAGE_CONNECT``.

        Args:
            storage_name: the storage.

        Raises:
            ValueError: if no storage has this name.
            flowtrace.storages.StorageError: if the adapter could not be
                created or connected, after ``STORAGE_ISSUE``.

        .. versionadded:: 0.1.0
        """
        if storage_name not in self._specs:
            raise ValueError("no storage is named %r; the storages are %s"
                             % (storage_name, ", ".join(sorted(self._specs)) or "none"))
        return self._adapters.connected(storage_name, _msg.storage(storage_name))

    def results(self, flow_name: str, id_mapping: Mapping[str, str]) -> FlowResults:
        """Return a view that reads the results of one flow's tasks by task name.

        Args:
            flow_name: the flow the tasks ran in.
            id_mapping: task name to the task id whose result to read.

        Returns:
            A :class:`FlowResults`.

        .. versionadded:: 0.1.0
        """
        return FlowResults(self, flow_name, id_mapping)

    # --- operations --------------------------------------------------------

    def retrieve(self, flow_name: str, task_name: str, task_id: str) -> Any:
        """Return a task's result, from the result cache or from its storage.

        Emits ``STORAGE_RETRIEVE`` then ``STORAGE_RETRIEVED`` around the
        adapter's :meth:`~flowtrace.DataStorage.retrieve`; with a cache, the
        ``TASK_RESULT_CACHE_*`` events around the lookup.

        Args:
            flow_name: the flow the task ran in.
            task_name: the task, as the flow configuration names it.
            task_id: the run whose result to read.

        Raises:
            ValueError: if the task has no storage.
            flowtrace.storages.StorageError: if the adapter failed, after
                ``STORAGE_ISSUE``. A result that is not stored is such a
                failure: the adapter's
                :class:`~flowtrace.storages.MissingResult` is then the
                ``__cause__``.

        .. versionadded:: 0.1.0
        """
        storage_name, msg = self._msg(flow_name, task_name, task_id)
        cache = self._caches[storage_name]
        cache_msg = _msg.cache(flow_name, task_name, task_id, storage_name)
        if cache.enabled:
            found, value = cache.get(msg, cache_msg)
            if found:
                return value
        adapter = self._adapters.connected(storage_name, msg)
        Trace.log(Trace.STORAGE_RETRIEVE, msg)
        try:
            result = adapter.retrieve(flow_name, msg["storage_task_name"], task_id)
        except Exception as exc:
            raise issue(msg, "retrieve", exc) from exc
        Trace.log(Trace.STORAGE_RETRIEVED, msg)
        if cache.enabled:
            cache.add(msg, result, cache_msg)
        return result

    def store(self, node_args: Any, flow_name: str, task_name: str, task_id: str, result: Any) -> object:
        """Store a task's result in its storage and return the adapter's record id.

        Emits ``STORAGE_STORE`` then ``STORAGE_STORED`` (with ``record_id``)
        around the adapter's :meth:`~flowtrace.DataStorage.store`.

        Args:
            node_args: the flow's arguments, which some adapters keep with the result.
            flow_name: the flow the task ran in.
            task_name: the task, as the flow configuration names it.
            task_id: the run that returned ``result``.
            result: the task's result.

        Returns:
            What the adapter returned.

        Raises:
            ValueError: if the task has no storage.
            flowtrace.storages.StorageError: if the adapter failed, after
                ``STORAGE_ISSUE``.

        .. versionadded:: 0.1.0
        """
        storage_name, msg = self._msg(flow_name, task_name, task_id)
        adapter = self._adapters.connected(storage_name, msg)
        Trace.log(Trace.STORAGE_STORE, msg)
        try:
            record_id = adapter.store(node_args, flow_name, msg["storage_task_name"], task_id, result)
        except Exception as exc:
            raise issue(msg, "store", exc) from exc
        finally:
            # Even a failed write may have reached the storage: drop what the
            # cache held, so the next read asks the storage.
            self._caches[storage_name].evict(msg, _msg.cache(flow_name, task_name, task_id, storage_name))
        Trace.log(Trace.STORAGE_STORED, msg, record_id=record_id)
        return record_id

    def store_error(self, node_args: Any, flow_name: str, task_name: str, task_id: str,
                    exc_info: ExcInfo | BaseException) -> bool:
        """Store why a task failed, if its storage can; return whether it was stored.

        Emits ``STORAGE_STORE_ERROR`` once the adapter stored the error, or
        ``STORAGE_OMIT_STORE_ERROR`` when the task has no storage or its
        adapter does not implement :meth:`~flowtrace.DataStorage.store_error`
        (an adapter that does not override it is not even connected). Both
        carry ``error_type``, ``error_value`` and ``error_traceback``.

        Args:
            node_args: the flow's arguments.
            flow_name: the flow the task ran in.
            task_name: the task, as the flow configuration names it.
            task_id: the run that failed.
            exc_info: ``(type, value, traceback)`` or the exception itself.

        Returns:
            Whether the error was stored.

        Raises:
            flowtrace.storages.StorageError: if the adapter failed, after
                ``STORAGE_ISSUE``.

        .. versionadded:: 0.1.0
        """
        error = _msg.error(exc_info)
        storage_name = self.storage_name_of(task_name)
        if storage_name is None:
            Trace.log(Trace.STORAGE_OMIT_STORE_ERROR, _msg.result(flow_name, task_name, task_id, None, None), error)
            return False
        msg = _msg.result(flow_name, task_name, task_id, storage_name, self.storage_task_name_of(task_name))
        if not implements(self._specs[storage_name][0], "store_error"):
            Trace.log(Trace.STORAGE_OMIT_STORE_ERROR, msg, error)
            return False
        adapter = self._adapters.connected(storage_name, msg)
        if isinstance(exc_info, BaseException):
            exc_info = (type(exc_info), exc_info, exc_info.__traceback__)
        try:
            adapter.store_error(node_args, flow_name, msg["storage_task_name"], task_id,  # type: ignore[attr-defined]
                                exc_info)
        except NotImplementedError:
            Trace.log(Trace.STORAGE_OMIT_STORE_ERROR, msg, error)
            return False
        except Exception as exc:
            raise issue(msg, "store_error", exc) from exc
        Trace.log(Trace.STORAGE_STORE_ERROR, msg, error)
        return True

    def delete(self, flow_name: str, task_name: str, task_id: str) -> None:
        """Delete a task's result (and error) from its storage and from the result cache.

        Emits ``STORAGE_DELETE`` then ``STORAGE_DELETED`` around the adapter's
        :meth:`~flowtrace.DataStorage.delete`.

        Args:
            flow_name: the flow.
            task_name: the task whose result (and error) to delete.
            task_id: the run.

        Raises:
            ValueError: if the task has no storage.
            NotImplementedError: if the adapter does not delete results (it
                has no ``delete()`` of its own, or its ``delete()`` raises
                this), which no retry can change: no ``STORAGE_ISSUE`` then,
                and an adapter without ``delete()`` is not even connected.
            flowtrace.storages.StorageError: if the adapter failed, after
                ``STORAGE_ISSUE``; nothing stored for the task is such a
                failure.

        .. versionadded:: 0.1.0
        """
        storage_name, msg = self._msg(flow_name, task_name, task_id)
        refusal = "storage %r (%s) does not delete results" % (storage_name, self._specs[storage_name][0].__name__)
        if not implements(self._specs[storage_name][0], "delete"):
            raise NotImplementedError(refusal)
        adapter = self._adapters.connected(storage_name, msg)
        Trace.log(Trace.STORAGE_DELETE, msg)
        try:
            adapter.delete(flow_name, msg["storage_task_name"], task_id)  # type: ignore[attr-defined]
        except NotImplementedError as exc:
            raise NotImplementedError(refusal) from exc
        except Exception as exc:
            raise issue(msg, "delete", exc) from exc
        finally:
            self._caches[storage_name].evict(msg, _msg.cache(flow_name, task_name, task_id, storage_name))
        Trace.log(Trace.STORAGE_DELETED, msg)

    def disconnect_all(self) -> None:
        """Disconnect every connected adapter, emitting ``STORAGE_DISCONNECT`` for each; never raises.

        Call it when a worker process shuts down. An adapter whose
        ``disconnect()`` raises is reported with ``STORAGE_ISSUE`` and the
        others are still disconnected. An adapter used again afterwards is
        connected again.

        .. versionadded:: 0.1.0
        """
        self._adapters.disconnect_all()

    # --- internals -----------------------------------------------------------

    def _msg(self, flow_name: str, task_name: str, task_id: str) -> tuple[str, dict[str, Any]]:
        storage_name = self.storage_name_of(task_name)
        if storage_name is None:
            raise ValueError("task %r has no storage; the tasks with one are %s"
                             % (task_name, ", ".join(sorted(self._task_storage)) or "none"))
        return storage_name, _msg.result(flow_name, task_name, task_id, storage_name,
                                         self.storage_task_name_of(task_name))



def _cache_of(storage_name: str, cache: Any) -> Any:
    """The result cache a storage's ``cache`` entry names; a ValueError names the storage."""
    try:
        return make_cache(cache.name, cache.import_path, cache.configuration)
    except (ImportError, AttributeError, TypeError, ValueError) as exc:
        raise ValueError("storage %r: its cache %s cannot be made: %s: %s"
                         % (storage_name, cache.name, type(exc).__name__, exc)) from None
