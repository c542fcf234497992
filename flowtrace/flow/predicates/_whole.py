"""The predicates of a whole value: a task's result (``is...``, ``empty``) or the flow's arguments (``argsIs...``).

The types are tested with :func:`isinstance`, as by ``fieldInt`` and its kin: ``True``
is an int too, an int is not a float, a tuple is not a list.

``empty`` and ``argsEmpty`` mean what they mean in Selinon 1.4, which is the
opposite of their names: they are true when the value is *not* empty (its
truth value, ``bool(value)``). Flows written for Selinon rely on that, so it is
kept; for "is empty", put them under ``not``.
"""

from __future__ import annotations


def _truth(value) -> bool:
    try:
        return bool(value)
    except Exception:  # a value without a truth value (Selinon raises here)
        return False


def empty(message) -> bool:
    """Whether the result is *not* empty: its truth value, as this name means in Selinon 1.4.

    .. warning::
        Despite the name, true for ``{"a": 1}``, ``[0]``, ``"x"`` or ``1``,
        and false for ``{}``, ``[]``, ``""``, ``0``, ``False`` and None. For
        "the result is empty", use ``not: {name: empty}``.

    Args:
        message: the node's result.

    Returns:
        ``bool(message)``, or False when the result has no truth value.

    .. versionadded:: 0.1.0
    """
    return _truth(message)


def isBool(message) -> bool:  # noqa: N802 (Selinon's names)
    """Whether the result is a boolean.

    Args:
        message: the node's result.

    .. versionadded:: 0.1.0
    """
    return isinstance(message, bool)


def isDict(message) -> bool:  # noqa: N802
    """Whether the result is a dict.

    Args:
        message: the node's result.

    .. versionadded:: 0.1.0
    """
    return isinstance(message, dict)


def isFloat(message) -> bool:  # noqa: N802
    """Whether the result is a float.

    Args:
        message: the node's result.

    .. versionadded:: 0.1.0
    """
    return isinstance(message, float)


def isInt(message) -> bool:  # noqa: N802
    """Whether the result is an int (booleans included, as in Python).

    Args:
        message: the node's result.

    .. versionadded:: 0.1.0
    """
    return isinstance(message, int)


def isList(message) -> bool:  # noqa: N802
    """Whether the result is a list.

    Args:
        message: the node's result.

    .. versionadded:: 0.1.0
    """
    return isinstance(message, list)


def isNone(message) -> bool:  # noqa: N802
    """Whether the result is None: the task returned nothing, or null was stored.

    Args:
        message: the node's result.

    .. versionadded:: 0.1.0
    """
    return message is None


def isStr(message) -> bool:  # noqa: N802
    """Whether the result is a string.

    Args:
        message: the node's result.

    .. versionadded:: 0.1.0
    """
    return isinstance(message, str)


def argsEmpty(node_args) -> bool:  # noqa: N802
    """Whether the flow's arguments are *not* empty: their truth value, as this name means in Selinon 1.4.

    .. warning::
        Despite the name, true for arguments such as ``{"id": 7}``, and false
        for ``{}``, ``[]``, None and the like; see :func:`empty`.

    Args:
        node_args: the flow's arguments.

    Returns:
        ``bool(node_args)``, or False when they have no truth value.

    .. versionadded:: 0.1.0
    """
    return _truth(node_args)


def argsIsBool(node_args) -> bool:  # noqa: N802
    """Whether the flow's arguments are a boolean.

    Args:
        node_args: the flow's arguments.

    .. versionadded:: 0.1.0
    """
    return isinstance(node_args, bool)


def argsIsDict(node_args) -> bool:  # noqa: N802
    """Whether the flow's arguments are a dict.

    Args:
        node_args: the flow's arguments.

    .. versionadded:: 0.1.0
    """
    return isinstance(node_args, dict)


def argsIsFloat(node_args) -> bool:  # noqa: N802
    """Whether the flow's arguments are a float.

    Args:
        node_args: the flow's arguments.

    .. versionadded:: 0.1.0
    """
    return isinstance(node_args, float)


def argsIsInt(node_args) -> bool:  # noqa: N802
    """Whether the flow's arguments are an int (booleans included).

    Args:
        node_args: the flow's arguments.

    .. versionadded:: 0.1.0
    """
    return isinstance(node_args, int)


def argsIsList(node_args) -> bool:  # noqa: N802
    """Whether the flow's arguments are a list.

    Args:
        node_args: the flow's arguments.

    .. versionadded:: 0.1.0
    """
    return isinstance(node_args, list)


def argsIsNone(node_args) -> bool:  # noqa: N802
    """Whether the flow was started without arguments (they are None).

    Args:
        node_args: the flow's arguments.

    .. versionadded:: 0.1.0
    """
    return node_args is None


def argsIsStr(node_args) -> bool:  # noqa: N802
    """Whether the flow's arguments are a string.

    Args:
        node_args: the flow's arguments.

    .. versionadded:: 0.1.0
    """
    return isinstance(node_args, str)


PREDICATES = (
    empty, isBool, isDict, isFloat, isInt, isList, isNone, isStr,
    argsEmpty, argsIsBool, argsIsDict, argsIsFloat, argsIsInt, argsIsList, argsIsNone, argsIsStr,
)
