"""The predicates that read the world outside the flow: the dispatcher's environment variables, and a web server.

They take neither ``message`` nor ``node_args``, and are asked each time the
dispatcher evaluates the condition, in the dispatcher's process.
"""

from __future__ import annotations

import http.client
import os

# Seconds httpStatus waits to connect, and then for the answer. Selinon waits
# without a limit, so a server that never answers would hold the dispatcher.
_TIMEOUT = 10.0


def envExist(env) -> bool:  # noqa: N802 (Selinon's names)
    """Whether the environment variable ``env`` is set, even to an empty string.

    Args:
        env: the variable's name. A name that is not a string is false
            (Selinon raises :class:`TypeError`).

    .. versionadded:: 0.1.0
    """
    try:
        return env in os.environ
    except Exception:  # os.environ refuses keys that are not strings
        return False


def envEqual(env, value) -> bool:  # noqa: N802
    """Whether the environment variable ``env`` is set to exactly ``value``.

    Args:
        env: the variable's name. A name that is not a string is false
            (Selinon raises :class:`TypeError`).
        value: the text compared with; environment variables are strings, so
            a number in YAML (``value: 1``) never matches: quote it (``"1"``).

    .. versionadded:: 0.1.0
    """
    try:
        return env in os.environ and os.environ[env] == value
    except Exception:
        return False


def httpStatus(host, path, status) -> bool:  # noqa: N802
    """Whether a plain HTTP ``HEAD`` request for ``path`` on ``host`` is answered with ``status``.

    Any failure (the host cannot be resolved or reached, no answer within
    10 seconds, a malformed answer) is false. The request is
    made anew each time the condition is evaluated, and the connection is
    closed afterwards.

    Args:
        host: the host, with ``:port`` when it is not 80 (``"example.com:8080"``);
            there is no HTTPS.
        path: the path asked for, such as ``"/health"``.
        status: the status code expected, a number (``200``, not ``"200"``).

    .. versionadded:: 0.1.0
    """
    try:
        connection = http.client.HTTPConnection(host, timeout=_TIMEOUT)
        try:
            connection.request("HEAD", path)
            return connection.getresponse().status == status
        finally:
            connection.close()
    except Exception:  # name resolution, refused connections, timeouts, bad answers: not the status
        return False


PREDICATES = (envExist, envEqual, httpStatus)
