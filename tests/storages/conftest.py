"""Adapters for the storage tests, one of each kind, on the real services.

Redis and PostgreSQL run on the development and CI machines (DESIGN.md). A
service that cannot be reached fails the tests that use it; nothing is skipped.
Each test gets its own Redis key prefix (database 7) or PostgreSQL table, and
removes it afterwards.
"""

import uuid

import pytest

REDIS_URL = "redis://127.0.0.1:6379/7"
POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
KINDS = ("memory", "filesystem", "redis", "sqlite", "postgresql")


def unique(stem):
    """Return ``stem`` followed by a fresh random suffix."""
    return "%s_%s" % (stem, uuid.uuid4().hex[:12])


@pytest.fixture
def memory_storage():
    from flowtrace.storages.memory import InMemoryStorage

    return InMemoryStorage()


@pytest.fixture
def filesystem_storage(tmp_path):
    from flowtrace.storages.filesystem import FilesystemStorage

    return FilesystemStorage(str(tmp_path / "results"))


@pytest.fixture
def redis_storage():
    import redis

    from flowtrace.storages.redis import RedisStorage

    storage = RedisStorage(REDIS_URL, prefix=unique("flowtrace-test"))
    yield storage
    storage.disconnect()
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=storage.prefix + ":*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture
def sqlite_storage(tmp_path):
    from flowtrace.storages.sql import SqlStorage

    storage = SqlStorage("sqlite:///%s" % (tmp_path / "results.db"))
    yield storage
    storage.disconnect()


@pytest.fixture
def postgresql_storage():
    import sqlalchemy

    from flowtrace.storages.sql import SqlStorage

    storage = SqlStorage(POSTGRES_URL, table=unique("flowtrace_test"))
    yield storage
    storage.disconnect()
    engine = sqlalchemy.create_engine(POSTGRES_URL)
    try:
        storage.table.drop(engine, checkfirst=True)
    finally:
        engine.dispose()


@pytest.fixture(params=KINDS)
def storage(request):
    """Each built-in adapter in turn, not connected yet."""
    return request.getfixturevalue(request.param + "_storage")


@pytest.fixture
def connected(storage):
    """Each built-in adapter in turn, connected."""
    storage.connect()
    return storage
