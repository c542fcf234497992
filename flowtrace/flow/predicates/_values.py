"""The predicates that compare the value at a ``key`` of a task's result, or of the flow's arguments.

Each ``field...`` predicate has an ``argsField...`` twin that reads the flow's
arguments (``node_args``) instead of a result (``message``). A comparison
that Python refuses (``3 > "a"``) is false, not an error.
"""

from __future__ import annotations

import operator

from flowtrace.flow.predicates._path import MISSING, check, follow


def fieldExist(message, key) -> bool:  # noqa: N802 (Selinon's names)
    """Whether the result has ``key``, even when it holds None.

    Args:
        message: the node's result.
        key: a key, or a list of keys and indexes leading into the result.

    .. versionadded:: 0.1.0
    """
    return follow(message, key) is not MISSING


def fieldEqual(message, key, value) -> bool:  # noqa: N802
    """Whether the result has ``key`` and its value equals ``value``.

    Args:
        message: the node's result.
        key: a key, or a list of keys and indexes leading into the result.
        value: the value compared with.

    .. versionadded:: 0.1.0
    """
    return check(message, key, operator.eq, value)


def fieldNotEqual(message, key, value) -> bool:  # noqa: N802
    """Whether the result has ``key`` and its value differs from ``value``; a missing key is false.

    Args:
        message: the node's result.
        key: a key, or a list of keys and indexes leading into the result.
        value: the value compared with.

    .. versionadded:: 0.1.0
    """
    return check(message, key, operator.ne, value)


def fieldGreater(message, key, value) -> bool:  # noqa: N802
    """Whether the value at ``key`` is greater than ``value`` (``found > value``).

    Args:
        message: the node's result.
        key: a key, or a list of keys and indexes leading into the result.
        value: the bound to exceed.

    .. versionadded:: 0.1.0
    """
    return check(message, key, operator.gt, value)


def fieldGreaterEqual(message, key, value) -> bool:  # noqa: N802
    """Whether the value at ``key`` is at least ``value`` (``found >= value``).

    Args:
        message: the node's result.
        key: a key, or a list of keys and indexes leading into the result.
        value: the lowest value allowed.

    .. versionadded:: 0.1.0
    """
    return check(message, key, operator.ge, value)


def fieldLess(message, key, value) -> bool:  # noqa: N802
    """Whether the value at ``key`` is less than ``value`` (``found < value``).

    Args:
        message: the node's result.
        key: a key, or a list of keys and indexes leading into the result.
        value: the bound to stay under.

    .. versionadded:: 0.1.0
    """
    return check(message, key, operator.lt, value)


def fieldLessEqual(message, key, value) -> bool:  # noqa: N802
    """Whether the value at ``key`` is at most ``value`` (``found <= value``).

    Args:
        message: the node's result.
        key: a key, or a list of keys and indexes leading into the result.
        value: the highest value allowed.

    .. versionadded:: 0.1.0
    """
    return check(message, key, operator.le, value)


def fieldContain(message, key, value) -> bool:  # noqa: N802
    """Whether the value at ``key`` contains ``value`` (``value in found``).

    Args:
        message: the node's result.
        key: a key, or a list of keys and indexes leading into the result.
        value: what the value at ``key`` must contain: an item of a list, a
            key of a mapping, a part of a string.

    .. versionadded:: 0.1.0
    """
    return check(message, key, operator.contains, value)


def argsFieldExist(node_args, key) -> bool:  # noqa: N802
    """Whether the flow's arguments have ``key``, even when it holds None.

    Args:
        node_args: the flow's arguments.
        key: a key, or a list of keys and indexes leading into them.

    .. versionadded:: 0.1.0
    """
    return follow(node_args, key) is not MISSING


def argsFieldEqual(node_args, key, value) -> bool:  # noqa: N802
    """Whether the flow's arguments have ``key`` and its value equals ``value``.

    Args:
        node_args: the flow's arguments.
        key: a key, or a list of keys and indexes leading into them.
        value: the value compared with.

    .. versionadded:: 0.1.0
    """
    return check(node_args, key, operator.eq, value)


def argsFieldNotEqual(node_args, key, value) -> bool:  # noqa: N802
    """Whether the flow's arguments have ``key`` and its value differs from ``value``; a missing key is false.

    Args:
        node_args: the flow's arguments.
        key: a key, or a list of keys and indexes leading into them.
        value: the value compared with.

    .. versionadded:: 0.1.0
    """
    return check(node_args, key, operator.ne, value)


def argsFieldGreater(node_args, key, value) -> bool:  # noqa: N802
    """Whether the flow's argument at ``key`` is greater than ``value``.

    Args:
        node_args: the flow's arguments.
        key: a key, or a list of keys and indexes leading into them.
        value: the bound to exceed.

    .. versionadded:: 0.1.0
    """
    return check(node_args, key, operator.gt, value)


def argsFieldGreaterEqual(node_args, key, value) -> bool:  # noqa: N802
    """Whether the flow's argument at ``key`` is at least ``value``.

    Args:
        node_args: the flow's arguments.
        key: a key, or a list of keys and indexes leading into them.
        value: the lowest value allowed.

    .. versionadded:: 0.1.0
    """
    return check(node_args, key, operator.ge, value)


def argsFieldLess(node_args, key, value) -> bool:  # noqa: N802
    """Whether the flow's argument at ``key`` is less than ``value``.

    Args:
        node_args: the flow's arguments.
        key: a key, or a list of keys and indexes leading into them.
        value: the bound to stay under.

    .. versionadded:: 0.1.0
    """
    return check(node_args, key, operator.lt, value)


def argsFieldLessEqual(node_args, key, value) -> bool:  # noqa: N802
    """Whether the flow's argument at ``key`` is at most ``value``.

    Args:
        node_args: the flow's arguments.
        key: a key, or a list of keys and indexes leading into them.
        value: the highest value allowed.

    .. versionadded:: 0.1.0
    """
    return check(node_args, key, operator.le, value)


def argsFieldContain(node_args, key, value) -> bool:  # noqa: N802
    """Whether the flow's argument at ``key`` contains ``value`` (``value in found``).

    Args:
        node_args: the flow's arguments.
        key: a key, or a list of keys and indexes leading into them.
        value: what the argument at ``key`` must contain.

    .. versionadded:: 0.1.0
    """
    return check(node_args, key, operator.contains, value)


PREDICATES = (
    fieldExist, fieldEqual, fieldNotEqual, fieldGreater, fieldGreaterEqual, fieldLess, fieldLessEqual, fieldContain,
    argsFieldExist, argsFieldEqual, argsFieldNotEqual, argsFieldGreater, argsFieldGreaterEqual, argsFieldLess,
    argsFieldLessEqual, argsFieldContain,
)
