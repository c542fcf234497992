"""Tests for flowtrace/errors.py: every exception users catch, in one module, importable where they catch it."""

import ast
import importlib
from pathlib import Path

import pytest

from flowtrace import errors

ROOT = Path(__file__).resolve().parent.parent

# Where users catch each exception today, besides flowtrace.errors.
PLACES = [
    ("flowtrace", "MissingDependency"),
    ("flowtrace", "FlowConfigError"),
    ("flowtrace", "FatalTaskError"),
    ("flowtrace.cli", "CliError"),
    ("flowtrace.flow", "FlowConfigError"),
    ("flowtrace.flow.model", "FlowConfigError"),
    ("flowtrace.flow.task", "FatalTaskError"),
    ("flowtrace.flow.task", "RetryTask"),
    ("flowtrace.flow.task", "NoParentNodeError"),
    ("flowtrace.flow.dispatcher", "FlowError"),
    ("flowtrace.storages.pool", "StorageError"),
    ("flowtrace.storages.pool", "MissingResult"),
    ("flowtrace.storages", "StorageError"),
    ("flowtrace.storages", "MissingResult"),
    ("flowtrace.storages.base", "StorageError"),
    ("flowtrace.storages.base", "MissingResult"),
]


class TestErrors:
    @pytest.mark.parametrize("module, name", PLACES)
    def test_importable_where_users_catch_it(self, module, name):
        """Each exception is the very class of flowtrace.errors, under the name users import it by."""
        assert getattr(errors, name) is getattr(importlib.import_module(module), name)

    def test_every_exception_is_listed(self):
        """__all__ names every exception class the module defines, and the exit codes."""
        defined = {name for name, value in vars(errors).items()
                   if isinstance(value, type) and issubclass(value, BaseException) and value.__module__ == errors.__name__}
        assert (defined | {"EXIT_FAILURE", "EXIT_USAGE", "EXIT_INTERRUPTED"}) == set(errors.__all__)

    def test_imports_nothing_of_flowtrace(self):
        """Outside ``if TYPE_CHECKING:``, errors.py imports no flowtrace module, so that it closes no import circle."""
        tree = ast.parse((ROOT / "flowtrace" / "errors.py").read_text(encoding="utf-8"))
        imported = [node.module for node in tree.body if isinstance(node, ast.ImportFrom)]
        imported += [alias.name for node in tree.body if isinstance(node, ast.Import) for alias in node.names]
        assert [] == [name for name in imported if name and name.split(".")[0] == "flowtrace"]

    def test_cli_error_exit_code(self):
        """A CliError exits with EXIT_FAILURE unless it names another code."""
        assert (1, 3) == (errors.CliError("x").exit_code, errors.CliError("x", 3).exit_code)
