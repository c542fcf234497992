"""The result cache of a :class:`~flowtrace.storages.pool.StoragePool`: the results it read last, and their events.

Results are kept as copies, least recently used first out; every lookup and
addition emits its ``TASK_RESULT_CACHE_*`` event. The cache is only a
shortcut: on any trouble (a result that cannot be copied, for instance) it
emits ``TASK_RESULT_CACHE_ISSUE`` and the pool asks the storage.
"""

from __future__ import annotations

import collections
import copy
import threading
import traceback
from typing import Any

from flowtrace.trace import Trace

# (flow name, task name, task id): a result in the result cache.
_Key = tuple[str, str, str]


class ResultCache:
    """Up to ``size`` results by ``(flow name, task name, task id)``; ``size`` 0 keeps none."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._results: collections.OrderedDict[_Key, Any] = collections.OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._results)

    def get(self, key: _Key, msg: dict[str, Any]) -> tuple[bool, Any]:
        """``(True, a copy of the result)`` if the cache holds it, else ``(False, None)``."""
        Trace.log(Trace.TASK_RESULT_CACHE_GET, msg)
        try:
            with self._lock:
                found = key in self._results
                if found:
                    self._results.move_to_end(key)
                    value = copy.deepcopy(self._results[key])
        except Exception:
            Trace.log(Trace.TASK_RESULT_CACHE_ISSUE, msg, what=traceback.format_exc())
            return False, None
        if not found:
            Trace.log(Trace.TASK_RESULT_CACHE_MISS, msg, what="the result is not in the result cache")
            return False, None
        Trace.log(Trace.TASK_RESULT_CACHE_HIT, msg)
        return True, value

    def add(self, key: _Key, result: Any, msg: dict[str, Any]) -> None:
        """Keep a copy of ``result``, dropping the least recently used one past ``size``."""
        Trace.log(Trace.TASK_RESULT_CACHE_ADD, msg)
        try:
            value = copy.deepcopy(result)
        except Exception:
            Trace.log(Trace.TASK_RESULT_CACHE_ISSUE, msg, what=traceback.format_exc())
            return
        with self._lock:
            self._results[key] = value
            self._results.move_to_end(key)
            while len(self._results) > self.size:
                self._results.popitem(last=False)

    def evict(self, key: _Key) -> None:
        """Forget the result of ``key``, if the cache holds it."""
        if self.size:
            with self._lock:
                self._results.pop(key, None)
