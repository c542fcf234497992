"""Selinon's own storage adapters and caches through flowtrace's StoragePool, on the real services.

Selinon's Redis adapter passes ``charset=`` to redis-py, which redis-py 6
removed, and its PostgreSQL adapter passes ``encoding=`` to SQLAlchemy's
``create_engine()``, which SQLAlchemy 2 removed (and it needs
sqlalchemy-utils and psycopg2). Each test runs where its adapter's own
dependencies are installed (the lowest-versions run for Redis; a SQLAlchemy 1.4
environment for PostgreSQL); on newer libraries the pool's report of the
adapter's failure is checked instead.
"""

import importlib.metadata
import sys
import uuid

import pytest

selinon = pytest.importorskip("selinon")

from flowtrace import Trace  # noqa: E402
from flowtrace.storages import StorageError  # noqa: E402
from flowtrace.storages.base import check_adapter_class  # noqa: E402
from flowtrace.storages.pool import StoragePool  # noqa: E402
from flowtrace.testing import capture_events  # noqa: E402


FLOW, TASK = "orders", "charge"
OLD_REDIS = int(importlib.metadata.version("redis").split(".")[0]) < 6
OLD_SQLALCHEMY = int(importlib.metadata.version("sqlalchemy").split(".")[0]) < 2


def msg(storage_name, task_id):
    return {"flow_name": FLOW, "task_name": TASK, "task_id": task_id, "storage_name": storage_name,
            "storage_task_name": TASK}


class TestSelinonRedis:
    """selinon.storages.redis.Redis, on Redis database 12."""

    def test_accepted_by_the_checks(self):
        """Selinon's adapter class has every method the pool needs."""
        from selinon.storages.redis import Redis

        assert [] == check_adapter_class(Redis)

    @pytest.mark.skipif(not OLD_REDIS, reason="Selinon's Redis adapter passes charset=, which redis-py 6 removed")
    def test_store_retrieve_delete(self):
        """Store, retrieve and delete through the pool give the result back and the pool's events."""
        from selinon.storages.redis import Redis

        task_id = "flowtrace-test-%s" % uuid.uuid4().hex
        pool = StoragePool({"Results": (Redis, {"host": "127.0.0.1", "port": 6379, "db": 12})}, {TASK: "Results"})
        with capture_events() as captured:
            record_id = pool.store(None, FLOW, TASK, task_id, {"paid": True})
            value = pool.retrieve(FLOW, TASK, task_id)
            omitted = pool.store_error(None, FLOW, TASK, task_id, ValueError("declined"))
            pool.delete(FLOW, TASK, task_id)
        pool.disconnect_all()
        assert (task_id, {"paid": True}, False) == (record_id, value, omitted)
        assert [Trace.STORAGE_CONNECT, Trace.STORAGE_STORE, Trace.STORAGE_STORED, Trace.STORAGE_RETRIEVE,
                Trace.STORAGE_RETRIEVED, Trace.STORAGE_OMIT_STORE_ERROR, Trace.STORAGE_DELETE,
                Trace.STORAGE_DELETED] == [event for event, _ in captured]

    @pytest.mark.skipif(OLD_REDIS, reason="redis-py before 6 still takes charset=")
    def test_newer_redis_py_is_a_connect_issue(self):
        """On redis-py 6 and later the adapter's connect() fails, and the pool reports it as STORAGE_ISSUE."""
        from selinon.storages.redis import Redis

        pool = StoragePool({"Results": (Redis, {"host": "127.0.0.1", "db": 12})}, {TASK: "Results"})
        with capture_events() as captured:
            with pytest.raises(StorageError) as caught:
                pool.store(None, FLOW, TASK, "t1", 1)
        assert ("connect", TypeError, [Trace.STORAGE_CONNECT, Trace.STORAGE_ISSUE]) == (
            caught.value.operation, type(caught.value.__cause__), [event for event, _ in captured])


@pytest.mark.skipif(not OLD_SQLALCHEMY, reason="Selinon's PostgreSQL adapter passes encoding= to "
                                               "create_engine(), which SQLAlchemy 2 removed")
class TestSelinonPostgreSQL:
    """selinon.storages.postgresql.PostgreSQL, its ``result`` table in a schema of its own."""

    def test_store_retrieve_delete(self):
        """Store, retrieve and delete through the pool, with Selinon's configuration keys."""
        import sqlalchemy

        from selinon.storages.postgresql import PostgreSQL

        schema = "flowtrace_selinon_%s" % uuid.uuid4().hex[:12]
        admin = sqlalchemy.create_engine("postgresql://postgres@127.0.0.1:5432/test")
        with admin.begin() as connection:
            connection.execute(sqlalchemy.text("CREATE SCHEMA %s" % schema))
        try:
            dsn = "postgresql://postgres@127.0.0.1:5432/test?options=-csearch_path%%3D%s" % schema
            pool = StoragePool({"Results": (PostgreSQL, {"connection_string": dsn, "encoding": "utf-8",
                                                         "echo": False})}, {TASK: "Results"})
            with capture_events() as captured:
                record_id = pool.store(None, FLOW, TASK, "t1", {"paid": True})
                value = pool.retrieve(FLOW, TASK, "t1")
                pool.delete(FLOW, TASK, "t1")
            pool.disconnect_all()
            assert (1, {"paid": True}) == (record_id, value)
            assert [Trace.STORAGE_CONNECT, Trace.STORAGE_STORE, Trace.STORAGE_STORED, Trace.STORAGE_RETRIEVE,
                    Trace.STORAGE_RETRIEVED, Trace.STORAGE_DELETE, Trace.STORAGE_DELETED] == [
                        event for event, _ in captured]
        finally:
            with admin.begin() as connection:
                connection.execute(sqlalchemy.text("DROP SCHEMA %s CASCADE" % schema))
            admin.dispose()


class TestSelinonCaches:
    """selinon.caches through the pool: Selinon's CacheMissError is a miss."""

    def test_selinon_lru_miss_then_hit(self):
        """A storage whose cache is Selinon's LRU reads the storage once, then hits the cache."""
        from selinon.caches import LRU

        from flowtrace.storages.memory import InMemoryStorage

        storage = InMemoryStorage()
        pool = StoragePool({"Results": storage}, {TASK: "Results"}, caches={"Results": LRU(max_cache_size=4)})
        pool.store(None, FLOW, TASK, "t1", {"n": 1})
        with capture_events() as captured:
            first, second = pool.retrieve(FLOW, TASK, "t1"), pool.retrieve(FLOW, TASK, "t1")
        cache = {"flow_name": FLOW, "task_name": TASK, "task_id": "t1", "storage_name": "Results"}
        assert ({"n": 1}, {"n": 1}, [
            (Trace.TASK_RESULT_CACHE_GET, cache),
            (Trace.TASK_RESULT_CACHE_MISS, {**cache, "what": "the result is not in the result cache"}),
            (Trace.STORAGE_RETRIEVE, msg("Results", "t1")), (Trace.STORAGE_RETRIEVED, msg("Results", "t1")),
            (Trace.TASK_RESULT_CACHE_ADD, cache),
            (Trace.TASK_RESULT_CACHE_GET, cache), (Trace.TASK_RESULT_CACHE_HIT, cache),
        ]) == (first, second, captured)


if __name__ == "__main__":  # pragma: no cover - for running in another environment by hand
    sys.exit(pytest.main([__file__, "-q"]))
