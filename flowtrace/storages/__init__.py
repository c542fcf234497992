"""The built-in storage adapters and the interface they implement.

==============================================================  ==================
adapter                                                         extra to install
==============================================================  ==================
:class:`~flowtrace.storages.memory.InMemoryStorage`             (none)
:class:`~flowtrace.storages.filesystem.FilesystemStorage`       (none)
:class:`~flowtrace.storages.redis.RedisStorage`                 ``flowtrace[redis]``
:class:`~flowtrace.storages.sql.SqlStorage`                     ``flowtrace[sql]``
==============================================================  ==================

Each adapter is imported on first use (``flowtrace.storages.RedisStorage``),
so that importing this package never imports redis or SQLAlchemy.
"""

from flowtrace.storages.base import DataStorage, MissingResult, StorageError

__all__ = ["DataStorage", "StorageError", "MissingResult", "InMemoryStorage", "FilesystemStorage", "RedisStorage",
           "SqlStorage"]

_LAZY = {
    "InMemoryStorage": "flowtrace.storages.memory",
    "FilesystemStorage": "flowtrace.storages.filesystem",
    "RedisStorage": "flowtrace.storages.redis",
    "SqlStorage": "flowtrace.storages.sql",
}


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError("module 'flowtrace.storages' has no attribute %r" % (name,))
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
