"""The predicates that compare the length of the value at a ``key`` with a number.

A value without a length (a number, None, a missing key) makes them false,
and so does a ``length`` that cannot be compared with one.

Selinon 1.4 has no ``fieldLenLessEqual``: its ``fieldLenGreaterEqual`` (and
``argsFieldLenGreaterEqual``) is the function of its file
``fieldLenLessEqual.py``, which tests ``len(found) <= length``, so flows written
for Selinon that name ``fieldLenGreaterEqual`` were true for *at most*
``length`` items. These predicates keep that meaning, so such flows move over
unchanged; their docstrings say so.
"""

from __future__ import annotations

from flowtrace.flow.predicates._path import check


def _len_eq(found, length):
    return len(found) == length


def _len_ne(found, length):
    return len(found) != length


def _len_gt(found, length):
    return len(found) > length


def _len_le(found, length):
    return len(found) <= length


def _len_lt(found, length):
    return len(found) < length


def fieldLenEqual(message, key, length) -> bool:  # noqa: N802 (Selinon's names)
    """Whether the value at ``key`` has exactly ``length`` items.

    Args:
        message: the node's result.
        key: a key, or a list of keys and indexes leading into the result.
        length: the number of items.

    .. versionadded:: 0.1.0
    """
    return check(message, key, _len_eq, length)


def fieldLenNotEqual(message, key, length) -> bool:  # noqa: N802
    """Whether the value at ``key`` has a length, and it is not ``length``.

    Args:
        message: the node's result.
        key: a key, or a list of keys and indexes leading into the result.
        length: the number of items the value must not have.

    .. versionadded:: 0.1.0
    """
    return check(message, key, _len_ne, length)


def fieldLenGreater(message, key, length) -> bool:  # noqa: N802
    """Whether the value at ``key`` has more than ``length`` items.

    Args:
        message: the node's result.
        key: a key, or a list of keys and indexes leading into the result.
        length: the number of items to exceed.

    .. versionadded:: 0.1.0
    """
    return check(message, key, _len_gt, length)


def fieldLenGreaterEqual(message, key, length) -> bool:  # noqa: N802
    """Whether the value at ``key`` has *at most* ``length`` items, as this name means in Selinon 1.4.

    .. warning::
        Despite the name, this is ``len(found) <= length``: the meaning
        Selinon 1.4 gives it (see :mod:`flowtrace.flow.predicates`). For
        "at least ``length`` items", use ``fieldLenGreater`` with
        ``length - 1``, or ``not`` over ``fieldLenLess``.

    Args:
        message: the node's result.
        key: a key, or a list of keys and indexes leading into the result.
        length: the most items allowed.

    .. versionadded:: 0.1.0
    """
    return check(message, key, _len_le, length)


def fieldLenLess(message, key, length) -> bool:  # noqa: N802
    """Whether the value at ``key`` has fewer than ``length`` items.

    Args:
        message: the node's result.
        key: a key, or a list of keys and indexes leading into the result.
        length: the number of items to stay under.

    .. versionadded:: 0.1.0
    """
    return check(message, key, _len_lt, length)


def argsFieldLenEqual(node_args, key, length) -> bool:  # noqa: N802
    """Whether the flow's argument at ``key`` has exactly ``length`` items.

    Args:
        node_args: the flow's arguments.
        key: a key, or a list of keys and indexes leading into them.
        length: the number of items.

    .. versionadded:: 0.1.0
    """
    return check(node_args, key, _len_eq, length)


def argsFieldLenNotEqual(node_args, key, length) -> bool:  # noqa: N802
    """Whether the flow's argument at ``key`` has a length, and it is not ``length``.

    Args:
        node_args: the flow's arguments.
        key: a key, or a list of keys and indexes leading into them.
        length: the number of items the argument must not have.

    .. versionadded:: 0.1.0
    """
    return check(node_args, key, _len_ne, length)


def argsFieldLenGreater(node_args, key, length) -> bool:  # noqa: N802
    """Whether the flow's argument at ``key`` has more than ``length`` items.

    Args:
        node_args: the flow's arguments.
        key: a key, or a list of keys and indexes leading into them.
        length: the number of items to exceed.

    .. versionadded:: 0.1.0
    """
    return check(node_args, key, _len_gt, length)


def argsFieldLenGreaterEqual(node_args, key, length) -> bool:  # noqa: N802
    """Whether the flow's argument at ``key`` has *at most* ``length`` items, as this name means in Selinon 1.4.

    .. warning::
        Despite the name, this is ``len(found) <= length``, like
        ``fieldLenGreaterEqual``.

    Args:
        node_args: the flow's arguments.
        key: a key, or a list of keys and indexes leading into them.
        length: the most items allowed.

    .. versionadded:: 0.1.0
    """
    return check(node_args, key, _len_le, length)


def argsFieldLenLess(node_args, key, length) -> bool:  # noqa: N802
    """Whether the flow's argument at ``key`` has fewer than ``length`` items.

    Args:
        node_args: the flow's arguments.
        key: a key, or a list of keys and indexes leading into them.
        length: the number of items to stay under.

    .. versionadded:: 0.1.0
    """
    return check(node_args, key, _len_lt, length)


PREDICATES = (
    fieldLenEqual, fieldLenNotEqual, fieldLenGreater, fieldLenGreaterEqual, fieldLenLess,
    argsFieldLenEqual, argsFieldLenNotEqual, argsFieldLenGreater, argsFieldLenGreaterEqual, argsFieldLenLess,
)
