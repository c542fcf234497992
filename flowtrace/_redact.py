"""Redaction of secrets in msg dicts, done once before any sink is called."""

from __future__ import annotations

import threading

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

_lock = threading.Lock()
_fragments = DEFAULT_KEYS
# key -> bool. Keys come from a small vocabulary, so after warm-up the check is
# one dict lookup. Bounded so that data used as keys cannot grow it forever.
_verdicts: dict = {}
_VERDICTS_MAX = 4096


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
        _verdicts.clear()


def keys() -> tuple:
    """Return the key fragments currently redacted."""
    return _fragments


def reset() -> None:
    """Return to the default key list."""
    global _fragments
    with _lock:
        _fragments = DEFAULT_KEYS
        _verdicts.clear()


def _is_secret(key) -> bool:
    verdict = _verdicts.get(key)
    if verdict is None:
        if isinstance(key, str):
            folded = key.lower().replace("-", "_")
            verdict = any(fragment in folded for fragment in _fragments)
        else:
            verdict = False
        if len(_verdicts) >= _VERDICTS_MAX:
            _verdicts.clear()
        try:
            _verdicts[key] = verdict
        except TypeError:  # an unhashable key cannot be cached; it was classified anyway
            pass
    return verdict


_CONTAINERS = (dict, list, tuple)


def redact_top(msg: dict) -> dict:
    """Redact ``msg`` in place at the top level, copying nested containers that change.

    ``msg`` must be a dict the caller owns (Trace.log builds a fresh one), so
    the top level is edited in place; nested containers belong to the emitter
    and are copied on write, never modified.
    """
    verdicts = _verdicts
    for key, value in msg.items():
        secret = verdicts.get(key)
        if secret is None:
            secret = _is_secret(key)
        if secret:
            if value is not None:
                msg[key] = REDACTED
        elif type(value) in _CONTAINERS or isinstance(value, _CONTAINERS):
            new = _redact_value(value, 1, set())
            if new is not value:
                msg[key] = new
    return msg


def redact(value):
    """Return ``value`` with secrets redacted, copying only what changes."""
    if isinstance(value, _CONTAINERS):
        return _redact_value(value, 0, set())
    return value


def _redact_value(value, depth, path):
    if depth >= _MAX_DEPTH:
        return _TOO_DEEP
    marker = id(value)
    if marker in path:
        # A cycle: leave the reference as it is; serialisers handle cycles.
        return value
    path.add(marker)
    try:
        if isinstance(value, dict):
            out = None
            for key, item in value.items():
                if _is_secret(key):
                    if item is not None:
                        new = REDACTED
                    else:
                        continue
                elif isinstance(item, _CONTAINERS):
                    new = _redact_value(item, depth + 1, path)
                else:
                    continue
                if new is not item:
                    if out is None:
                        out = dict(value)
                    out[key] = new
            return value if out is None else out
        # list or tuple
        out = None
        for index, item in enumerate(value):
            if isinstance(item, _CONTAINERS):
                new = _redact_value(item, depth + 1, path)
                if new is not item:
                    if out is None:
                        out = list(value)
                    out[index] = new
        if out is None:
            return value
        return out if isinstance(value, list) else tuple(out)
    finally:
        path.discard(marker)
