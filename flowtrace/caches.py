"""Caches for storage results, with Selinon's interface and class names.

A storage in the flow YAML may name a cache, as in Selinon::

    storages:
      - name: Results
        import: flowtrace.storages
        classname: RedisStorage
        cache:
          name: LRU
          import: flowtrace.caches
          configuration:
            max_cache_size: 10

The storage pool then asks the cache before it reads the storage. A cache is
any object with Selinon's two methods, ``add(item_id, item, task_name=None,
flow_name=None)`` and ``get(item_id, task_name=None, flow_name=None)``, the
latter raising :class:`~flowtrace.errors.CacheMissError` (or Selinon's error
of that name) for an item it does not hold. Selinon's own caches
(``import: selinon.caches``) work unchanged.

The five classes here keep up to ``max_cache_size`` items and differ in which
item they drop to make room:

======  ==========================================================
class   drops
======  ==========================================================
FIFO    the item added first
LIFO    the item added last
LRU     the item read or added longest ago
MRU     the item read or added most recently
RR      an item chosen at random
======  ==========================================================

As in Selinon, adding an id the cache already holds changes nothing, and
``max_cache_size`` 0 keeps nothing. They are not thread-safe on their own:
the storage pool calls a cache under a lock.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import abc
import collections
import importlib
import random
from collections.abc import Hashable, Mapping
from typing import Any

from flowtrace.errors import CacheMissError

__all__ = ["Cache", "CacheMissError", "FIFO", "LIFO", "LRU", "MRU", "RR", "make_cache", "is_miss"]


class Cache(abc.ABC):
    """The interface of a result cache: Selinon's ``selinon.Cache``.

    Subclassing it is optional; the storage pool only calls the methods.
    ``task_name`` and ``flow_name`` tell a cache what the item is, so that it
    may choose not to keep some results; the caches here ignore them.

    .. versionadded:: 0.1.0
    """

    @abc.abstractmethod
    def add(self, item_id: Hashable, item: Any, task_name: str | None = None, flow_name: str | None = None) -> None:
        """Keep ``item`` under ``item_id``, making room first if the cache is full.

        Args:
            item_id: what the item is found by later; the storage pool passes
                the task id.
            item: the item, a task's result.
            task_name: the task whose result ``item`` is (its storage task name).
            flow_name: the flow the task ran in.

        .. versionadded:: 0.1.0
        """

    @abc.abstractmethod
    def get(self, item_id: Hashable, task_name: str | None = None, flow_name: str | None = None) -> Any:
        """Return the item kept under ``item_id``.

        Args:
            item_id: as given to :meth:`add`.
            task_name: as for :meth:`add`.
            flow_name: as for :meth:`add`.

        Raises:
            flowtrace.errors.CacheMissError: if the cache does not hold it.

        .. versionadded:: 0.1.0
        """


class _Bounded(Cache):
    """A dict of at most ``max_cache_size`` items; subclasses choose the victim and the order kept."""

    def __init__(self, max_cache_size: int) -> None:
        if not isinstance(max_cache_size, int) or isinstance(max_cache_size, bool) or max_cache_size < 0:
            raise ValueError("%s max_cache_size must be an integer >= 0, got %r"
                             % (type(self).__name__, max_cache_size))
        self.max_cache_size = max_cache_size
        # Kept in the order _touch() and _victim() rely on: oldest first.
        self._items: collections.OrderedDict[Hashable, Any] = collections.OrderedDict()

    @property
    def current_cache_size(self) -> int:
        """How many items the cache holds now.

        .. versionadded:: 0.1.0
        """
        return len(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._items

    def __repr__(self) -> str:
        return "%s(max_cache_size=%d, items=%r)" % (type(self).__name__, self.max_cache_size, list(self._items))

    def add(self, item_id: Hashable, item: Any, task_name: str | None = None, flow_name: str | None = None) -> None:
        """Keep ``item`` under ``item_id`` unless that id is already held; drop one item first if full.

        Args:
            item_id: what the item is found by later.
            item: the item.
            task_name: ignored.
            flow_name: ignored.

        .. versionadded:: 0.1.0
        """
        if item_id in self._items or self.max_cache_size == 0:
            return
        while len(self._items) >= self.max_cache_size:
            del self._items[self._victim()]
        self._items[item_id] = item

    def get(self, item_id: Hashable, task_name: str | None = None, flow_name: str | None = None) -> Any:
        """Return the item kept under ``item_id``.

        Args:
            item_id: as given to :meth:`add`.
            task_name: ignored.
            flow_name: ignored.

        Raises:
            flowtrace.errors.CacheMissError: if the cache does not hold it.

        .. versionadded:: 0.1.0
        """
        try:
            item = self._items[item_id]
        except KeyError:
            raise CacheMissError("%s holds no item %r" % (type(self).__name__, item_id)) from None
        self._touch(item_id)
        return item

    def remove(self, item_id: Hashable, task_name: str | None = None, flow_name: str | None = None) -> None:
        """Forget the item kept under ``item_id``, if any.

        Not part of Selinon's interface: the storage pool calls it, when a
        cache has it, once a task's result is stored again or deleted, so
        that the cache never returns an old result.

        Args:
            item_id: as given to :meth:`add`.
            task_name: ignored.
            flow_name: ignored.

        .. versionadded:: 0.1.0
        """
        self._items.pop(item_id, None)

    def _touch(self, item_id: Hashable) -> None:
        """Note that ``item_id`` was read."""

    @abc.abstractmethod
    def _victim(self) -> Hashable:
        """The id to drop to make room."""


class FIFO(_Bounded):
    """First in, first out: a full cache drops the item added first.

    Args:
        max_cache_size: how many items to keep; 0 keeps none.

    Raises:
        ValueError: for a size that is not an integer >= 0.

    .. versionadded:: 0.1.0
    """

    def _victim(self) -> Hashable:
        return next(iter(self._items))


class LIFO(_Bounded):
    """Last in, first out: a full cache drops the item added last.

    Args:
        max_cache_size: how many items to keep; 0 keeps none.

    Raises:
        ValueError: for a size that is not an integer >= 0.

    .. versionadded:: 0.1.0
    """

    def _victim(self) -> Hashable:
        return next(reversed(self._items))


class LRU(_Bounded):
    """Least recently used: a full cache drops the item read (or added) longest ago.

    Args:
        max_cache_size: how many items to keep; 0 keeps none.

    Raises:
        ValueError: for a size that is not an integer >= 0.

    .. versionadded:: 0.1.0
    """

    def _touch(self, item_id: Hashable) -> None:
        self._items.move_to_end(item_id)

    def _victim(self) -> Hashable:
        return next(iter(self._items))


class MRU(LRU):
    """Most recently used: a full cache drops the item read (or added) last.

    Args:
        max_cache_size: how many items to keep; 0 keeps none.

    Raises:
        ValueError: for a size that is not an integer >= 0.

    .. versionadded:: 0.1.0
    """

    def _victim(self) -> Hashable:
        return next(reversed(self._items))


class RR(_Bounded):
    """Random replacement: a full cache drops an item chosen at random.

    Args:
        max_cache_size: how many items to keep; 0 keeps none.
        seed: seeds this cache's own random generator, so that a test can
            know which item goes; ``None`` seeds it from the system.

    Raises:
        ValueError: for a size that is not an integer >= 0.

    .. versionadded:: 0.1.0
    """

    def __init__(self, max_cache_size: int, seed: int | None = None) -> None:
        super().__init__(max_cache_size)
        self._random = random.Random(seed)

    def _victim(self) -> Hashable:
        return self._random.choice(list(self._items))


#: The modules whose cache classes of these names are flowtrace's own: a
#: ``cache`` without ``import``, with ``import: flowtrace.caches``, or with
#: Selinon's ``import: selinon.caches``.
_OWN_MODULES = (None, "flowtrace.caches", "selinon.caches")


def make_cache(name: str = "LRU", import_path: str | None = None,
               configuration: Mapping[str, Any] | None = None) -> Any:
    """Make the cache a ``cache`` entry of the flow YAML names, as Selinon configures one.

    ``FIFO``, ``LIFO``, ``LRU``, ``MRU`` and ``RR`` without ``import``, or
    with ``import: flowtrace.caches`` or ``import: selinon.caches``, are the
    classes of this module: they take Selinon's arguments, and unlike
    Selinon's they can forget an item (``remove()``), so a result stored
    again is never served old, and they need no Selinon installed. Any other
    class is imported from ``import`` (Selinon's module included) and called
    with the configuration as keyword arguments.

    Args:
        name: the class (YAML ``name``).
        import_path: its module (YAML ``import``), or None for this module.
        configuration: its keyword arguments (YAML ``configuration``).

    Returns:
        The cache object.

    Raises:
        ImportError: if ``import_path`` cannot be imported.
        AttributeError: if it has no ``name``.
        TypeError: if the class does not take the configuration.
        ValueError: if the object has no ``add()`` and ``get()``, or a size is wrong.

    .. versionadded:: 0.1.0
    """
    own = globals().get(name) if name in ("FIFO", "LIFO", "LRU", "MRU", "RR") else None
    if import_path in _OWN_MODULES and own is not None:
        cls = own
    else:
        cls = getattr(importlib.import_module(import_path or __name__), name)
    cache = cls(**dict(configuration or {}))
    missing = [method for method in ("add", "get") if not callable(getattr(cache, method, None))]
    if missing:
        raise ValueError("the cache class %s has no %s, which a cache needs"
                         % (name, " or ".join(m + "()" for m in missing)))
    return cache


def is_miss(exc: BaseException) -> bool:
    """Return whether an exception a cache's ``get()`` raised is a miss.

    Args:
        exc: the exception.

    Returns:
        True for :class:`~flowtrace.errors.CacheMissError` and for Selinon's
        error of that name (found by name, so Selinon need not be installed).

    .. versionadded:: 0.1.0
    """
    return any(kind.__name__ == "CacheMissError" for kind in type(exc).__mro__)
