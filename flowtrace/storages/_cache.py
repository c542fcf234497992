"""The result caches of a :class:`~flowtrace.storages.pool.StoragePool`: a cache object, its lock and its events.

The pool keeps one :class:`ResultCache` around each storage's own cache (a
:mod:`flowtrace.caches` class, Selinon's, or any object with ``add`` and
``get``) and one around the LRU of ``cache_size`` that the other storages
share. Results go in and come out as copies; every lookup and addition emits
its ``TASK_RESULT_CACHE_*`` event. The cache is only a shortcut: on any
trouble (a cache that raises, a result that cannot be copied) it emits
``TASK_RESULT_CACHE_ISSUE`` and the pool asks the storage.
"""

from __future__ import annotations

import copy
import threading
import traceback
from collections.abc import Hashable
from typing import Any

from flowtrace.caches import LRU, is_miss
from flowtrace.trace import Trace


class ResultCache:
    """A cache object behind a lock, called with Selinon's arguments, with the events around each call.

    Each method takes the storage event's msg dict (``where``), naming the
    task, and the cache event's (``msg``). A storage's own cache gets the task
    id as item id, as Selinon gives it; the shared LRU, which holds the
    results of several storages, gets ``(flow name, task name, task id)``.

    Args:
        cache: a storage's own cache object; ``None`` for a shared LRU of ``size``.
        size: the size of that LRU; 0 turns this result cache (and its events) off.
    """

    def __init__(self, cache: Any = None, size: int = 0) -> None:
        self.own = cache is not None
        self.enabled = self.own or size > 0
        self.cache = cache if cache is not None else LRU(size)
        self._lock = threading.Lock()

    def _key(self, where: dict[str, Any]) -> tuple[Hashable, dict[str, Any]]:
        item_id = where["task_id"] if self.own else (where["flow_name"], where["task_name"], where["task_id"])
        return item_id, {"task_name": where["storage_task_name"], "flow_name": where["flow_name"]}

    def get(self, where: dict[str, Any], msg: dict[str, Any]) -> tuple[bool, Any]:
        """``(True, a copy of the result)`` if the cache holds it, else ``(False, None)``."""
        Trace.log(Trace.TASK_RESULT_CACHE_GET, msg)
        item_id, hints = self._key(where)
        try:
            with self._lock:
                value = self.cache.get(item_id, **hints)
            value = copy.deepcopy(value)
        except Exception as exc:
            if is_miss(exc):
                Trace.log(Trace.TASK_RESULT_CACHE_MISS, msg, what="the result is not in the result cache")
            else:
                Trace.log(Trace.TASK_RESULT_CACHE_ISSUE, msg, what=traceback.format_exc())
            return False, None
        Trace.log(Trace.TASK_RESULT_CACHE_HIT, msg)
        return True, value

    def add(self, where: dict[str, Any], result: Any, msg: dict[str, Any]) -> None:
        """Give the cache a copy of ``result``."""
        Trace.log(Trace.TASK_RESULT_CACHE_ADD, msg)
        item_id, hints = self._key(where)
        try:
            value = copy.deepcopy(result)
            with self._lock:
                self.cache.add(item_id, value, **hints)
        except Exception:
            Trace.log(Trace.TASK_RESULT_CACHE_ISSUE, msg, what=traceback.format_exc())

    def evict(self, where: dict[str, Any], msg: dict[str, Any]) -> None:
        """Make the cache forget the task's result, if it has a ``remove`` method (Selinon's caches have none)."""
        remove = getattr(self.cache, "remove", None)
        if not self.enabled or remove is None:
            return
        item_id, hints = self._key(where)
        try:
            with self._lock:
                remove(item_id, **hints)
        except Exception:
            Trace.log(Trace.TASK_RESULT_CACHE_ISSUE, msg, what=traceback.format_exc())
