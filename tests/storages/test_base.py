"""Tests for flowtrace.storages.base and the flowtrace.storages package: the interface and what adapters share."""

import importlib
import subprocess
import sys

import pytest

import flowtrace
from flowtrace import MissingDependency
from flowtrace.storages import base
from flowtrace.storages.base import DataStorage, dumps, error_record, expand_env, loads


class Custom(Exception):
    """An exception defined outside the standard library."""


class TestDataStorage:
    """The DataStorage base class."""

    def test_exported_from_flowtrace(self):
        """``flowtrace.DataStorage`` is the class the built-in adapters subclass."""
        from flowtrace.storages.memory import InMemoryStorage

        assert (base.DataStorage, True) == (flowtrace.DataStorage, issubclass(InMemoryStorage, flowtrace.DataStorage))

    def test_required_methods(self):
        """A subclass must implement every method but store_error() and delete() before it can be made."""
        assert frozenset({"connect", "is_connected", "disconnect", "retrieve", "store"}) == (
            DataStorage.__abstractmethods__)

    def test_store_error_is_optional(self):
        """The default store_error() raises NotImplementedError naming the class."""

        class Minimal(DataStorage):
            connect = is_connected = disconnect = retrieve = store = delete = lambda self, *args: None

        with pytest.raises(NotImplementedError) as caught:
            Minimal().store_error(None, "f", "t", "1", (None, None, None))
        assert "Minimal does not store task errors" == str(caught.value)

    def test_delete_is_optional(self):
        """A subclass without delete() can be made; the default delete() raises NotImplementedError naming the class."""

        class Minimal(DataStorage):
            connect = is_connected = disconnect = retrieve = store = lambda self, *args: None

        with pytest.raises(NotImplementedError) as caught:
            Minimal().delete("f", "t", "1")
        assert "Minimal does not delete results" == str(caught.value)



class TestErrorRecord:
    """error_record()."""

    def test_module_qualified_type_for_other_exceptions(self):
        """An exception outside builtins is named with its module."""
        assert {"type": "tests.storages.test_base.Custom", "message": "boom", "traceback": "tests.storages."
                "test_base.Custom: boom\n"} == error_record(Custom("boom"))

    def test_exception_and_exc_info_agree(self):
        """The exception itself and its exc_info tuple give the same record."""
        try:
            raise KeyError("sku")
        except KeyError as exc:
            assert error_record(sys.exc_info()) == error_record(exc)


class TestJson:
    """dumps() and loads()."""

    def test_compact_utf8_text(self):
        """dumps() writes compact JSON that keeps non-ASCII text as it is."""
        assert '{"a":[1,2.5,null],"b":"ž"}' == dumps({"a": [1, 2.5, None], "b": "ž"})

    def test_round_trip_through_bytes(self):
        """loads() reads UTF-8 bytes as well as text."""
        assert {"b": "ž"} == loads(dumps({"b": "ž"}).encode("utf-8"))

    @pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
    def test_refuses_non_finite_numbers(self, value):
        """NaN and the infinities raise ValueError instead of being written as something else."""
        with pytest.raises(ValueError):
            dumps(value)


class TestExpandEnv:
    """expand_env()."""

    def test_replaces_variables(self, monkeypatch):
        """Each ``{NAME}`` is replaced; braces around anything else stay."""
        monkeypatch.setenv("FLOWTRACE_TEST_HOST", "db.local")
        assert "postgresql://{0}@db.local/x" == expand_env("postgresql://{0}@{FLOWTRACE_TEST_HOST}/x", "the URL")


class TestOptionalDependencies:
    """Adapters whose package is missing."""

    @pytest.mark.parametrize("module, package, extra", [
        ("flowtrace.storages.redis", "redis", "redis"),
        ("flowtrace.storages.sql", "sqlalchemy", "sql"),
    ])
    def test_missing_package_names_the_extra(self, monkeypatch, module, package, extra):
        """Importing the adapter without its package raises MissingDependency naming the extra to install."""
        monkeypatch.setitem(sys.modules, package, None)
        monkeypatch.delitem(sys.modules, module, raising=False)
        with pytest.raises(MissingDependency) as caught:
            importlib.import_module(module)
        assert ("%s needs the %r package, which is not installed; install it with: pip install 'flowtrace[%s]'"
                % (module, package, extra)) == str(caught.value)

    def test_package_import_is_light(self):
        """Importing flowtrace.storages and flowtrace.DataStorage imports neither redis nor SQLAlchemy."""
        code = ("import sys, flowtrace, flowtrace.storages; flowtrace.DataStorage; "
                "print(sorted(m for m in ('redis', 'sqlalchemy') if m in sys.modules))")
        output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        assert "[]\n" == output

    def test_adapters_are_reachable_from_the_package(self):
        """``flowtrace.storages.NAME`` gives each built-in adapter class."""
        import flowtrace.storages as storages
        from flowtrace.storages.filesystem import FilesystemStorage
        from flowtrace.storages.memory import InMemoryStorage
        from flowtrace.storages.redis import RedisStorage
        from flowtrace.storages.sql import SqlStorage

        assert [InMemoryStorage, FilesystemStorage, RedisStorage, SqlStorage] == [
            storages.InMemoryStorage, storages.FilesystemStorage, storages.RedisStorage, storages.SqlStorage]
