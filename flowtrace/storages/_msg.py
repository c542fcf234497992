"""The msg dicts of the storage events (``STORAGE_*`` and ``TASK_RESULT_CACHE_*``), built in one place.

An event about a task's result carries :func:`result`'s keys; one about a
storage alone (a failed connect or disconnect) the same keys, with only
``storage_name`` set (:func:`storage`); ``STORAGE_CONNECT`` and
``STORAGE_DISCONNECT`` carry ``storage_name`` alone (:func:`connection`).
"""

from __future__ import annotations

from typing import Any

from flowtrace.storages.base import ExcInfo, error_record


def result(flow_name: str | None, task_name: str | None, task_id: str | None, storage_name: str | None,
           storage_task_name: str | None) -> dict[str, Any]:
    """The keys of an event about a task's result in its storage."""
    return {"flow_name": flow_name, "task_name": task_name, "task_id": task_id, "storage_name": storage_name,
            "storage_task_name": storage_task_name}


def storage(storage_name: str) -> dict[str, Any]:
    """:func:`result`'s keys for an event about a storage alone."""
    return result(None, None, None, storage_name, None)


def connection(storage_name: str) -> dict[str, Any]:
    """The keys of ``STORAGE_CONNECT`` and ``STORAGE_DISCONNECT``."""
    return {"storage_name": storage_name}


def cache(flow_name: str, task_name: str, task_id: str, storage_name: str) -> dict[str, Any]:
    """The keys of the ``TASK_RESULT_CACHE_*`` events."""
    return {"flow_name": flow_name, "task_name": task_name, "task_id": task_id, "storage_name": storage_name}


def error(exc_info: ExcInfo | BaseException) -> dict[str, Any]:
    """What ``STORAGE_STORE_ERROR`` and ``STORAGE_OMIT_STORE_ERROR`` add: the error that failed the task."""
    record = error_record(exc_info)
    return {"error_type": record["type"], "error_value": record["message"], "error_traceback": record["traceback"]}
