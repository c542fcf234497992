"""Reading a JSON trace log for ``flowtrace view``: its lines, its events and the values in them.

A line is an event when it is a JSON object holding every key of the envelope
:class:`~flowtrace.sinks.json.JsonSink` writes, each of the right type, with a
time that parses. Any other line that is not blank is invalid: counted, never
fatal. Values inside ``details`` are checked where they are used, with
:func:`ident`, :func:`number` and :func:`text`.

Times are kept as whole microseconds since the epoch, UTC.
"""

from __future__ import annotations

import datetime
import re
from typing import IO, Iterable, Iterator, List, NamedTuple, Optional, Union

import orjson

#: The longest line read, in bytes; a longer one is skipped as invalid without being held in memory.
MAX_LINE = 16 * 1024 * 1024

#: Microseconds in a second.
US = 1_000_000

_ENVELOPE = ("event", "event_id", "time", "node", "pid", "trace_id", "span_id", "details")
_TIME = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(?:[.,](\d{1,9}))?(?:([Zz])|([+-])(\d\d):?(\d\d))?\Z", re.ASCII)
_EPOCH = datetime.datetime(1970, 1, 1)

# Control characters and bidirectional overrides in a log must not reach the
# terminal: they could redraw the screen or reorder what the reader sees.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


class Event(NamedTuple):
    """One valid event line."""

    name: str
    time: int
    line: int
    trace_id: Optional[str]
    details: dict


class Log:
    """The valid events of a log, and how many lines it had and how many were invalid."""

    def __init__(self):
        self.events: List[Event] = []
        self.lines = 0
        self.invalid = 0
        self.first_invalid: Optional[int] = None


def read_lines(stream: IO, max_line: int = MAX_LINE) -> Iterator[Union[bytes, str, None]]:
    """Yield the lines of ``stream``, one item per line, reading at most ``max_line`` bytes at a time.

    Args:
        stream: a binary stream (or a text stream, whose lines are then ``str``).
        max_line: the longest line kept; longer lines are read through in pieces
            and yielded as ``None``, which :func:`render` counts as invalid.

    Returns:
        An iterator of lines, each with its line ending.

    .. versionadded:: 0.1.0
    """
    readline = stream.readline
    while True:
        line = readline(max_line + 1)
        if not line:
            return
        newline = b"\n" if isinstance(line, bytes) else "\n"
        if len(line) > max_line and not line.endswith(newline):
            while True:  # drop the rest of the line, piece by piece
                rest = readline(max_line + 1)
                if not rest or rest.endswith(newline):
                    break
            yield None
        else:
            yield line


def load(lines: Iterable[Union[str, bytes, None]]) -> Log:
    """Read every line, keeping the valid events and counting the invalid lines; ``None`` is invalid."""
    log = Log()
    for number, line in enumerate(lines, 1):
        log.lines = number
        if line is not None and not line.strip():
            continue
        event = None if line is None else _parse(line, number)
        if event is None:
            log.invalid += 1
            if log.first_invalid is None:
                log.first_invalid = number
        else:
            log.events.append(event)
    return log


def _parse(line, number: int) -> Optional[Event]:
    if isinstance(line, (bytes, bytearray)):
        if line.startswith(b"\xef\xbb\xbf"):
            line = line[3:]
    elif line.startswith("\ufeff"):
        line = line[1:]
    try:
        record = orjson.loads(line)
    except (ValueError, TypeError, RecursionError):
        return None
    if type(record) is not dict or any(key not in record for key in _ENVELOPE):
        return None
    name, event_id, stamp, details = record["event"], record["event_id"], record["time"], record["details"]
    if type(name) is not str or not name or type(event_id) is not int or type(details) is not dict:
        return None
    if type(stamp) is not str or not _optional(record, "node", str) or not _optional(record, "pid", int):
        return None
    if not _optional(record, "trace_id", str) or not _optional(record, "span_id", str):
        return None
    micros = parse_time(stamp)
    if micros is None:
        return None
    return Event(name, micros, number, record["trace_id"] or None, details)


def _optional(record: dict, key: str, kind: type) -> bool:
    value = record[key]
    return value is None or type(value) is kind


# --- times --------------------------------------------------------------------


def parse_time(text: str) -> Optional[int]:
    """Return an ISO-8601 time in microseconds since the epoch, or ``None`` if it is not one.

    A time without an offset is taken as UTC. Internal to the package: the
    demo's summary reads the log's times with it too.

    Args:
        text: the time, such as ``2026-11-21T10:05:24.506658Z``.

    Returns:
        Whole microseconds since the epoch, UTC, or ``None``.

    .. versionadded:: 0.1.0
    """
    match = _TIME.match(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zulu, sign, off_h, off_m = match.groups()
    try:
        micros = _since_epoch(datetime.datetime(int(year), int(month), int(day), int(hour), int(minute),
                                                int(second)))
    except ValueError:
        return None
    if fraction:
        micros += int((fraction + "00000")[:6])
    if sign:
        offset = (int(off_h) * 60 + int(off_m)) * 60 * US
        micros += -offset if sign == "+" else offset
    try:
        _EPOCH + datetime.timedelta(microseconds=micros)  # an offset may push it out of datetime's range
    except OverflowError:
        return None
    return micros


def to_micros(now) -> Optional[int]:
    """Return ``render``'s ``now`` (a datetime, an ISO-8601 string or seconds) in microseconds since the epoch.

    Raises:
        ValueError: if ``now`` is none of those.
    """
    if now is None:
        return None
    if isinstance(now, datetime.datetime):
        if now.tzinfo is not None:
            now = now.astimezone(datetime.timezone.utc).replace(tzinfo=None)
        return _since_epoch(now)
    if isinstance(now, str):
        micros = parse_time(now)
        if micros is None:
            raise ValueError("now must be an ISO-8601 time such as 2026-11-21T10:05:24Z, got %r" % (now,))
        return micros
    if number(now) is not None and not isinstance(now, bool):
        return int(round(now * US))
    raise ValueError("now must be a datetime, an ISO-8601 string or seconds since the epoch, got %r" % (now,))


def format_time(micros: int) -> str:
    """Return ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` for a time in microseconds since the epoch."""
    moment = _EPOCH + datetime.timedelta(microseconds=micros)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + "%06dZ" % moment.microsecond


def _since_epoch(moment: datetime.datetime) -> int:
    delta = moment - _EPOCH
    return (delta.days * 86400 + delta.seconds) * US + delta.microseconds


# --- values in details --------------------------------------------------------


def ident(value) -> Optional[str]:
    """Return ``value`` if it can be a task or dispatcher id (a non-empty string), else ``None``."""
    return value if type(value) is str and value else None


def number(value) -> Optional[float]:
    """Return ``value`` if it is a finite int or float, else ``None``."""
    if type(value) in (int, float) and value == value and abs(value) != float("inf"):
        return value
    return None


def text(value, default: str = "") -> str:
    """Return a string from the log safe to show on a terminal, or ``default`` if it is not a non-empty string.

    Control characters and bidirectional overrides are escaped. Internal to
    the package: the demo's summary shows the log's values with it too.

    Args:
        value: a value from an event's details.
        default: what to return for anything but a non-empty string.

    Returns:
        The string, safe to print.

    .. versionadded:: 0.1.0
    """
    if type(value) is not str or not value:
        return default
    return _UNSAFE.sub(lambda match: repr(match.group(0))[1:-1], value)
