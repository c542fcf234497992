"""The predicates that test the type of the value at a ``key``: a boolean, a number, a string, a list, ...

The types are Python's, as the result or the arguments decoded from JSON or
YAML hold them, tested with :func:`isinstance` as Selinon does: ``True`` is an
int too, an int is not a float, a tuple is not a list. A missing key is false.
"""

from __future__ import annotations

from flowtrace.flow.predicates._path import check


def _is_none(found):
    return found is None


def fieldBool(message, key) -> bool:  # noqa: N802 (Selinon's names)
    """Whether the value at ``key`` is a boolean.

    Args:
        message: the node's result.
        key: a key, or a list of keys and indexes leading into the result.

    .. versionadded:: 0.1.0
    """
    return check(message, key, isinstance, bool)


def fieldDict(message, key) -> bool:  # noqa: N802
    """Whether the value at ``key`` is a dict (a mapping of another class is not).

    Args:
        message: the node's result.
        key: a key, or a list of keys and indexes leading into the result.

    .. versionadded:: 0.1.0
    """
    return check(message, key, isinstance, dict)


def fieldFloat(message, key) -> bool:  # noqa: N802
    """Whether the value at ``key`` is a float (``1.0``, not ``1``).

    Args:
        message: the node's result.
        key: a key, or a list of keys and indexes leading into the result.

    .. versionadded:: 0.1.0
    """
    return check(message, key, isinstance, float)


def fieldInt(message, key) -> bool:  # noqa: N802
    """Whether the value at ``key`` is an int; booleans are ints in Python, so true for them too.

    Args:
        message: the node's result.
        key: a key, or a list of keys and indexes leading into the result.

    .. versionadded:: 0.1.0
    """
    return check(message, key, isinstance, int)


def fieldList(message, key) -> bool:  # noqa: N802
    """Whether the value at ``key`` is a list (a tuple is not).

    Args:
        message: the node's result.
        key: a key, or a list of keys and indexes leading into the result.

    .. versionadded:: 0.1.0
    """
    return check(message, key, isinstance, list)


def fieldNone(message, key) -> bool:  # noqa: N802
    """Whether the result has ``key`` and it holds None (null); a missing key is false.

    Args:
        message: the node's result.
        key: a key, or a list of keys and indexes leading into the result.

    .. versionadded:: 0.1.0
    """
    return check(message, key, _is_none)


def fieldStr(message, key) -> bool:  # noqa: N802
    """Whether the value at ``key`` is a string (bytes are not).

    Args:
        message: the node's result.
        key: a key, or a list of keys and indexes leading into the result.

    .. versionadded:: 0.1.0
    """
    return check(message, key, isinstance, str)


def argsFieldBool(node_args, key) -> bool:  # noqa: N802
    """Whether the flow's argument at ``key`` is a boolean.

    Args:
        node_args: the flow's arguments.
        key: a key, or a list of keys and indexes leading into them.

    .. versionadded:: 0.1.0
    """
    return check(node_args, key, isinstance, bool)


def argsFieldDict(node_args, key) -> bool:  # noqa: N802
    """Whether the flow's argument at ``key`` is a dict.

    Args:
        node_args: the flow's arguments.
        key: a key, or a list of keys and indexes leading into them.

    .. versionadded:: 0.1.0
    """
    return check(node_args, key, isinstance, dict)


def argsFieldFloat(node_args, key) -> bool:  # noqa: N802
    """Whether the flow's argument at ``key`` is a float.

    Args:
        node_args: the flow's arguments.
        key: a key, or a list of keys and indexes leading into them.

    .. versionadded:: 0.1.0
    """
    return check(node_args, key, isinstance, float)


def argsFieldInt(node_args, key) -> bool:  # noqa: N802
    """Whether the flow's argument at ``key`` is an int (booleans included, as in Python).

    Args:
        node_args: the flow's arguments.
        key: a key, or a list of keys and indexes leading into them.

    .. versionadded:: 0.1.0
    """
    return check(node_args, key, isinstance, int)


def argsFieldList(node_args, key) -> bool:  # noqa: N802
    """Whether the flow's argument at ``key`` is a list.

    Args:
        node_args: the flow's arguments.
        key: a key, or a list of keys and indexes leading into them.

    .. versionadded:: 0.1.0
    """
    return check(node_args, key, isinstance, list)


def argsFieldNone(node_args, key) -> bool:  # noqa: N802
    """Whether the flow's arguments have ``key`` and it holds None; a missing key is false.

    Args:
        node_args: the flow's arguments.
        key: a key, or a list of keys and indexes leading into them.

    .. versionadded:: 0.1.0
    """
    return check(node_args, key, _is_none)


def argsFieldStr(node_args, key) -> bool:  # noqa: N802
    """Whether the flow's argument at ``key`` is a string.

    Args:
        node_args: the flow's arguments.
        key: a key, or a list of keys and indexes leading into them.

    .. versionadded:: 0.1.0
    """
    return check(node_args, key, isinstance, str)


PREDICATES = (
    fieldBool, fieldDict, fieldFloat, fieldInt, fieldList, fieldNone, fieldStr,
    argsFieldBool, argsFieldDict, argsFieldFloat, argsFieldInt, argsFieldList, argsFieldNone, argsFieldStr,
)
