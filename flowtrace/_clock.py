"""Fixed-width ISO-8601 UTC timestamps, cheap enough for every event."""

from __future__ import annotations

import time

# second -> its formatted date and time, with the dot. A dict rather than one slot: a task's
# TASK_START formats both the second it was first sent and the current one,
# and a single slot would be reformatted twice per task (bench/worker_bench.py).
# Reads and inserts of one key are atomic under the GIL.
_cache: dict = {}
_CACHE_MAX = 64
_time_ns = time.time_ns


#: "000" to "999": a microsecond fraction is written as two table lookups,
#: which costs less than a ``%06d`` format of it (bench/trace_bench.py).
_DIGITS = tuple("%03d" % i for i in range(1000))


def utc_iso(now=None) -> str:
    """Return ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (27 characters) for ``now`` or the current time.

    ``now`` is in seconds since the epoch (not before it), and is rounded to the
    nearest microsecond, as :meth:`datetime.datetime.fromtimestamp` does.
    """
    if now is None:
        # Integer nanoseconds, rounded to microseconds: exact, and cheaper than
        # splitting a float. A fraction that rounds up to a whole second carries.
        second, micro = divmod((_time_ns() + 500) // 1000, 1_000_000)
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
        prefix = time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(second))
        if len(_cache) >= _CACHE_MAX:
            _cache.clear()
        _cache[second] = prefix
    milli, micro = divmod(micro, 1000)
    return prefix + _DIGITS[milli] + _DIGITS[micro] + "Z"
