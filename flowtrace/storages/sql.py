"""``SqlStorage``: results in one SQL table through SQLAlchemy Core (SQLite, PostgreSQL).

Needs SQLAlchemy 2, and for PostgreSQL a driver: ``pip install 'flowtrace[sql]'``.
"""

from __future__ import annotations

import codecs
import datetime
import importlib.util
import os
import threading
from typing import TYPE_CHECKING, Any

from flowtrace._deps import require
from flowtrace.storages.base import (DataStorage, ExcInfo, check_connected, dumps, error_record, expand_env, loads,
                                     not_found)

if TYPE_CHECKING:
    from collections.abc import Callable

    import sqlalchemy as sa
    from sqlalchemy.dialects import postgresql, sqlite
else:
    sa = require("sqlalchemy", "sql", "flowtrace.storages.sql")

__all__ = ["SqlStorage"]


class SqlStorage(DataStorage):
    """Keep results in a table with one row per task, created if it is missing.

    The table has the columns ``flow_name``, ``task_name`` and ``task_id``
    (together the primary key), ``result`` and ``error`` (``JSONB`` on
    PostgreSQL, JSON text elsewhere) and ``created_at`` (UTC). A row holds a result, an error or
    both; ``result`` is SQL ``NULL`` when no result was stored, and JSON
    ``null`` when the task returned ``None``. Storing again for the same task
    replaces the value in one statement (``INSERT ... ON CONFLICT DO
    UPDATE``), so retried and redelivered tasks do not collide.

    Tested with SQLite and with PostgreSQL through psycopg 3; other databases
    SQLAlchemy supports fall back to an update followed by an insert.

    Args:
        url: a SQLAlchemy URL: ``sqlite:///path/to/results.db`` or
            ``postgresql+psycopg://user:password@host:5432/database``.
            ``{NAME}`` is replaced by the environment variable ``NAME``.
        table: the table name.
        schema: the schema holding the table; the database's default if
            ``None``.
        echo: log every SQL statement (SQLAlchemy's ``echo``).
        engine_options: more keyword arguments for
            :func:`sqlalchemy.create_engine`, such as ``pool_size``.
        connection_string: Selinon's key for ``url``. A Selinon URL
            ``postgresql://...`` names no driver, which SQLAlchemy reads as
            psycopg2; when psycopg2 is not installed but psycopg 3 (what
            ``flowtrace[sql]`` installs) is, psycopg 3 is used.
        encoding: Selinon's key. SQLAlchemy 2 always talks UTF-8 to the
            database, so only UTF-8 (in any spelling) is accepted.

    Raises:
        ValueError: for an empty URL or table name, a URL naming an unset
            variable, both ``url`` and ``connection_string``, or an encoding
            other than UTF-8.
        flowtrace.MissingDependency: when the module is imported without
            SQLAlchemy.

    .. versionadded:: 0.1.0
    """

    def __init__(self, url: str | None = None, table: str = "flowtrace_results", schema: str | None = None,
                 echo: bool = False, engine_options: dict[str, Any] | None = None, *,
                 connection_string: str | None = None, encoding: str = "utf-8") -> None:
        if url is not None and connection_string is not None:
            raise ValueError("SqlStorage takes either url or connection_string (Selinon's name for it), not both")
        if url is None:
            url = connection_string
        if not isinstance(url, str) or not url:
            # Only the type: a wrong value may still hold a password.
            raise ValueError("SqlStorage needs a SQLAlchemy URL as url or connection_string, got %s"
                             % ("an empty string" if url == "" else type(url).__name__))
        if not isinstance(table, str) or not table:
            raise ValueError("SqlStorage needs a table name, got %r" % (table,))
        try:
            utf8 = codecs.lookup(encoding).name == "utf-8"
        except (LookupError, TypeError):
            utf8 = False
        if not utf8:
            raise ValueError("SqlStorage encoding must be UTF-8, which SQLAlchemy 2 always uses, got %r" % (encoding,))
        self.url = _with_driver(expand_env(url, "the SqlStorage URL"))
        self.echo = bool(echo)
        self.engine_options = dict(engine_options or {})
        self.table = _make_table(table, schema)
        self._engine: sa.Engine | None = None
        self._pid: int | None = None
        self._lock = threading.Lock()

    def connect(self) -> None:
        """Create the engine, check the database answers and create the table if it is missing.

        .. versionadded:: 0.1.0
        """
        options = {"pool_pre_ping": True, **self.engine_options}
        engine = sa.create_engine(self.url, echo=self.echo, json_serializer=dumps, json_deserializer=loads, **options)
        try:
            try:
                self.table.metadata.create_all(engine, checkfirst=True)
            except sa.exc.SQLAlchemyError:
                # Another process may have created it between the check and
                # the CREATE; only a table that is still missing is an error.
                if not sa.inspect(engine).has_table(self.table.name, schema=self.table.schema):
                    raise
        except BaseException:
            engine.dispose()
            raise
        self._engine, self._pid = engine, os.getpid()

    def is_connected(self) -> bool:
        """Return whether an engine is open.

        .. versionadded:: 0.1.0
        """
        return self._engine is not None

    def disconnect(self) -> None:
        """Dispose of the engine and its connections.

        .. versionadded:: 0.1.0
        """
        engine, self._engine = self._engine, None
        if engine is not None:
            engine.dispose()

    def retrieve(self, flow_name: str, task_name: str, task_id: str) -> Any:
        """Return the ``result`` column of the task's row.

        Raises:
            flowtrace.storages.MissingResult: if the row or its result is missing.

        .. versionadded:: 0.1.0
        """
        return self._read(flow_name, task_name, task_id, "result")

    def retrieve_error(self, flow_name: str, task_name: str, task_id: str) -> dict[str, Any]:
        """Return the error stored for a failed task, as :func:`~flowtrace.storages.base.error_record` made it.

        Raises:
            flowtrace.storages.MissingResult: if no error is stored for the task.

        .. versionadded:: 0.1.0
        """
        return self._read(flow_name, task_name, task_id, "error")

    def store(self, node_args: Any, flow_name: str, task_name: str, task_id: str, result: Any) -> str:
        """Insert or update the task's row with the result; a value JSON cannot hold is refused first.

        Returns:
            The task id.

        .. versionadded:: 0.1.0
        """
        dumps(result)  # refuse what JSON cannot hold before the database sees it
        self._write(flow_name, task_name, task_id, "result", result)
        return task_id

    def store_error(self, node_args: Any, flow_name: str, task_name: str, task_id: str, exc_info: ExcInfo) -> str:
        """Insert or update the task's row with :func:`~flowtrace.storages.base.error_record` of the exception.

        Returns:
            The task id.

        .. versionadded:: 0.1.0
        """
        self._write(flow_name, task_name, task_id, "error", error_record(exc_info))
        return task_id

    def delete(self, flow_name: str, task_name: str, task_id: str) -> None:
        """Delete the task's row: its result and its error.

        Raises:
            flowtrace.storages.MissingResult: if there is no row for the task.

        .. versionadded:: 0.1.0
        """
        engine = self._engine_here()
        with engine.begin() as connection:
            deleted = connection.execute(sa.delete(self.table).where(*self._match(flow_name, task_name, task_id)))
        if not deleted.rowcount:
            raise not_found(flow_name, task_name, task_id)

    # ---------------------------------------------------------------------

    def _engine_here(self) -> sa.Engine:
        check_connected(self)
        engine = self._engine
        assert engine is not None  # check_connected() raised otherwise
        if self._pid != os.getpid():
            # A forked child must not use the parent's pooled connections
            # (SQLAlchemy's "Using Connection Pools with Multiprocessing").
            with self._lock:
                if self._pid != os.getpid():
                    engine.dispose(close=False)
                    self._pid = os.getpid()
        return engine

    def _match(self, flow_name: str, task_name: str, task_id: str) -> tuple[sa.ColumnElement[bool], ...]:
        columns = self.table.c
        return columns.flow_name == flow_name, columns.task_name == task_name, columns.task_id == task_id

    def _read(self, flow_name: str, task_name: str, task_id: str, column_name: str) -> Any:
        engine = self._engine_here()
        column = self.table.c[column_name]
        query = sa.select(column, column.is_(None)).where(*self._match(flow_name, task_name, task_id))
        with engine.connect() as connection:
            row = connection.execute(query).first()
        if row is None or row[1]:
            raise not_found(flow_name, task_name, task_id, column_name)
        return row[0]

    def _write(self, flow_name: str, task_name: str, task_id: str, column_name: str, value: Any) -> None:
        engine = self._engine_here()
        other = "error" if column_name == "result" else "result"
        row = {"flow_name": flow_name, "task_name": task_name, "task_id": task_id, column_name: value,
               other: sa.null(), "created_at": datetime.datetime.now(datetime.timezone.utc)}
        dialect = engine.dialect.name
        with engine.begin() as connection:
            if dialect in ("postgresql", "sqlite"):
                insert = _dialect_insert(dialect)(self.table).values(**row)
                statement = insert.on_conflict_do_update(
                    index_elements=["flow_name", "task_name", "task_id"],
                    set_={column_name: insert.excluded[column_name]},
                )
                connection.execute(statement)
            else:
                update = sa.update(self.table).where(*self._match(flow_name, task_name, task_id))
                updated = connection.execute(update.values(**{column_name: value}))
                if not updated.rowcount:
                    connection.execute(sa.insert(self.table).values(**row))


