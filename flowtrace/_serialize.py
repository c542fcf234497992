"""Turn any Python value into one line of JSON, without ever raising.

The fast path is orjson, which is an order of magnitude faster than the
standard library for the small dicts events carry. Anything orjson refuses
(cycles, text that is not valid UTF-8, integers wider than 64 bits, odd dict
keys) goes through :func:`_safe`, which rebuilds the value from JSON-safe parts.
"""

from __future__ import annotations

import datetime
import decimal
import traceback
import types

import orjson

TRUNCATED = "...[truncated]"

OPTIONS = _OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_UTC_Z
_MAX_REPR = 4096
_MAX_DEPTH = 64


def _short(text: str, limit: int = _MAX_REPR) -> str:
    if len(text) > limit:
        return text[:limit] + TRUNCATED
    return text


def _exception(exc: BaseException) -> dict:
    return {"type": type(exc).__name__, "message": _short(_text(exc))}


def _text(value) -> str:
    try:
        return str(value)
    except Exception:
        return "<unprintable %s>" % type(value).__name__


def _repr(value) -> str:
    try:
        return _short(repr(value))
    except Exception:
        return "<unrepresentable %s>" % type(value).__name__


def _sorted(items) -> list:
    # Sets are sorted so that a line does not depend on hash order (str hashes are salted per process).
    try:
        return sorted(items)
    except Exception:
        return list(items)


def _iso(value) -> str:
    text = value.isoformat()
    # Matches orjson's OPT_UTC_Z for the datetime subclasses orjson itself refuses (freezegun, pendulum).
    if isinstance(value, datetime.datetime) and text.endswith("+00:00"):
        return text[:-6] + "Z"
    return text


def _default(value):
    """orjson's hook for types it does not know."""
    if isinstance(value, BaseException):
        return _exception(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _short(bytes(value).decode("utf-8", "backslashreplace"))
    if isinstance(value, (set, frozenset)):
        return _sorted(value)
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (datetime.date, datetime.time)):
        return _iso(value)
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, types.TracebackType):
        return _short("".join(traceback.format_tb(value)), 16384)
    if isinstance(value, type):
        return "%s.%s" % (value.__module__, value.__qualname__)
    return _repr(value)


def _fix_str(text: str) -> str:
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        # Lone surrogates (undecodable bytes kept by surrogateescape) become \\udcxx text.
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _safe(value, depth=0, path=None, limit=None):
    """Rebuild ``value`` from str, int, float, bool, None, list and dict only.

    Whatever orjson can serialise on its own comes out as :func:`dumps` would
    write it, so that a line does not change shape because some other value in
    it forced this slow path. ``limit`` caps each string (used when a line is
    too long).
    """
    if value is None or value is True or value is False:
        return value
    kind = type(value)
    if kind is str:
        value = _fix_str(value)
        if limit is not None and len(value) > limit:
            return value[:limit] + TRUNCATED
        return value
    if kind is int:
        return value if -(2 ** 63) <= value < 2 ** 64 else str(value)
    if kind is float:
        return value  # orjson writes NaN and the infinities as null, on either path
    if depth >= _MAX_DEPTH:
        return "[too deep]"
    # orjson walks dict and list subclasses itself but hands tuple subclasses
    # (named tuples) and sets to _default; the same split holds here.
    if isinstance(value, (dict, list)) or kind is tuple or isinstance(value, (set, frozenset)):
        if path is None:
            path = set()
        marker = id(value)
        if marker in path:
            return "[cycle]"
        path.add(marker)
        try:
            if isinstance(value, dict):
                return {_key(k): _safe(v, depth + 1, path, limit) for k, v in value.items()}
            if isinstance(value, (set, frozenset)):
                value = _sorted(value)
            return [_safe(v, depth + 1, path, limit) for v in value]
        finally:
            path.discard(marker)
    # Subclasses of the basic types that orjson writes as their value: IntEnum, str enums, ...
    if isinstance(value, int):
        return _safe(int.__index__(value), depth + 1, path, limit)
    if isinstance(value, str):
        return _safe(str.__str__(value), depth + 1, path, limit)
    try:
        # Any other leaf on its own, as the fast path writes it (datetime, UUID,
        # Enum, dataclass, exception...), read back so its strings can be cut.
        converted = orjson.loads(orjson.dumps(value, default=_default, option=_OPTIONS))
    except Exception:
        # It holds something orjson refuses (a cycle, a lone surrogate, a huge int).
        try:
            converted = _default(value)
        except Exception:
            converted = "<unserialisable %s>" % kind.__name__
    return _safe(converted, depth + 1, path, limit)


def _key(key) -> str:
    if type(key) is str:
        return _fix_str(key)
    try:
        # The key orjson's OPT_NON_STR_KEYS would write (None -> "null", 1.5 -> "1.5", UUID, date...).
        encoded = orjson.loads(orjson.dumps({key: None}, option=_OPTIONS))
        return _fix_str(next(iter(encoded)))
    except Exception:
        # Keys orjson refuses (tuples, huge ints, objects) become their str().
        return _fix_str(_text(key))


def dumps(value) -> bytes:
    """Serialise ``value`` to compact JSON bytes; never raises."""
    try:
        return orjson.dumps(value, default=_default, option=_OPTIONS)
    except Exception:
        pass
    try:
        return orjson.dumps(_safe(value), option=_OPTIONS)
    except Exception as exc:  # pragma: no cover - _safe only yields JSON types
        return orjson.dumps({"unserialisable": _exception(exc)})


def dumps_capped(value, max_bytes: int, detail_key: str = "details") -> bytes:
    """Serialise ``value`` (a dict) and keep the result within ``max_bytes``.

    When the line is too long, long strings in ``value[detail_key]`` are cut
    and marked; if that is not enough, the details are replaced by a preview.
    The result always carries ``"truncated": true`` when anything was cut.
    """
    line = dumps(value)
    if len(line) <= max_bytes:
        return line
    original = len(line)
    shrunk = dict(value)
    shrunk["truncated"] = True
    shrunk["original_bytes"] = original
    for limit in (1024, 128):
        shrunk[detail_key] = _safe(value.get(detail_key), limit=limit)
        line = dumps(shrunk)
        if len(line) <= max_bytes:
            return line
    shrunk[detail_key] = {"preview": ""}
    room = max(0, max_bytes - len(dumps(shrunk)) - 64)
    whole = dumps(value.get(detail_key))
    while room > 0:
        # Escaping can make the preview longer than the bytes it shows, so shrink until it fits.
        shrunk[detail_key] = {"preview": whole[:room].decode("utf-8", "ignore") + TRUNCATED}
        line = dumps(shrunk)
        if len(line) <= max_bytes:
            return line
        room //= 2
    # Only the envelope is left, and it is a few hundred bytes at most.
    shrunk[detail_key] = {}
    line = dumps(shrunk)
    if len(line) > max_bytes:
        # Unless the caller put something huge in it (a str passed as the event, say).
        line = dumps(_safe(shrunk, limit=64))
    return line
