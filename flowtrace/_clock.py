"""Fixed-width ISO-8601 UTC timestamps, cheap enough for every event."""

from __future__ import annotations

import time

# second -> formatted date and time. A dict rather than one slot: a task's
# TASK_START formats both the second it was first sent and the current one,
# and a single slot would be reformatted twice per task (bench/worker_bench.py).
# Reads and inserts of one key are atomic under the GIL.
_cache: dict = {}
_CACHE_MAX = 64
_time_ns = time.time_ns


def utc_iso(now=None) -> str:
    """Return ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (27 characters) for ``now`` or the current time.

    ``now`` is in seconds since the epoch (not before it), and is rounded to the
    nearest microsecond, as :meth:`datetime.datetime.fromtimestamp` does.
    """
    if now is None:
        # Integer nanoseconds: exact, and cheaper than splitting a float.
        ns = _time_ns()
        second = ns // 1_000_000_000
        micro = (ns - second * 1_000_000_000 + 500) // 1000
    else:
        second = int(now)
        # Rounded, not truncated: a float rarely holds a microsecond exactly, and
        # truncation showed half of all times one microsecond early.
        micro = round((now - second) * 1_000_000)
    if micro == 1_000_000:
        second += 1
        micro = 0
    prefix = _cache.get(second)
    if prefix is None:
        # Formatting the date part is the slow bit; events arrive many per second.
        prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        if len(_cache) >= _CACHE_MAX:
            _cache.clear()
        _cache[second] = prefix
    return f"{prefix}.{micro:06d}Z"
