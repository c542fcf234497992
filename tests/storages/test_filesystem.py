"""Tests for flowtrace.storages.filesystem: files, folders and atomic writes."""

import json
import os

import pytest

from flowtrace.storages.filesystem import FilesystemStorage

TASK_ID = "5f1c0b9e-6d0c-4c43-9a57-2f0c2d1f0a11"


@pytest.fixture
def storage(tmp_path):
    storage = FilesystemStorage(str(tmp_path / "results"))
    storage.connect()
    return storage


def listing(root):
    """Every file under ``root``, as paths relative to it."""
    return sorted(os.path.relpath(os.path.join(folder, name), root)
                  for folder, _, names in os.walk(root) for name in names)


class TestFilesystemStorage:
    """FilesystemStorage."""

    def test_connect_creates_the_folder(self, tmp_path):
        """connect() creates the folder, parents included."""
        storage = FilesystemStorage(str(tmp_path / "a" / "b"))
        storage.connect()
        assert True is os.path.isdir(tmp_path / "a" / "b")

    def test_layout_and_record_id(self, storage):
        """A result is PATH/FLOW/TASK/ID.json holding the JSON value; store() returns that path."""
        record_id = storage.store(None, "orders", "charge", TASK_ID, {"ok": True})
        path = os.path.join(storage.path, "orders", "charge", TASK_ID + ".json")
        with open(path, encoding="utf-8") as stream:
            assert (path, '{"ok":true}') == (record_id, stream.read())

    def test_error_is_stored_beside_the_result(self, storage):
        """An error is ID.error.json in the task's folder, next to the result."""
        storage.store(None, "orders", "charge", TASK_ID, 1)
        try:
            raise KeyError("sku")
        except KeyError as exc:
            record_id = storage.store_error(None, "orders", "charge", TASK_ID, exc)
        assert ([os.path.join("orders", "charge", TASK_ID + ".error.json"),
                 os.path.join("orders", "charge", TASK_ID + ".json")],
                os.path.join(storage.path, "orders", "charge", TASK_ID + ".error.json")) == (
            listing(storage.path), record_id)

    def test_no_temporary_file_is_left(self, storage):
        """After several writes the folder holds only the final files."""
        for n in range(5):
            storage.store(None, "orders", "charge", TASK_ID, n)
        assert [os.path.join("orders", "charge", TASK_ID + ".json")] == listing(storage.path)

    def test_a_failed_write_keeps_the_previous_file(self, storage, monkeypatch):
        """When the rename fails, the earlier result is still there and no temporary file remains."""
        storage.store(None, "orders", "charge", TASK_ID, "before")

        def broken_replace(source, target):
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(os, "replace", broken_replace)
        with pytest.raises(OSError):
            storage.store(None, "orders", "charge", TASK_ID, "after")
        monkeypatch.undo()
        assert ("before", [os.path.join("orders", "charge", TASK_ID + ".json")]) == (
            storage.retrieve("orders", "charge", TASK_ID), listing(storage.path))

    def test_file_is_read_as_json_only(self, storage):
        """A result file is parsed as JSON, so a file written by hand is read as its JSON value."""
        folder = os.path.join(storage.path, "orders", "charge")
        os.makedirs(folder)
        with open(os.path.join(folder, TASK_ID + ".json"), "w", encoding="utf-8") as stream:
            json.dump([1, {"a": "b"}], stream)
        assert [1, {"a": "b"}] == storage.retrieve("orders", "charge", TASK_ID)

    @pytest.mark.parametrize("flow, task, task_id", [
        ("orders", "charge", "../../etc/passwd"),
        ("orders", "charge", ".."),
        ("..", "charge", TASK_ID),
        ("orders", "a/b", TASK_ID),
        ("orders", "charge", ".hidden"),
        ("orders", "charge", ""),
        ("orders", "charge", "nul\0byte"),
    ])
    def test_refuses_names_that_leave_the_folder(self, storage, flow, task, task_id):
        """A name or id that is not a plain file name raises ValueError and writes nothing."""
        with pytest.raises(ValueError):
            storage.store(None, flow, task, task_id, 1)
        assert [] == listing(storage.path)

    def test_path_expands_environment_variables(self, tmp_path, monkeypatch):
        """``{NAME}`` in the path is the environment variable NAME."""
        monkeypatch.setenv("FLOWTRACE_TEST_ROOT", str(tmp_path))
        assert str(tmp_path / "results") == FilesystemStorage("{FLOWTRACE_TEST_ROOT}/results").path

    def test_unset_variable_is_named(self, monkeypatch):
        """A path naming an unset variable raises ValueError naming it."""
        monkeypatch.delenv("FLOWTRACE_TEST_UNSET", raising=False)
        with pytest.raises(ValueError) as caught:
            FilesystemStorage("{FLOWTRACE_TEST_UNSET}/results")
        assert ("the FilesystemStorage path refers to the environment variable FLOWTRACE_TEST_UNSET, "
                "which is not set") == str(caught.value)

    def test_empty_path_is_refused(self):
        """An empty path raises ValueError."""
        with pytest.raises(ValueError) as caught:
            FilesystemStorage("")
        assert "FilesystemStorage needs a folder path, got ''" == str(caught.value)
