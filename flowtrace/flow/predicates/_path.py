"""Following a predicate's ``key`` into a task's result or the flow's arguments, and testing what is there."""

from __future__ import annotations

from typing import Any, Callable

MISSING = object()  # what follow() returns when the key leads nowhere


def follow(data: Any, key: Any) -> Any:
    """The value at ``key`` in ``data``, or :data:`MISSING`.

    A list is a path of keys and indexes, followed one step at a time; any
    other ``key`` (a string, even one with dots in it, a number, a tuple) is
    one key, as in Selinon. An empty list leads to ``data`` itself.
    """
    try:
        for part in (key if isinstance(key, list) else [key]):
            data = data[part]
    except Exception:  # any container, any key: a result that does not fit is just false
        return MISSING
    return data


def check(data: Any, key: Any, test: Callable[..., Any], *operands: Any) -> bool:
    """Whether the value at ``key`` is there and ``test(value, *operands)`` holds.

    A test that raises (values that cannot be compared, a value without a
    length) makes it false, and so does a test whose answer has no truth
    value, so the built-ins always return a bool and never raise.
    """
    found = follow(data, key)
    if found is MISSING:
        return False
    try:
        return bool(test(found, *operands))
    except Exception:
        return False
