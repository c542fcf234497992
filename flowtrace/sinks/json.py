"""The JSON lines sink: one object per line, written with one ``write`` call."""

from __future__ import annotations

import io
import os
from typing import IO, Any

import orjson

from flowtrace import _enrich, _host, _serialize, events
from flowtrace._report import FailureCounter

#: The longest line :class:`JsonSink` writes by default, in bytes.
#:
#: .. versionadded:: 0.1.0
DEFAULT_MAX_LINE = 64 * 1024
_MIN_MAX_LINE = 1024

_NAMES = events.NAMES
_OPTIONS = _serialize.OPTIONS
_DEFAULT = _serialize._default
_orjson_dumps = orjson.dumps
_NO_IDS = b',"trace_id":null,"span_id":null,"details":'
# For a call from anything but Trace.log, which gives the enrichment.
_make_enrichment = _enrich.maker(_enrich.ALL)

# event value -> the bytes of the line up to the opening quote of "time".
_HEADS: dict[int, bytes] = {}


def _head(event: int) -> bytes:
    name = _NAMES.get(event) or str(event)
    head = b'{"event":' + _serialize.dumps(name) + b',"event_id":' + _serialize.dumps(event) + b',"time":"'
    if len(_HEADS) < 4096:
        _HEADS[event] = head
    return head


# (pid, bytes of "node" and "pid"), rebuilt when the pid changes after a fork.
_host_cache: tuple[int | None, bytes] = (None, b"")


def _host_part() -> bytes:
    global _host_cache
    pid = _host.pid
    part = b'","node":' + _serialize.dumps(_host.node) + b',"pid":' + _serialize.dumps(pid)
    _host_cache = (pid, part)
    return part


def _ids_part(ids: tuple[Any, Any]) -> bytes:
    return (b',"trace_id":' + _serialize.dumps(ids[0]) + b',"span_id":' + _serialize.dumps(ids[1])
            + b',"details":')


