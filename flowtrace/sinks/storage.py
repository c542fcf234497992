"""The storage sink: every event passed to a method of a storage adapter, Selinon's ``global: trace: storage``.

Selinon's flow YAML may send the trace to a storage::

    global:
      trace:
        - storage:
            name: Results        # a storage of the storages section
            method: trace        # the default

Selinon then calls ``StorageClass.trace(adapter, event, msg_dict)`` for each
event; so does :class:`StorageSink`. It knows an adapter class and its
configuration only, never the flow configuration: the flows' registration
(:func:`flowtrace.flow.register`) builds one for each such entry.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import Any

__all__ = ["StorageSink"]


class StorageSink:
    """Call ``adapter.<method>(event, msg_dict)`` for every event, on an adapter of its own.

    The adapter is made from ``adapter_class`` and ``configuration`` on the
    first event in each process (a prefork child makes its own rather than
    use its parent's connection) and connected when it is not, without
    storage events: storing the trace is never traced. What the method
    raises is counted and logged by :class:`flowtrace.Trace` as for any sink,
    under the sink's :attr:`name`, and never reaches the task.

    Args:
        adapter_class: the storage adapter class.
        configuration: its constructor's keyword arguments.
        method: the method called with each event.
        storage_name: the storage's name, for :attr:`name`.

    Raises:
        ValueError: if the class has no such method.

    .. versionadded:: 0.1.0
    """

    def __init__(self, adapter_class: type, configuration: Mapping[str, Any] | None = None, method: str = "trace",
                 storage_name: str | None = None) -> None:
        if not callable(getattr(adapter_class, method, None)):
            raise ValueError("the storage class %s.%s has no method %r, which is called with each event"
                             % (adapter_class.__module__, adapter_class.__qualname__, method))
        self.adapter_class = adapter_class
        self.configuration = dict(configuration or {})
        self.method = method
        #: The sink's name in :meth:`flowtrace.Trace.stats`: ``storage:NAME.METHOD``.
        self.name = "storage:%s.%s" % (storage_name or adapter_class.__name__, method)
        self._lock = threading.Lock()
        self._adapter: Any = None
        self._pid: int | None = None

    def _connected(self) -> Any:
        pid = os.getpid()
        with self._lock:
            if self._adapter is None or self._pid != pid:
                self._adapter, self._pid = self.adapter_class(**self.configuration), pid
            if not self._adapter.is_connected():
                self._adapter.connect()
            return self._adapter

    def __call__(self, event: int, msg_dict: dict[str, Any]) -> None:
        """Pass one event to the adapter's method.

        Args:
            event: the event value.
            msg_dict: its msg dict.

        .. versionadded:: 0.1.0
        """
        getattr(self._connected(), self.method)(event, msg_dict)

    def close(self) -> None:
        """Disconnect the adapter this process made, if it is connected.

        .. versionadded:: 0.1.0
        """
        with self._lock:
            adapter, self._adapter = self._adapter, None
            if adapter is not None and self._pid == os.getpid() and adapter.is_connected():
                adapter.disconnect()
