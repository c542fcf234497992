"""What a :class:`~flowtrace.storages.pool.StoragePool` is built from, checked before any adapter exists.

A pool is given storages (an adapter class with its configuration, or an
adapter already made), which task stores where, and under what name. The
checks here turn those into the pool's tables or raise a :class:`ValueError`
naming the wrong entry. Nothing is connected or created here: the pool does
that on first use.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple, Union

from flowtrace.storages.base import StorageAdapter, check_adapter_class

#: What :class:`~flowtrace.storages.pool.StoragePool` takes for one storage:
#: ``(adapter class, configuration)``, the configuration a mapping of keyword
#: arguments or None, or an adapter instance.
StorageSpec = Union[tuple[type, Union[Mapping[str, Any], None]], StorageAdapter]


class Setup(NamedTuple):
    """A pool's checked tables."""

    specs: dict[str, tuple[type, dict[str, Any]]]
    adapters: dict[str, StorageAdapter]
    task_storage: dict[str, str]
    storage_task_names: dict[str, str]
    caches: dict[str, Any]


def check_setup(storages: Mapping[str, StorageSpec], task_storage: Mapping[str, str] | None,
                storage_task_names: Mapping[str, str] | None, cache_size: object,
                caches: Mapping[str, Any] | None) -> Setup:
    """Check a pool's constructor arguments; see :class:`~flowtrace.storages.pool.StoragePool`."""
    specs: dict[str, tuple[type, dict[str, Any]]] = {}
    adapters: dict[str, StorageAdapter] = {}
    for name, spec in dict(storages).items():
        if not isinstance(name, str) or not name:
            raise ValueError("a storage name must be a non-empty string, got %r" % (name,))
        if isinstance(spec, tuple) or isinstance(spec, type):
            specs[name] = _check_spec(name, spec)
        else:
            problems = check_adapter_class(type(spec))
            if problems:
                raise ValueError("storage %r must be an adapter instance or a (class, configuration) pair, got a %s: %s"
                                 % (name, type(spec).__name__, "; ".join(problems)))
            adapters[name] = spec
            specs[name] = (type(spec), {})  # never used: the adapter exists
    by_task = dict(task_storage or {})
    for task_name, storage_name in by_task.items():
        if storage_name not in specs:
            raise ValueError("task %r uses the storage %r, which is not among the storages (%s)"
                             % (task_name, storage_name, ", ".join(sorted(specs)) or "none"))
    stored_as_names = dict(storage_task_names or {})
    for task_name, stored_as in stored_as_names.items():
        if task_name not in by_task:
            raise ValueError("task %r has a storage task name (%r) but no storage" % (task_name, stored_as))
        if not isinstance(stored_as, str) or not stored_as:
            raise ValueError("the storage task name of task %r must be a non-empty string, got %r"
                             % (task_name, stored_as))
    if not isinstance(cache_size, int) or isinstance(cache_size, bool) or cache_size < 0:
        raise ValueError("cache_size must be an integer >= 0, got %r" % (cache_size,))
    own_caches = dict(caches or {})
    for storage_name, cache in own_caches.items():
        if storage_name not in specs:
            raise ValueError("a cache is given for the storage %r, which is not among the storages (%s)"
                             % (storage_name, ", ".join(sorted(specs)) or "none"))
        missing = [m for m in ("add", "get") if not callable(getattr(cache, m, None))]
        if missing:
            raise ValueError("the cache of storage %r must have add() and get() methods, as selinon.Cache has; "
                             "%s has no %s" % (storage_name, _article(type(cache).__name__),
                                                 " or ".join(m + "()" for m in missing)))
    return Setup(specs, adapters, by_task, stored_as_names, own_caches)


def _check_spec(name: str, spec: Any) -> tuple[type, dict[str, Any]]:
    try:
        cls, configuration = spec
    except (TypeError, ValueError):
        # Named by type only: a spec can hold a connection URL with its password.
        what = "the class %s alone" % spec.__name__ if isinstance(spec, type) else "a %s" % type(spec).__name__
        raise ValueError("storage %r must be an adapter instance or a (class, configuration) pair, got %s"
                         % (name, what)) from None
    problems = check_adapter_class(cls)
    if problems:
        raise ValueError("storage %r: %s is not a storage adapter class: %s" % (name, _name(cls), "; ".join(problems)))
    if configuration is None:
        configuration = {}
    if not isinstance(configuration, Mapping):
        raise ValueError("storage %r: the configuration must be a mapping of keyword arguments, got a %s"
                         % (name, type(configuration).__name__))
    return cls, dict(configuration)


def _name(cls: object) -> str:
    return "%s.%s" % (cls.__module__, cls.__qualname__) if isinstance(cls, type) else "a " + type(cls).__name__


def _article(noun: str) -> str:
    return ("an " if noun[:1].lower() in "aeiou" else "a ") + noun
