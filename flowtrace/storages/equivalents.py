"""Selinon's built-in storage adapters, run on flowtrace's adapter of the same kind.

Selinon 1.4's adapters were written for the libraries of their time:
``selinon.storages.redis.Redis`` passes ``charset=`` to redis-py, which
redis-py 6 removed, and ``selinon.storages.postgresql.PostgreSQL`` passes
``encoding=`` to SQLAlchemy, which SQLAlchemy 2 removed. A flow YAML that
names one of them therefore runs on flowtrace's adapter of its kind, which
takes the same ``configuration`` keys (see :doc:`/storages`). The rule is the
same in every process, whatever is installed: workers with different library
versions must read what the others wrote, so one storage must never run on
Selinon's adapter in one worker and on flowtrace's in another.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

__all__ = ["EQUIVALENTS", "equivalent"]

#: ``(Selinon's module, class)`` to ``(flowtrace's module, class)`` that runs in its place.
#:
#: .. versionadded:: 0.1.0
EQUIVALENTS: dict[tuple[str, str], tuple[str, str]] = {
    ("selinon.storages.redis", "Redis"): ("flowtrace.storages.redis", "RedisStorage"),
    ("selinon.storages.postgresql", "PostgreSQL"): ("flowtrace.storages.sql", "SqlStorage"),
    ("selinon.storages.s3", "S3"): ("flowtrace.storages.s3", "S3Storage"),
}


def equivalent(import_path: str, class_name: str) -> tuple[str, str]:
    """Return the module and class that run a storage named by ``import_path`` and ``class_name``.

    Args:
        import_path: the storage's YAML ``import``.
        class_name: its YAML ``classname``.

    Returns:
        flowtrace's adapter for one of Selinon's in :data:`EQUIVALENTS`, else
        ``(import_path, class_name)`` unchanged.

    .. versionadded:: 0.1.0
    """
    return EQUIVALENTS.get((import_path, class_name), (import_path, class_name))