class JsonSink:
    """Write each event as one line of JSON.

    The line holds ``event``, ``event_id``, ``time`` (ISO-8601 UTC, fixed
    width, ``Z``), ``node``, ``pid``, ``trace_id``, ``span_id`` and
    ``details`` (the msg dict). ``trace_id`` and ``span_id`` are the msg
    dict's own when it has a ``trace_id`` key (the Celery integration puts
    the ids of the task attempt an event is about there), and otherwise those
    current where the event is emitted (:func:`flowtrace.context.current_ids`):
    :meth:`flowtrace.Trace.log` makes them, and the time, once per event for
    every sink that writes them.
    Any Python value serialises; a line longer than ``max_line`` bytes is cut
    down and marked ``"truncated": true``. The sink
    never raises: failures to write are counted in :meth:`stats` and reported
    on the ``flowtrace`` logger, rate-limited.

    Each line goes out in a single ``write``: to a file descriptor (the
    default, standard output, and paths) through ``os.write``, so that prefork
    children sharing one pipe or file never interleave their lines. The kernel
    keeps such a write whole on a regular file opened for append (as a path
    given here is), whatever its length, on local file systems. On a pipe or a
    FIFO (standard output of a worker run under a process manager, for
    instance) only writes of up to ``PIPE_BUF`` bytes (4096 on Linux) are
    atomic, and longer lines from several processes can interleave: give
    ``max_line=4096`` or less when processes share a pipe.

    Args:
        stream: ``None`` for the process's standard output (file descriptor 1,
            bypassing ``sys.stdout`` so that Celery's redirection of stdout to
            its logger does not wrap the lines); a path to append to; a file
            descriptor; or any object with ``write`` (text or binary).
        max_line: the longest line written, in bytes, newline included.

    Raises:
        ValueError: if ``max_line`` is below 1024 or ``stream`` is none of the above.

    .. versionadded:: 0.1.0
    """

    #: The parts of each event's enrichment this sink writes, which :meth:`flowtrace.Trace.log`
    #: then passes to it (see :class:`flowtrace.sinks.Sink`).
    wants_enrichment = ("time", "ids")

    def __init__(self, stream: str | os.PathLike[str] | int | IO[str] | IO[bytes] | None = None,
                 max_line: int = DEFAULT_MAX_LINE) -> None:
        if not isinstance(max_line, int) or isinstance(max_line, bool) or max_line < _MIN_MAX_LINE:
            raise ValueError("max_line must be an int of at least %d bytes, got %r" % (_MIN_MAX_LINE, max_line))
        self.max_line = max_line
        self._owned_fd: int | None = None
        self._fd: int | None = None
        self._stream: Any = None  # an object with write(), text or binary
        self._binary = False
        if stream is None:
            self._fd = 1
            self.name = "json:stdout"
        elif isinstance(stream, (str, os.PathLike)):
            path = os.fspath(stream)
            self._fd = self._owned_fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            self.name = "json:%s" % path
        elif isinstance(stream, int) and not isinstance(stream, bool):
            if stream < 0:
                raise ValueError("a file descriptor must not be negative, got %r" % (stream,))
            self._fd = stream
            self.name = "json:fd%d" % stream
        elif callable(getattr(stream, "write", None)):
            self._stream = stream
            self._binary = _is_binary(stream)
            self.name = "json:%s" % (getattr(stream, "name", None) or type(stream).__name__)
        else:
            raise ValueError("stream must be None, a path, a file descriptor or a writable object, got %r" % (stream,))
        self.failures = FailureCounter("sink " + self.name)
        self.lines = 0

    def __call__(self, event: int, msg_dict: dict[str, Any], enrichment: _enrich.Enrichment | None = None) -> None:
        """Write the line of one event.

        Args:
            event: the event value.
            msg_dict: its msg dict, written as ``details``.
            enrichment: its enrichment, as :meth:`flowtrace.Trace.log` passes it; made
                here when the sink is called without one.

        .. versionadded:: 0.1.0
        """
        try:
            # The line is assembled from cached byte strings around the
            # orjson-encoded details: building and encoding a whole envelope
            # dict per event cost about twice as much (bench/trace_bench.py).
            head = _HEADS.get(event)
            if head is None:
                head = _head(event)
            if enrichment is None:
                enrichment = _make_enrichment(msg_dict)
            time, ids = enrichment
            pid, host = _host_cache
            if pid != _host.pid:
                host = _host_part()
            ids_part = _NO_IDS if ids == (None, None) else _ids_part(ids)
            try:
                details = _orjson_dumps(msg_dict, default=_DEFAULT, option=_OPTIONS)
            except Exception:
                details = _serialize.dumps(msg_dict)
            # The time is there: this sink asks for it (wants_enrichment).
            line = b"".join((head, time.encode(), host, ids_part, details, b"}\n"))  # type: ignore[union-attr]
            if len(line) > self.max_line:
                line = self._capped(event, enrichment, msg_dict)
            self._write(line)
            self.lines += 1
        except Exception as exc:
            self.failures.record(_label(event), exc)

    def _capped(self, event: int, enrichment: _enrich.Enrichment, msg_dict: dict[str, Any]) -> bytes:
        record = {
            "event": _NAMES.get(event) or str(event),
            "event_id": event,
            "time": enrichment[0],
            "node": _host.node,
            "pid": _host.pid,
            "trace_id": enrichment[1][0],
            "span_id": enrichment[1][1],
            "details": msg_dict,
        }
        return _serialize.dumps_capped(record, self.max_line - 1) + b"\n"

    def _write(self, data: bytes) -> None:
        fd = self._fd
        if fd is not None:
            written = os.write(fd, data)
            while written < len(data):  # only for non-blocking descriptors or signals
                data = data[written:]
                written = os.write(fd, data)
            return
        stream = self._stream
        stream.write(data if self._binary else data.decode("utf-8"))
        flush = getattr(stream, "flush", None)
        if flush is not None:
            flush()

    def stats(self) -> dict[str, int]:
        """Return what the sink has done, for :meth:`flowtrace.Trace.stats`.

        Returns:
            ``lines`` written and ``write_errors``.

        .. versionadded:: 0.1.0
        """
        return {"lines": self.lines, "write_errors": self.failures.count}

    def close(self) -> None:
        """Close the file this sink opened itself, if any; a stream or descriptor it was given stays open.

        Raises:
            OSError: if closing the file fails.

        .. versionadded:: 0.1.0
        """
        fd, self._owned_fd = self._owned_fd, None
        if fd is not None:
            self._fd = None
            os.close(fd)


def _is_binary(stream: object) -> bool:
    if isinstance(stream, io.TextIOBase):
        return False
    if isinstance(stream, (io.RawIOBase, io.BufferedIOBase)):
        return True
    mode = getattr(stream, "mode", "")
    return isinstance(mode, str) and "b" in mode


def _label(event: int) -> str:
    # Only on the failure path, so it may be slow; it must not raise, whatever was passed as the event.
    try:
        return _NAMES.get(event) or str(event)
    except Exception:
        return "<event %s>" % type(event).__name__


__all__ = ["JsonSink", "DEFAULT_MAX_LINE"]
