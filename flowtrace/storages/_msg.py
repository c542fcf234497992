"""The msg dicts of the storage events (``STORAGE_*`` and ``TASK_RESULT_CACHE_*``), and the text of a StorageError, built in one place.

An event about a task's result carries :func:`result`'s keys; one about a
storage alone (a failed connect or disconnect) the same keys, with only
``storage_name`` set (:func:`storage`); ``STORAGE_CONNECT`` and
``STORAGE_DISCONNECT`` carry ``storage_name`` alone (:func:`connection`).
"""

from __future__ import annotations

from typing import Any

from flowtrace.errors import StorageError
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


_FAILED = {
    "connect": "could not connect",
    "retrieve": "could not retrieve the result of",
    "store": "could not store the result of",
    "store_error": "could not store the error of",
    "delete": "could not delete the result of",
}


def failure(msg: dict[str, Any], operation: str, exc: BaseException) -> StorageError:
    """The :class:`~flowtrace.storages.StorageError` for a failed ``operation``, worded from the event's ``msg``."""
    if operation == "connect":
        subject = "storage %r %s" % (msg["storage_name"], _FAILED[operation])
    else:
        subject = "storage %r %s task %s (id %s) of flow %s" % (
            msg["storage_name"], _FAILED[operation], msg["task_name"], msg["task_id"], msg["flow_name"])
    return StorageError("%s: %s: %s" % (subject, type(exc).__name__, _text(exc)),
                        storage_name=msg["storage_name"], operation=operation)


def _text(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:
        return "<unprintable %s>" % type(exc).__name__