def _with_driver(url: str) -> str:
    """A Selinon ``postgresql://`` URL, on psycopg 3 when psycopg2 is missing; any other URL as it is."""
    scheme, sep, rest = url.partition("://")
    if sep and scheme == "postgresql" and importlib.util.find_spec("psycopg2") is None and (
            importlib.util.find_spec("psycopg") is not None):
        return "postgresql+psycopg://" + rest
    return url


def _dialect_insert(dialect: str) -> Callable[[sa.Table], postgresql.Insert | sqlite.Insert]:
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return postgresql_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert


class _JsonText(sa.types.TypeDecorator):
    """JSON kept as TEXT, encoded by :func:`dumps` and decoded by :func:`loads`.

    Not SQLAlchemy's ``JSON`` type: SQLite gives a column declared ``JSON``
    numeric affinity, and then turns the text ``5.0`` into the integer 5 and
    an integer wider than 64 bits into a float. A TEXT column keeps the text
    as written, and SQLite's JSON functions still read it.
    """

    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> str:
        # SQL NULL is passed as sa.null() and never reaches this method, so
        # None here is a result of None: JSON null.
        return dumps(value)

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> Any:
        return None if value is None else loads(value)


def _make_table(name: str, schema: str | None) -> sa.Table:
    # JSONB on PostgreSQL, so that results can be queried and indexed there.
    from sqlalchemy.dialects.postgresql import JSONB

    json_type = _JsonText().with_variant(JSONB(), "postgresql")
    return sa.Table(
        name,
        sa.MetaData(),
        sa.Column("flow_name", sa.String(255), primary_key=True),
        sa.Column("task_name", sa.String(255), primary_key=True),
        sa.Column("task_id", sa.String(255), primary_key=True),
        sa.Column("result", json_type, nullable=True),
        sa.Column("error", json_type, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        schema=schema,
    )
