"""``RedisStorage``: results as JSON in Redis hashes under a key prefix.

Needs the ``redis`` package: ``pip install 'flowtrace[redis]'``.
"""

from __future__ import annotations

import codecs
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from flowtrace._deps import require
from flowtrace.storages.base import (DataStorage, ExcInfo, check_connected, dumps, error_record, expand_env, loads,
                                     not_found)

if TYPE_CHECKING:
    import redis
else:
    redis = require("redis", "redis", "flowtrace.storages.redis")

__all__ = ["RedisStorage"]


class RedisStorage(DataStorage):
    """Keep each task's result and error in one Redis hash.

    The key is ``PREFIX:FLOW_NAME:TASK_NAME:TASK_ID`` (each part
    percent-encoded if it holds a ``:``), with the fields ``result`` and
    ``error``, each JSON text. Deleting a task deletes the key.

    The connection is given either as ``url`` or, as Selinon's Redis adapter
    takes it, as ``host``, ``port``, ``db``, ``password`` and
    ``unix_socket_path`` (or a ready ``connection_pool``); each string may
    name environment variables as ``{NAME}``. Neither given means
    ``redis://localhost:6379/0``.

    Args:
        url: the Redis URL, ``redis://[:password@]host:port/db`` (or
            ``rediss://``, ``unix://``).
        prefix: the first part of every key, so that several flowtrace
            setups can share a database.
        expire: seconds after which a stored task's key expires; ``None``
            keeps results until they are deleted.
        socket_timeout: seconds to wait for Redis, for connecting and for each
            command, before the operation fails (and the task is retried);
            ``None`` waits for ever, as Selinon's default does.
        host: Selinon's key: the Redis host.
        port: Selinon's key: the port (default 6379).
        db: Selinon's key: the database number (default 0).
        password: Selinon's key: the password; never logged or put in an
            error message.
        unix_socket_path: Selinon's key: a Unix socket to connect to instead
            of ``host`` and ``port``.
        connection_pool: Selinon's key: a :class:`redis.ConnectionPool` to
            use, which then holds every connection setting.
        charset: Selinon's key for ``encoding``.
        encoding: the text encoding of the stored JSON (default UTF-8).
        errors: how to treat text that does not fit the encoding, as for
            :meth:`str.encode` (default ``"strict"``).

    Raises:
        ValueError: for an empty prefix, a negative expiry or timeout, a
            string naming an unset variable, an unknown encoding, or
            settings that conflict (``url`` with ``host``, ``port``, ``db``,
            ``password`` or ``unix_socket_path``; ``connection_pool`` with
            any of them; ``charset`` and ``encoding`` that differ).
        flowtrace.MissingDependency: when the module is imported without the
            ``redis`` package.

    .. versionadded:: 0.1.0
    """

    def __init__(self, url: str | None = None, prefix: str = "flowtrace:result", expire: float | None = None,
                 socket_timeout: float | None = 5.0, *, host: str | None = None, port: int | str | None = None,
                 db: int | str | None = None, password: str | None = None, unix_socket_path: str | None = None,
                 connection_pool: redis.ConnectionPool | None = None, charset: str | None = None,
                 encoding: str | None = None, errors: str | None = None) -> None:
        if url is not None and (not isinstance(url, str) or not url):
            raise ValueError("RedisStorage needs a Redis URL, got %r" % (url,))
        if not isinstance(prefix, str) or not prefix:
            raise ValueError("RedisStorage needs a non-empty key prefix, got %r" % (prefix,))
        if expire is not None and not expire > 0:
            raise ValueError("RedisStorage expire must be a positive number of seconds or None, got %r" % (expire,))
        if socket_timeout is not None and not socket_timeout > 0:
            raise ValueError("RedisStorage socket_timeout must be a positive number of seconds or None, got %r"
                             % (socket_timeout,))
        parts = {"host": host, "port": port, "db": db, "password": password, "unix_socket_path": unix_socket_path}
        given = [name for name, value in parts.items() if value is not None]
        if url is not None and given:
            raise ValueError("RedisStorage takes either url or %s, not both" % ", ".join(given))
        if connection_pool is not None and (url is not None or given):
            raise ValueError("RedisStorage takes either connection_pool or %s, not both"
                             % ", ".join((["url"] if url is not None else []) + given))
        self.encoding = _encoding(charset, encoding)
        self.errors = errors or "strict"
        self.prefix = prefix
        self.expire = expire
        self.socket_timeout = socket_timeout
        self.connection_pool = connection_pool
        self.url = expand_env(url, "the RedisStorage URL") if url is not None else None
        self._settings = _settings(parts)
        self._client: redis.Redis | None = None

    def connect(self) -> None:
        """Open a client for the URL and ping the server, so that a bad URL or a server that is down fails here.

        .. versionadded:: 0.1.0
        """
        options: dict[str, Any] = {"encoding": self.encoding, "encoding_errors": self.errors}
        if self.connection_pool is not None:
            client = redis.Redis(connection_pool=self.connection_pool)
        else:
            options.update(socket_timeout=self.socket_timeout, socket_connect_timeout=self.socket_timeout)
            if self.url is not None:
                client = redis.Redis.from_url(self.url, **options)
            else:
                client = redis.Redis(**self._settings, **options)
        try:
            # redis-py connects on the first command; ping now, so that a
            # server that is down fails connect() and not some later call.
            client.ping()
        except BaseException:
            client.close()
            raise
        self._client = client

    def is_connected(self) -> bool:
        """Return whether a client is open.

        .. versionadded:: 0.1.0
        """
        return self._client is not None

    def disconnect(self) -> None:
        """Close the client.

        .. versionadded:: 0.1.0
        """
        client, self._client = self._client, None
        if client is not None:
            client.close()

    def key(self, flow_name: str, task_name: str, task_id: str) -> str:
        """Return the Redis key of a task's hash.

        .. versionadded:: 0.1.0
        """
        return ":".join([self.prefix] + [quote(str(part), safe="") for part in (flow_name, task_name, task_id)])

    def retrieve(self, flow_name: str, task_name: str, task_id: str) -> Any:
        """Return the ``result`` field of the task's hash, decoded from JSON.

        Raises:
            flowtrace.storages.MissingResult: if the hash has no result.

        .. versionadded:: 0.1.0
        """
        data = self._connected_client().hget(self.key(flow_name, task_name, task_id), "result")
        if data is None:
            raise not_found(flow_name, task_name, task_id)
        return loads(data.decode(self.encoding, self.errors) if isinstance(data, bytes) else data)

    def store(self, node_args: Any, flow_name: str, task_name: str, task_id: str, result: Any) -> str:
        """Set the ``result`` field of the task's hash to the result as JSON.

        Returns:
            The hash's key.

        .. versionadded:: 0.1.0
        """
        check_connected(self)
        return self._set(flow_name, task_name, task_id, "result", dumps(result))

    def store_error(self, node_args: Any, flow_name: str, task_name: str, task_id: str, exc_info: ExcInfo) -> str:
        """Set the ``error`` field of the task's hash to :func:`~flowtrace.storages.base.error_record` as JSON.

        Returns:
            The hash's key.

        .. versionadded:: 0.1.0
        """
        check_connected(self)
        return self._set(flow_name, task_name, task_id, "error", dumps(error_record(exc_info)))

    def retrieve_error(self, flow_name: str, task_name: str, task_id: str) -> dict[str, Any]:
        """Return the error stored for a failed task, as :func:`~flowtrace.storages.base.error_record` made it.

        Raises:
            flowtrace.storages.MissingResult: if no error is stored for the task.

        .. versionadded:: 0.1.0
        """
        data = self._connected_client().hget(self.key(flow_name, task_name, task_id), "error")
        if data is None:
            raise not_found(flow_name, task_name, task_id, "error")
        return loads(data.decode(self.encoding, self.errors) if isinstance(data, bytes) else data)

    def delete(self, flow_name: str, task_name: str, task_id: str) -> None:
        """Delete the task's hash: its result and its error.

        Raises:
            flowtrace.storages.MissingResult: if there is no hash for the task.

        .. versionadded:: 0.1.0
        """
        if not self._connected_client().delete(self.key(flow_name, task_name, task_id)):
            raise not_found(flow_name, task_name, task_id)

    def _connected_client(self) -> redis.Redis:
        check_connected(self)
        client = self._client
        assert client is not None  # check_connected() raised otherwise
        return client

    def _set(self, flow_name: str, task_name: str, task_id: str, field: str, text: str) -> str:
        client = self._connected_client()
        key = self.key(flow_name, task_name, task_id)
        if self.expire is None:
            client.hset(key, field, text)
        else:
            # One transaction, so that a key never exists without its expiry.
            pipe = client.pipeline(transaction=True)
            pipe.hset(key, field, text)
            pipe.pexpire(key, int(self.expire * 1000))
            pipe.execute()
        return key


def _encoding(charset: str | None, encoding: str | None) -> str:
    names = [name for name in (charset, encoding) if name is not None]
    try:
        found = {codecs.lookup(name).name for name in names}
    except LookupError:
        raise ValueError("RedisStorage: unknown encoding %r" % ((charset if encoding is None else encoding),)) from None
    if len(found) > 1:
        raise ValueError("RedisStorage takes charset (Selinon's name) or encoding, not both: %r and %r"
                         % (charset, encoding))
    return found.pop() if found else "utf-8"


def _settings(parts: dict[str, Any]) -> dict[str, Any]:
    """redis.Redis's keyword arguments from Selinon's keys, each string's ``{NAME}`` expanded."""
    settings: dict[str, Any] = {"host": "localhost", "port": 6379, "db": 0}
    for name, value in parts.items():
        if value is None:
            continue
        if isinstance(value, str):
            # Named without its value, which for the password is a secret.
            value = expand_env(value, "the RedisStorage %s" % name)
        if name in ("port", "db"):
            try:
                value = int(value)
            except (TypeError, ValueError):
                raise ValueError("RedisStorage %s must be an integer, got %r" % (name, value)) from None
        settings[name] = value
    return settings
