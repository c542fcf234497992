"""``InMemoryStorage``: results in a dict of this process, for one process and for unit tests."""

from __future__ import annotations

import threading
from typing import Any

from flowtrace.storages.base import DataStorage, ExcInfo, check_connected, dumps, error_record, loads, not_found

__all__ = ["InMemoryStorage"]


class InMemoryStorage(DataStorage):
    """Keep results in a dict that lives as long as the adapter.

    Nothing leaves the process, so a prefork worker's children do not see
    each other's results: use it in tests and in single-process setups
    (``task_always_eager``, a ``solo`` pool). Results are kept as JSON text,
    encoded as the other built-in adapters encode them, so that a result a
    test stores here comes back as it would from Redis or SQL (a tuple comes
    back as a list; a set is refused). The data outlives :meth:`disconnect`.

    .. versionadded:: 0.1.0
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._results: dict[tuple[str, str, str], str] = {}  # (flow, task, id) -> JSON text
        self._errors: dict[tuple[str, str, str], str] = {}  # (flow, task, id) -> JSON text
        self._connected = False

    def connect(self) -> None:
        """Mark the storage connected; there is nothing to open.

        .. versionadded:: 0.1.0
        """
        self._connected = True

    def is_connected(self) -> bool:
        """Return whether :meth:`connect` was called and :meth:`disconnect` was not since.

        .. versionadded:: 0.1.0
        """
        return self._connected

    def disconnect(self) -> None:
        """Mark the storage disconnected; what it holds stays for the next :meth:`connect`.

        .. versionadded:: 0.1.0
        """
        self._connected = False

    def retrieve(self, flow_name: str, task_name: str, task_id: str) -> Any:
        """Return the result stored for the task, decoded from its JSON text.

        Raises:
            flowtrace.storages.MissingResult: if no result is stored for the task.

        .. versionadded:: 0.1.0
        """
        return self._read(self._results, flow_name, task_name, task_id)

    def _read(self, table: dict[tuple[str, str, str], str], flow_name: str, task_name: str, task_id: str,
              *not_found_what: str) -> Any:
        check_connected(self)
        try:
            text = table[(flow_name, task_name, task_id)]
        except KeyError:
            raise not_found(flow_name, task_name, task_id, *not_found_what) from None
        return loads(text)

    def store(self, node_args: Any, flow_name: str, task_name: str, task_id: str, result: Any) -> str:
        """Keep the result as JSON text under ``(flow_name, task_name, task_id)``.

        Returns:
            The task id.

        .. versionadded:: 0.1.0
        """
        check_connected(self)
        text = dumps(result)
        with self._lock:
            self._results[(flow_name, task_name, task_id)] = text
        return task_id

    def store_error(self, node_args: Any, flow_name: str, task_name: str, task_id: str, exc_info: ExcInfo) -> str:
        """Keep :func:`~flowtrace.storages.base.error_record` of the exception under the task's key.

        Returns:
            The task id.

        .. versionadded:: 0.1.0
        """
        check_connected(self)
        text = dumps(error_record(exc_info))
        with self._lock:
            self._errors[(flow_name, task_name, task_id)] = text
        return task_id

    def retrieve_error(self, flow_name: str, task_name: str, task_id: str) -> dict[str, Any]:
        """Return the error stored for a failed task, as :func:`~flowtrace.storages.base.error_record` made it.

        Raises:
            flowtrace.storages.MissingResult: if no error is stored for the task.

        .. versionadded:: 0.1.0
        """
        return self._read(self._errors, flow_name, task_name, task_id, "error")

    def delete(self, flow_name: str, task_name: str, task_id: str) -> None:
        """Forget the task's result and error.

        Raises:
            flowtrace.storages.MissingResult: if nothing is stored for the task.

        .. versionadded:: 0.1.0
        """
        check_connected(self)
        key = (flow_name, task_name, task_id)
        with self._lock:
            found = self._results.pop(key, None) is not None
            found = self._errors.pop(key, None) is not None or found
        if not found:
            raise not_found(flow_name, task_name, task_id)
