"""Tests for flowtrace.storages.sql, on SQLite in a temporary folder and PostgreSQL at 127.0.0.1:5432."""

import socket

import pytest
import sqlalchemy

from flowtrace.storages.sql import SqlStorage
from tests.storages.conftest import POSTGRES_URL, unique

TASK_ID = "5f1c0b9e-6d0c-4c43-9a57-2f0c2d1f0a11"


@pytest.fixture(params=["sqlite", "postgresql"])
def sql_storage(request):
    """SqlStorage on each database in turn, not connected yet."""
    return request.getfixturevalue(request.param + "_storage")


def raw_rows(storage):
    """The table's rows as (flow_name, task_name, task_id, result text, error is NULL), read without the adapter."""
    engine = sqlalchemy.create_engine(storage.url)
    table = storage.table.name
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(sqlalchemy.text(
                "SELECT flow_name, task_name, task_id, CAST(result AS TEXT), error IS NULL FROM %s ORDER BY task_id"
                % table))]
    finally:
        engine.dispose()


class TestSqlStorage:
    """SqlStorage."""

    def test_table_is_created_with_its_columns(self, sql_storage):
        """connect() creates the table with the documented columns and primary key."""
        sql_storage.connect()
        inspector = sqlalchemy.inspect(sql_storage._engine)
        name = sql_storage.table.name
        assert (["flow_name", "task_name", "task_id", "result", "error", "created_at"],
                ["flow_name", "task_name", "task_id"]) == (
            [column["name"] for column in inspector.get_columns(name)],
            inspector.get_pk_constraint(name)["constrained_columns"])

    def test_an_existing_table_is_reused(self, sql_storage):
        """A second adapter on the same table connects and reads what the first stored."""
        sql_storage.connect()
        sql_storage.store(None, "orders", "charge", TASK_ID, [1, 2])
        second = SqlStorage(sql_storage.url, table=sql_storage.table.name)
        second.connect()
        try:
            assert [1, 2] == second.retrieve("orders", "charge", TASK_ID)
        finally:
            second.disconnect()

    def test_rows_as_stored(self, sql_storage):
        """A result of None is JSON null, a task with only an error has a SQL NULL result."""
        sql_storage.connect()
        sql_storage.store(None, "orders", "charge", "1", None)
        sql_storage.store(None, "orders", "charge", "2", "text")
        sql_storage.store_error(None, "orders", "charge", "3", ValueError("x"))
        assert [("orders", "charge", "1", "null", True), ("orders", "charge", "2", '"text"', True),
                ("orders", "charge", "3", None, False)] == raw_rows(sql_storage)

    def test_store_returns_the_task_id(self, sql_storage):
        """store() and store_error() return the task id as the record id."""
        sql_storage.connect()
        assert [TASK_ID, TASK_ID] == [sql_storage.store(None, "orders", "charge", TASK_ID, 1),
                                      sql_storage.store_error(None, "orders", "charge", TASK_ID, ValueError("x"))]

    def test_connect_to_a_closed_port_fails_cleanly(self):
        """connect() to a PostgreSQL port nothing listens on raises and leaves the adapter disconnected."""
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        storage = SqlStorage("postgresql+psycopg://postgres@127.0.0.1:%d/test" % port, table=unique("never"),
                             engine_options={"connect_args": {"connect_timeout": 2}})
        with pytest.raises(sqlalchemy.exc.OperationalError):
            storage.connect()
        assert False is storage.is_connected()

    @pytest.mark.parametrize("options, message", [
        ({"url": ""}, "SqlStorage needs a SQLAlchemy URL as url or connection_string, got an empty string"),
        ({"url": POSTGRES_URL, "table": ""}, "SqlStorage needs a table name, got ''"),
    ])
    def test_bad_options_are_named(self, options, message):
        """A bad option raises ValueError naming it and its value."""
        with pytest.raises(ValueError) as caught:
            SqlStorage(**options)
        assert message == str(caught.value)


class TestSelinonKeys:
    """SqlStorage with Selinon's PostgreSQL configuration keys."""

    def test_selinon_connection_string_on_postgresql(self):
        """connection_string ``postgresql://`` without driver runs on psycopg 3 when psycopg2 is missing."""
        import importlib.util

        import sqlalchemy

        from tests.storages.conftest import unique

        storage = SqlStorage(connection_string="postgresql://postgres@127.0.0.1:5432/test", encoding="utf8",
                             echo=False, table=unique("flowtrace_test_selinon"))
        driver = "postgresql" if importlib.util.find_spec("psycopg2") else "postgresql+psycopg"
        storage.connect()
        try:
            storage.store(None, "orders", "charge", "t1", {"paid": True})
            assert (driver + "://postgres@127.0.0.1:5432/test", {"paid": True}) == (
                storage.url, storage.retrieve("orders", "charge", "t1"))
        finally:
            storage.disconnect()
            engine = sqlalchemy.create_engine(storage.url)
            storage.table.drop(engine, checkfirst=True)
            engine.dispose()

    @pytest.mark.parametrize("options, message", [
        ({"url": "sqlite://", "connection_string": "postgresql://u:s3cret@h/d"},
         "SqlStorage takes either url or connection_string (Selinon's name for it), not both"),
        ({"connection_string": "sqlite://", "encoding": "latin-1"},
         "SqlStorage encoding must be UTF-8, which SQLAlchemy 2 always uses, got 'latin-1'"),
        ({}, "SqlStorage needs a SQLAlchemy URL as url or connection_string, got NoneType"),
    ])
    def test_conflicts_are_named(self, options, message):
        """Conflicting or bad keys raise ValueError naming them, never the URL."""
        with pytest.raises(ValueError) as caught:
            SqlStorage(**options)
        assert message == str(caught.value)
