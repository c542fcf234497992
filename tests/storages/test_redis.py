"""Tests for flowtrace.storages.redis, on the Redis server at 127.0.0.1:6379 (database 7)."""

import socket

import pytest
import redis

from flowtrace.storages.redis import RedisStorage
from tests.storages.conftest import REDIS_URL

TASK_ID = "5f1c0b9e-6d0c-4c43-9a57-2f0c2d1f0a11"


def closed_port():
    """Return a local TCP port that nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def client():
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    yield client
    client.close()


class TestRedisStorage:
    """RedisStorage."""

    def test_key_layout_and_fields(self, redis_storage, client):
        """A task is one hash at PREFIX:FLOW:TASK:ID whose ``result`` field is the JSON text; store() returns the key."""
        redis_storage.connect()
        record_id = redis_storage.store(None, "orders", "charge", TASK_ID, {"ok": True})
        key = "%s:orders:charge:%s" % (redis_storage.prefix, TASK_ID)
        assert (key, {"result": '{"ok":true}'}, -1) == (record_id, client.hgetall(key), client.ttl(key))

    def test_colons_in_names_are_encoded(self, redis_storage):
        """A ':' inside a name is percent-encoded in the key."""
        assert "%s:a%%3Ab:c:1" % redis_storage.prefix == redis_storage.key("a:b", "c", "1")

    def test_expire_sets_a_ttl(self, redis_storage, client):
        """With ``expire``, the task's key expires after that many seconds."""
        storage = RedisStorage(REDIS_URL, prefix=redis_storage.prefix, expire=600)
        storage.connect()
        try:
            key = storage.store(None, "orders", "charge", TASK_ID, 1)
            assert True is (590 <= client.ttl(key) <= 600)
        finally:
            storage.disconnect()

    def test_connect_to_a_closed_port_fails_cleanly(self):
        """connect() to a port nothing listens on raises redis's ConnectionError and leaves the adapter disconnected."""
        storage = RedisStorage("redis://127.0.0.1:%d/7" % closed_port(), socket_timeout=2)
        with pytest.raises(redis.exceptions.ConnectionError):
            storage.connect()
        assert False is storage.is_connected()

    @pytest.mark.parametrize("options, message", [
        ({"url": ""}, "RedisStorage needs a Redis URL, got ''"),
        ({"prefix": ""}, "RedisStorage needs a non-empty key prefix, got ''"),
        ({"expire": 0}, "RedisStorage expire must be a positive number of seconds or None, got 0"),
        ({"socket_timeout": -1}, "RedisStorage socket_timeout must be a positive number of seconds or None, got -1"),
    ])
    def test_bad_options_are_named(self, options, message):
        """A bad option raises ValueError naming it and its value."""
        with pytest.raises(ValueError) as caught:
            RedisStorage(**options)
        assert message == str(caught.value)

    def test_url_expands_environment_variables(self, monkeypatch):
        """``{NAME}`` in the URL is the environment variable NAME."""
        monkeypatch.setenv("FLOWTRACE_TEST_REDIS_HOST", "10.0.0.9")
        assert "redis://10.0.0.9:6379/0" == RedisStorage("redis://{FLOWTRACE_TEST_REDIS_HOST}:6379/0").url


class TestSelinonKeys:
    """RedisStorage with Selinon's Redis configuration keys."""

    def test_host_port_db_password_from_the_environment(self, monkeypatch, client):
        """host, port and db (strings with ``{NAME}`` too) reach the server given; charset is Selinon's encoding."""
        monkeypatch.setenv("FLOWTRACE_TEST_REDIS_PORT", "6379")
        storage = RedisStorage(host="127.0.0.1", port="{FLOWTRACE_TEST_REDIS_PORT}", db="7", charset="utf8",
                               prefix="flowtrace-test-selinon-keys")
        storage.connect()
        try:
            key = storage.store(None, "orders", "charge", TASK_ID, {"name": "Zoë"})
            assert ({"result": '{"name":"Zoë"}'}, {"name": "Zoë"}, "utf-8") == (
                client.hgetall(key), storage.retrieve("orders", "charge", TASK_ID), storage.encoding)
        finally:
            client.delete("flowtrace-test-selinon-keys:orders:charge:%s" % TASK_ID)
            storage.disconnect()

    def test_connection_pool(self):
        """A ready redis ConnectionPool is used as it is."""
        pool = redis.ConnectionPool.from_url(REDIS_URL)
        storage = RedisStorage(connection_pool=pool, prefix="flowtrace-test-selinon-pool")
        storage.connect()
        try:
            assert pool is storage._client.connection_pool
        finally:
            storage.disconnect()
            pool.disconnect()

    @pytest.mark.parametrize("options, message", [
        ({"url": REDIS_URL, "host": "h", "password": "s3cret"},
         "RedisStorage takes either url or host, password, not both"),
        ({"connection_pool": object(), "db": 3}, "RedisStorage takes either connection_pool or db, not both"),
        ({"charset": "utf-8", "encoding": "latin-1"},
         "RedisStorage takes charset (Selinon's name) or encoding, not both: 'utf-8' and 'latin-1'"),
        ({"encoding": "klingon"}, "RedisStorage: unknown encoding 'klingon'"),
        ({"port": "x"}, "RedisStorage port must be an integer, got 'x'"),
        ({"password": "{FLOWTRACE_TEST_UNSET_PASSWORD}"},
         "the RedisStorage password refers to the environment variable FLOWTRACE_TEST_UNSET_PASSWORD, which is not set"),
    ])
    def test_conflicts_are_named_without_secrets(self, options, message):
        """Conflicting or bad keys raise ValueError naming the keys, never the password."""
        with pytest.raises(ValueError) as caught:
            RedisStorage(**options)
        assert (message, False) == (str(caught.value), "s3cret" in str(caught.value))

    def test_defaults_to_localhost(self):
        """Neither url nor host: localhost:6379, database 0, as in Selinon."""
        storage = RedisStorage()
        assert (None, {"host": "localhost", "port": 6379, "db": 0}) == (storage.url, storage._settings)
