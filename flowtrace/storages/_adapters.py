"""The adapters of a :class:`~flowtrace.storages.pool.StoragePool`: made on first use, connected, disconnected.

Each storage has a lock, so that one thread creates and connects its adapter
while the others wait and reuse it. Everything an adapter raises on the way
becomes ``STORAGE_ISSUE`` and a :class:`~flowtrace.errors.StorageError`
(:func:`issue`); an adapter that failed to connect is connected again next
time.
"""

from __future__ import annotations

import threading
import traceback
from typing import Any

from flowtrace.errors import StorageError
from flowtrace.storages import _msg
from flowtrace.storages.base import StorageAdapter
from flowtrace.trace import Trace


def issue(msg: dict[str, Any], operation: str, exc: Exception) -> StorageError:
    """Emit ``STORAGE_ISSUE`` for the exception being handled; return the :class:`StorageError` to raise."""
    Trace.log(Trace.STORAGE_ISSUE, msg, what=traceback.format_exc())
    return _msg.failure(msg, operation, exc)


class Adapters:
    """The adapters by storage name, made from ``specs`` on first use, and those given made.

    Args:
        specs: storage name to ``(adapter class, configuration)``.
        made: storage name to an adapter instance already made.
    """

    def __init__(self, specs: dict[str, tuple[type, dict[str, Any]]], made: dict[str, StorageAdapter]) -> None:
        self.specs = specs
        self.made = made
        self.locks = {name: threading.Lock() for name in specs}

    def connected(self, storage_name: str, msg: dict[str, Any]) -> StorageAdapter:
        """The storage's adapter, created and connected (``STORAGE_CONNECT``) first if needed."""
        adapter = self.made.get(storage_name)
        try:
            if adapter is not None and adapter.is_connected():
                return adapter
            with self.locks[storage_name]:
                adapter = self.made.get(storage_name)
                if adapter is None:
                    cls, configuration = self.specs[storage_name]
                    adapter = cls(**configuration)
                    self.made[storage_name] = adapter
                if not adapter.is_connected():
                    Trace.log(Trace.STORAGE_CONNECT, _msg.connection(storage_name))
                    adapter.connect()
            return adapter
        except Exception as exc:
            raise issue(msg, "connect", exc) from exc

    def disconnect_all(self) -> None:
        """Disconnect every connected adapter (``STORAGE_DISCONNECT``); a failure is ``STORAGE_ISSUE``, never raised."""
        for name in sorted(self.made):
            with self.locks[name]:
                adapter = self.made[name]
                try:
                    if not adapter.is_connected():
                        continue
                    Trace.log(Trace.STORAGE_DISCONNECT, _msg.connection(name))
                    adapter.disconnect()
                except Exception:
                    Trace.log(Trace.STORAGE_ISSUE, _msg.storage(name), what=traceback.format_exc())
