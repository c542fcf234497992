"""Rate-limited reporting of flowtrace's own failures on the ``flowtrace`` logger."""

from __future__ import annotations

import logging
import threading
import time

logger = logging.getLogger("flowtrace")

#: A failing component is reported at most this often, in seconds.
REPORT_INTERVAL = 60.0


class FailureCounter:
    """Counts failures of one component and logs them at most once per interval.

    A failing sink may fail on every event; the first failure is logged with
    its traceback, later ones only as a count in the next report.
    """

    __slots__ = ("name", "count", "last_error", "_last_report", "_suppressed", "_lock")

    def __init__(self, name: str):
        self.name = name
        self.count = 0
        self.last_error: str | None = None
        self._last_report: float | None = None
        self._suppressed = 0
        self._lock = threading.Lock()

    def record(self, what: str, exc: BaseException) -> None:
        """Count one failure of ``what`` and log it unless one was logged recently."""
        try:
            with self._lock:
                self.count += 1
                self.last_error = "%s: %s" % (type(exc).__name__, exc)
                now = time.monotonic()
                if self._last_report is not None and now - self._last_report < REPORT_INTERVAL:
                    self._suppressed += 1
                    return
                suppressed, self._suppressed = self._suppressed, 0
                self._last_report = now
                count = self.count
            logger.warning(
                "flowtrace: %s failed on %s (%d failures so far, %d not logged since the last report): %s",
                self.name, what, count, suppressed, self.last_error,
                exc_info=(type(exc), exc, exc.__traceback__),
            )
        except Exception:  # reporting a failure must not fail in turn
            pass
