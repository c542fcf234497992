"""The predicates that read a URL at a ``key`` and compare one of its parts: the scheme, the host, the path.

The URL is split by :func:`urllib.parse.urlparse`, and the part compared
exactly: ``netloc`` is the host with its port and any user name
(``user@example.com:8080``), ``path`` starts with ``/`` when there is one, and
``""`` is the part of a URL that has none. A value that is not a string (a
number, None) is false.
"""

from __future__ import annotations

from urllib.parse import urlparse

from flowtrace.flow.predicates._path import check


def _scheme_is(found, scheme):
    return urlparse(found).scheme == scheme


def _netloc_is(found, netloc):
    return urlparse(found).netloc == netloc


def _path_is(found, path):
    return urlparse(found).path == path


def fieldUrlScheme(message, key, scheme) -> bool:  # noqa: N802 (Selinon's names)
    """Whether the URL at ``key`` has the scheme ``scheme``.

    :func:`~urllib.parse.urlparse` gives the scheme in lower case, so
    ``HTTPS://example.com`` has the scheme ``"https"``, and ``"HTTPS"`` matches
    no URL.

    Args:
        message: the node's result.
        key: a key, or a list of keys and indexes leading into the result.
        scheme: the scheme, without ``://``.

    .. versionadded:: 0.1.0
    """
    return check(message, key, _scheme_is, scheme)


def fieldUrlNetloc(message, key, netloc) -> bool:  # noqa: N802
    """Whether the URL at ``key`` names the host ``netloc`` (with its port, if the URL gives one).

    Args:
        message: the node's result.
        key: a key, or a list of keys and indexes leading into the result.
        netloc: the network location, such as ``"example.com:8080"``.

    .. versionadded:: 0.1.0
    """
    return check(message, key, _netloc_is, netloc)


def fieldUrlPath(message, key, path) -> bool:  # noqa: N802
    """Whether the URL at ``key`` has the path ``path``, without its query or fragment.

    Args:
        message: the node's result.
        key: a key, or a list of keys and indexes leading into the result.
        path: the path, such as ``"/orders/7"``.

    .. versionadded:: 0.1.0
    """
    return check(message, key, _path_is, path)


def argsFieldUrlScheme(node_args, key, scheme) -> bool:  # noqa: N802
    """Whether the URL in the flow's arguments at ``key`` has the scheme ``scheme``.

    Args:
        node_args: the flow's arguments.
        key: a key, or a list of keys and indexes leading into them.
        scheme: the scheme, without ``://``.

    .. versionadded:: 0.1.0
    """
    return check(node_args, key, _scheme_is, scheme)


def argsFieldUrlNetloc(node_args, key, netloc) -> bool:  # noqa: N802
    """Whether the URL in the flow's arguments at ``key`` names the host ``netloc``.

    Args:
        node_args: the flow's arguments.
        key: a key, or a list of keys and indexes leading into them.
        netloc: the network location, such as ``"example.com:8080"``.

    .. versionadded:: 0.1.0
    """
    return check(node_args, key, _netloc_is, netloc)


def argsFieldUrlPath(node_args, key, path) -> bool:  # noqa: N802
    """Whether the URL in the flow's arguments at ``key`` has the path ``path``.

    Args:
        node_args: the flow's arguments.
        key: a key, or a list of keys and indexes leading into them.
        path: the path, such as ``"/orders/7"``.

    .. versionadded:: 0.1.0
    """
    return check(node_args, key, _path_is, path)


PREDICATES = (
    fieldUrlScheme, fieldUrlNetloc, fieldUrlPath, argsFieldUrlScheme, argsFieldUrlNetloc, argsFieldUrlPath,
)
