"""Counting what a flow sends through Redis, from every process at once: Redis ``MONITOR``.

``MONITOR`` streams every command the server runs, whoever sent it: the
producer, the worker's main process and its pool processes. A
:class:`Monitor` reads that stream in a thread and counts, between
:meth:`Monitor.start` and :meth:`Monitor.stop`, the commands of one run (its
keys and channels carry the run's prefix):

- on the broker's database: ``LPUSH``/``RPUSH`` to a queue is one task
  message (the task's name is read from the message's headers), ``PUBLISH``
  is one broadcast (a remote-control command to a fanout exchange, such as
  flowtrace's ``flowtrace_wakeup`` nudge);
- on the result backend's database: ``GET``/``MGET`` of a task's state is a
  read (how dispatchers poll), ``SET``/``SETEX`` a write.

``MONITOR`` slows Redis down and its reader takes CPU, so timed runs are
never counted: counting runs are separate.
"""

from __future__ import annotations

import collections
import re
import threading
import uuid

_TASK = re.compile(r'"task": "([^"]+)"')


class Monitor:
    """A ``MONITOR`` connection and the counts of the current window."""

    def __init__(self, url, broker_db, backend_db, prefix):
        import redis

        self.client = redis.Redis.from_url(url)
        self.broker_db, self.backend_db, self.prefix = broker_db, backend_db, prefix
        self._monitor = self.client.monitor()
        self._connection = self._monitor.__enter__()
        self._lock = threading.Lock()
        self._counts = None
        self._marker = None
        self._marker_seen = threading.Event()
        self._thread = threading.Thread(target=self._read, name="flow-bench-monitor", daemon=True)
        self._thread.start()

    def start(self):
        with self._lock:
            self._counts = collections.Counter()

    def stop(self, timeout=30.0) -> collections.Counter:
        """Stop counting once every command sent so far has been read; returns the counts."""
        marker = "%s:bench:marker:%s" % (self.prefix, uuid.uuid4().hex)
        self._marker_seen.clear()
        self._marker = marker
        self.client.exists(marker)  # appears in the stream after everything Redis ran before it
        if not self._marker_seen.wait(timeout):
            raise RuntimeError("the MONITOR stream fell behind by more than %.0f s" % timeout)
        with self._lock:
            counts, self._counts = self._counts, None
        return counts

    def close(self):
        try:
            self._monitor.__exit__(None, None, None)
        except Exception:
            pass

    def _read(self):
        try:
            for entry in self._connection.listen():
                self._count(entry)
        except Exception:
            pass  # the connection was closed

    def _count(self, entry):
        command = entry.get("command") or ""
        if self._marker is not None and self._marker in command:
            self._marker_seen.set()
            return
        if self.prefix not in command:
            return
        name, _, rest = command.partition(" ")
        name = name.upper()
        db = entry.get("db")
        key = None
        if db == self.broker_db:
            if name in ("LPUSH", "RPUSH"):
                found = _TASK.search(rest)
                key = "message:" + (found.group(1) if found else "?")
            elif name == "PUBLISH":
                key = "broadcast"
        elif db == self.backend_db and "celery-task-meta-" in rest:
            if name in ("GET", "MGET"):
                key = "backend_read"
            elif name in ("SET", "SETEX"):
                key = "backend_write"
        if key is not None:
            with self._lock:
                if self._counts is not None:
                    self._counts[key] += 1
