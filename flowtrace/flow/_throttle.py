"""``throttling`` at run time: the countdown that keeps two starts of a node at least its delay apart.

A throttled node (a task or a flow with ``throttling``) has a *slot*: the
time its latest start was given. Starting it again takes the slot
``max(now, slot + delay)`` and sends the node's message with the countdown
``slot - now`` (none when that is 0), so the messages of the node become
due one delay apart, in the order they were sent. The slot is per node
name, across all flows, as in Selinon.

Where the slots live decides what the guarantee covers:

- the result backend is Redis: in Redis, taken by one atomic script on the
  Redis server's clock, so every dispatcher process of every worker that
  shares the backend keeps the delay;
- the result backend is Celery's ``file://`` one: in a file next to its
  results, taken under an exclusive ``flock``, so every dispatcher process
  on that machine (the folder's users) keeps it;
- any other backend, or one of the above failing: in the memory of the
  dispatcher process, as Selinon keeps them. Each process then keeps the
  delay on its own; with N dispatcher processes a node may start up to N
  times per delay.

What is guaranteed is when the messages become due, not when they run: a
message due while every pool process is busy runs later.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from typing import Any, Dict, Optional

__all__ = ["Memory", "RedisSlots", "FileSlots", "slots_of", "countdown"]

_log = logging.getLogger("flowtrace")
_PREFIX = "flowtrace-throttle:"

# KEYS[1]: the slot; ARGV[1]: the delay in microseconds. Returns the countdown in microseconds.
_SCRIPT = """
local now = redis.call('TIME')
local now_us = tonumber(now[1]) * 1000000 + tonumber(now[2])
local delay = tonumber(ARGV[1])
local last = tonumber(redis.call('GET', KEYS[1]))
local slot = now_us
if last ~= nil and last + delay > now_us then slot = last + delay end
redis.call('SET', KEYS[1], string.format('%d', slot), 'PX', math.floor((slot - now_us + delay) / 1000) + 1000)
return slot - now_us
"""


class Memory:
    """Slots in this process's memory (Selinon's way)."""

    def __init__(self):
        self._slots: Dict[str, float] = {}
        self._lock = threading.Lock()

    def take(self, key: str, delay: float) -> float:
        """Take the next slot of ``key``; returns its countdown in seconds (0: now)."""
        with self._lock:
            now = time.time()
            last = self._slots.get(key)
            slot = now if last is None else max(now, last + delay)
            self._slots[key] = slot
            return slot - now


class RedisSlots:
    """Slots in Redis, taken atomically on the server's clock."""

    def __init__(self, client):
        self.client = client
        self._script = client.register_script(_SCRIPT)

    def take(self, key: str, delay: float) -> float:
        """As :meth:`Memory.take`."""
        return int(self._script(keys=[_PREFIX + key], args=[int(round(delay * 1e6))])) / 1e6


class FileSlots:
    """Slots in one JSON file in a folder, read and written under an exclusive ``flock``."""

    def __init__(self, folder: str):
        self.path = os.path.join(folder, ".flowtrace-throttle.json")

    def take(self, key: str, delay: float) -> float:
        """As :meth:`Memory.take`."""
        import fcntl

        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            with os.fdopen(os.dup(fd), "r+", encoding="utf-8") as f:
                text = f.read()
                slots = json.loads(text) if text else {}
                now = time.time()
                last = slots.get(key)
                slot = now if last is None else max(now, last + delay)
                slots = {name: at for name, at in slots.items() if at + 3600 > now}  # forget the stale ones
                slots[key] = slot
                f.seek(0)
                f.truncate()
                f.write(json.dumps(slots))
            return slot - now
        finally:
            os.close(fd)  # releases the lock


_MEMORY = Memory()
_BY_BACKEND: Dict[int, tuple] = {}
_lock = threading.Lock()


def slots_of(backend) -> Any:
    """The slots the guarantee of ``backend`` allows (see the module's docstring); one per backend object."""
    held = _BY_BACKEND.get(id(backend))
    if held is not None and held[0] is backend:
        return held[1]
    slots: Any = _MEMORY
    redis = sys.modules.get("celery.backends.redis")  # loaded when the backend is Redis
    if redis is not None and isinstance(backend, redis.RedisBackend):
        slots = RedisSlots(backend.client)
    elif isinstance(getattr(backend, "path", None), (str, bytes)) and os.name == "posix":
        path = backend.path.decode() if isinstance(backend.path, bytes) else backend.path
        if os.path.isdir(path):
            slots = FileSlots(path)
    with _lock:
        _BY_BACKEND[id(backend)] = (backend, slots)
    return slots


def countdown(backend, kind: str, name: str, delay) -> Optional[float]:
    """The countdown of a start of node ``name`` (``kind``: ``"task"`` or ``"flow"``) throttled by ``delay``.

    Args:
        backend: the app's result backend, where the slots are shared.
        kind: tasks and flows have slots of their own, as in Selinon.
        name: the node.
        delay: its ``throttling`` (a :class:`datetime.timedelta`), or None.

    Returns:
        Seconds to wait, or None to start it at once.
    """
    if not delay:
        return None
    seconds = delay.total_seconds()
    key = "%s:%s" % (kind, name)
    slots = slots_of(backend)
    try:
        wait = slots.take(key, seconds)
    except Exception as exc:  # a shared store that fails must not fail the flow
        _log.warning("throttling %s %r: the shared slots failed (%s: %s); this process's own are used",
                     kind, name, type(exc).__name__, exc)
        wait = _MEMORY.take(key, seconds)
    return wait if wait > 0 else None


def reset() -> None:
    """Forget the slots kept in memory and the backends seen (for tests)."""
    global _MEMORY
    _MEMORY = Memory()
    with _lock:
        _BY_BACKEND.clear()
