"""``RedisStorage``: results as JSON in Redis hashes under a key prefix.

Needs the ``redis`` package: ``pip install 'flowtrace[redis]'``.
"""

from __future__ import annotations

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

    Args:
        url: the Redis URL, ``redis://[:password@]host:port/db`` (or
            ``rediss://``, ``unix://``). ``{NAME}`` is replaced by the
            environment variable ``NAME``.
        prefix: the first part of every key, so that several flowtrace
            setups can share a database.
        expire: seconds after which a stored task's key expires; ``None``
            keeps results until they are deleted.
        socket_timeout: seconds to wait for Redis, for connecting and for each
            command, before the operation fails (and the task is retried).

    Raises:
        ValueError: for an empty prefix, a negative expiry or timeout, or a
            URL naming an unset variable.
        flowtrace.MissingDependency: when the module is imported without the
            ``redis`` package.

    .. versionadded:: 0.1.0
    """

    def __init__(self, url: str = "redis://localhost:6379/0", prefix: str = "flowtrace:result",
                 expire: float | None = None, socket_timeout: float = 5.0) -> None:
        if not isinstance(url, str) or not url:
            raise ValueError("RedisStorage needs a Redis URL, got %r" % (url,))
        if not isinstance(prefix, str) or not prefix:
            raise ValueError("RedisStorage needs a non-empty key prefix, got %r" % (prefix,))
        if expire is not None and not expire > 0:
            raise ValueError("RedisStorage expire must be a positive number of seconds or None, got %r" % (expire,))
        if not socket_timeout > 0:
            raise ValueError("RedisStorage socket_timeout must be a positive number of seconds, got %r"
                             % (socket_timeout,))
        self.url = expand_env(url, "the RedisStorage URL")
        self.prefix = prefix
        self.expire = expire
        self.socket_timeout = socket_timeout
        self._client: redis.Redis | None = None

    def connect(self) -> None:
        """Open a client for the URL and ping the server, so that a bad URL or a server that is down fails here.

        .. versionadded:: 0.1.0
        """
        client = redis.Redis.from_url(self.url, socket_timeout=self.socket_timeout,
                                      socket_connect_timeout=self.socket_timeout)
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
        return loads(data)

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
        return loads(data)

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
