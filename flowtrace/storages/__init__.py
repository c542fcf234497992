"""The built-in storage adapters and the interface they implement.

==============================================================  ==================
adapter                                                         extra to install
==============================================================  ==================
:class:`~flowtrace.storages.memory.InMemoryStorage`             (none)
:class:`~flowtrace.storages.filesystem.FilesystemStorage`       (none)
:class:`~flowtrace.storages.redis.RedisStorage`                 ``flowtrace[redis]``
:class:`~flowtrace.storages.sql.SqlStorage`                     ``flowtrace[sql]``
:class:`~flowtrace.storages.s3.S3Storage`                       ``flowtrace[s3]``
==============================================================  ==================

Each adapter is imported on first use (``flowtrace.storages.RedisStorage``),
so that importing this package never imports redis, SQLAlchemy or boto3.
"""

from typing import TYPE_CHECKING

from flowtrace.storages.base import DataStorage, MissingResult, StorageError

__all__ = ["DataStorage", "StorageError", "MissingResult", "InMemoryStorage", "FilesystemStorage", "RedisStorage",
           "SqlStorage", "S3Storage"]

_LAZY = {
    "InMemoryStorage": "flowtrace.storages.memory",
    "FilesystemStorage": "flowtrace.storages.filesystem",
    "RedisStorage": "flowtrace.storages.redis",
    "SqlStorage": "flowtrace.storages.sql",
    "S3Storage": "flowtrace.storages.s3",
}


if TYPE_CHECKING:
    # What __getattr__ imports on first use, spelled out for type checkers.
    from flowtrace.storages.filesystem import FilesystemStorage
    from flowtrace.storages.memory import InMemoryStorage
    from flowtrace.storages.redis import RedisStorage
    from flowtrace.storages.s3 import S3Storage
    from flowtrace.storages.sql import SqlStorage
else:
    # Hidden from type checkers, which would otherwise read any misspelt
    # name as one this function provides.
    def __getattr__(name: str) -> object:
        module = _LAZY.get(name)
        if module is None:
            raise AttributeError("module 'flowtrace.storages' has no attribute %r" % (name,))
        import importlib

        value = getattr(importlib.import_module(module), name)
        globals()[name] = value
        return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
