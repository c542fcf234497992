"""Redaction of secrets in msg dicts, done once before any sink is called."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import threading
import uuid
from collections.abc import Mapping
from typing import Any

REDACTED = "[redacted]"

#: Key fragments whose values are never shown to a sink. Matching is on the
#: lower-cased key with ``-`` read as ``_``, and a fragment anywhere in the key
#: counts (``db_password``, ``X-Api-Key``, ``sentry_dsn``).
DEFAULT_KEYS = (
    "password", "passwd", "secret", "token", "api_key", "apikey",
    "authorization", "cookie", "dsn", "private_key",
)

# Containers below this depth are replaced rather than walked, so a hostile
# structure cannot make redaction slow; cycles are detected by identity.
_MAX_DEPTH = 32
_TOO_DEEP = "[too deep to redact]"
_CYCLE = "[cycle]"

_CONTAINERS = (dict, list, tuple)

_lock = threading.Lock()
_fragments: tuple[str, ...] = DEFAULT_KEYS

# Keys already classified. Keys come from a small vocabulary, so after warm-up
# a msg dict whose keys are all known to be safe passes with one C-level
# ``issuperset``. Bounded so that data used as keys cannot grow them forever.
_safe_keys: set[object] = set()
_secret_keys: set[object] = set()
_KEYS_MAX = 4096

# Types that are not dict, list or tuple (nor subclasses of them): a value of
# one of these cannot hide a secret, so one set lookup skips it. Other types
# are added the first time a walk meets them (UUID, datetime, enums...).
_LEAF_TYPES: frozenset[type] = frozenset({
    str, int, float, bool, type(None), bytes, bytearray, complex, set, frozenset,
    datetime.datetime, datetime.date, datetime.time, datetime.timedelta, decimal.Decimal, uuid.UUID,
})
_leaf_types: set[type] = set(_LEAF_TYPES)
_LEAF_TYPES_MAX = 512


def add_keys(*fragments: str) -> None:
    """Add key fragments to the redaction list."""
    global _fragments
    cleaned = []
    for fragment in fragments:
        if not isinstance(fragment, str) or not fragment.strip():
            raise ValueError("a redaction key must be a non-empty string, got %r" % (fragment,))
        cleaned.append(fragment.strip().lower().replace("-", "_"))
    with _lock:
        _fragments = tuple(dict.fromkeys(_fragments + tuple(cleaned)))
        _safe_keys.clear()
        _secret_keys.clear()


def keys() -> tuple[str, ...]:
    """Return the key fragments currently redacted."""
    return _fragments


def reset() -> None:
    """Return to the default key list."""
    global _fragments
    with _lock:
        _fragments = DEFAULT_KEYS
        _safe_keys.clear()
        _secret_keys.clear()


def _is_secret(key: object) -> bool:
    if key in _safe_keys:
        return False
    if key in _secret_keys:
        return True
    fragments = _fragments
    if isinstance(key, str):
        folded = key.lower().replace("-", "_")
        verdict = any(fragment in folded for fragment in fragments)
    else:
        verdict = False
    try:
        with _lock:
            # A verdict reached with a list that add_keys() has since replaced is not kept.
            if fragments is _fragments:
                known = _secret_keys if verdict else _safe_keys
                if len(known) >= _KEYS_MAX:
                    known.clear()
                known.add(key)
    except TypeError:  # an unhashable key cannot be cached; it was classified anyway
        pass
    return verdict


def _learn_leaf(kind: type) -> None:
    if len(_leaf_types) >= _LEAF_TYPES_MAX:
        _leaf_types.intersection_update(_LEAF_TYPES)
    _leaf_types.add(kind)


def _other(value: Any, depth: int, path: set[int] | None) -> Any:
    """Walk a value that is neither plain nor a dict, list or tuple, if it can hold keys.

    Other mappings (``MappingProxyType``, ``OrderedDict`` views, ...) and
    dataclass instances are read as dicts, since serialisers show their
    fields; when a secret is found the sink gets the redacted dict instead of
    the object. Any other type is remembered as one that holds no secret.
    """
    fields: dict[Any, Any]
    if isinstance(value, Mapping):
        fields = dict(value)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {field.name: getattr(value, field.name, None) for field in dataclasses.fields(value)}
    else:
        _learn_leaf(type(value))
        return value
    new = _redact_value(fields, depth, path)
    return value if new is fields else new


def redact_top(msg: dict[str, Any]) -> dict[str, Any]:
    """Redact ``msg`` in place at the top level, copying nested containers that change.

    ``msg`` must be a dict the caller owns (Trace.log builds a fresh one), so
    the top level is edited in place; nested containers belong to the emitter
    and are copied on write, never modified.
    """
    # One pass for the common case: keys already known to be safe, and values
    # that are plain or a container of plain values with safe keys. Anything
    # else is handed to the general walk; this runs on every event.
    safe = _safe_keys
    leaf = _leaf_types
    for key, value in msg.items():
        if key not in safe:
            # A key not seen before, or a secret: the general walk from the top
            # (whatever was replaced so far is already redacted, and stays so).
            return _redact_top_keys(msg)
        kind = type(value)
        if kind in leaf:
            continue
        if kind is dict:
            for inner_key, item in value.items():
                if inner_key not in safe or type(item) not in leaf:
                    break
            else:
                continue
        elif kind is list or kind is tuple:
            for item in value:
                if type(item) not in leaf:
                    break
            else:
                continue
        new = _redact_value(value, 1, None) if isinstance(value, _CONTAINERS) else _other(value, 1, None)
        if new is not value:
            msg[key] = new  # replacing a value does not disturb the iteration
    return msg


def _redact_top_keys(msg: dict[str, Any]) -> dict[str, Any]:
    for key, value in msg.items():
        if _is_secret(key):
            if value is not None:
                msg[key] = REDACTED
        elif type(value) not in _leaf_types:
            new = _redact_value(value, 1, None) if isinstance(value, _CONTAINERS) else _other(value, 1, None)
            if new is not value:
                msg[key] = new
    return msg


def redact(value: Any) -> Any:
    """Return ``value`` with secrets redacted, copying only what changes."""
    if isinstance(value, _CONTAINERS):
        return _redact_value(value, 0, None)
    if type(value) in _leaf_types:
        return value
    return _other(value, 0, None)


def _redact_value(value: Any, depth: int, path: set[int] | None) -> Any:
    if depth >= _MAX_DEPTH:
        return _TOO_DEEP
    safe = _safe_keys
    leaf = _leaf_types
    # The common case: known safe keys and plain values only. Such a container
    # holds no container, so it can be neither changed nor part of a cycle.
    if isinstance(value, dict):
        for key, item in value.items():
            if key not in safe or type(item) not in leaf:
                break
        else:
            return value
    else:
        for item in value:
            if type(item) not in leaf:
                break
        else:
            return value
    if path is None:
        path = set()
    marker = id(value)
    if marker in path:
        # A cycle. Handing the original back would let a serialiser walk the
        # unredacted object through it, so the reference is cut.
        return _CYCLE
    path.add(marker)
    try:
        if isinstance(value, dict):
            out: dict[Any, Any] | None = None
            for key, item in value.items():
                if _is_secret(key):
                    if item is not None:
                        new = REDACTED
                    else:
                        continue
                elif type(item) in leaf:
                    continue
                elif isinstance(item, _CONTAINERS):
                    new = _redact_value(item, depth + 1, path)
                else:
                    new = _other(item, depth + 1, path)
                if new is not item:
                    if out is None:
                        out = dict(value)
                    out[key] = new
            return value if out is None else out
        # list or tuple
        items: list[Any] | None = None
        for index, item in enumerate(value):
            if type(item) in leaf:
                continue
            new = _redact_value(item, depth + 1, path) if isinstance(item, _CONTAINERS) else _other(item, depth + 1, path)
            if new is not item:
                if items is None:
                    items = list(value)
                items[index] = new
        if items is None:
            return value
        return items if isinstance(value, list) else tuple(items)
    finally:
        path.discard(marker)
