"""``FilesystemStorage``: one JSON file per task result, in a folder per flow and task."""

from __future__ import annotations

import os
import tempfile
from typing import Any

from flowtrace.storages.base import (DataStorage, ExcInfo, check_connected, dumps, error_record, expand_env, loads,
                                     not_found)

__all__ = ["FilesystemStorage"]

_RESULT_SUFFIX = ".json"
_ERROR_SUFFIX = ".error.json"


class FilesystemStorage(DataStorage):
    """Keep each result as a JSON file under a folder: the embedded default, as it needs no service.

    The layout is ``PATH/FLOW_NAME/TASK_NAME/TASK_ID.json`` for a result and
    ``TASK_ID.error.json`` beside it for an error. Each file is written to a
    temporary file in the same folder, flushed to disk, and renamed over the
    final name (:func:`os.replace`), so a reader sees either the previous file
    or the whole new one, never a torn write, even across worker processes.
    Only JSON is written, never pickle: reading a result can never run code.

    Args:
        path: the folder; created by :meth:`connect` if it does not exist.
            ``{NAME}`` is replaced by the environment variable ``NAME``.
        fsync: flush each file to disk before renaming it (the default), so
            that a result survives a power cut once :meth:`store` returned.

    Raises:
        ValueError: if ``path`` is empty or names an unset variable.

    .. versionadded:: 0.1.0
    """

    def __init__(self, path: str | os.PathLike[str], fsync: bool = True) -> None:
        if not isinstance(path, (str, os.PathLike)) or not str(path):
            raise ValueError("FilesystemStorage needs a folder path, got %r" % (path,))
        if isinstance(path, str):
            path = expand_env(path, "the FilesystemStorage path")
        self.path = os.path.abspath(os.fspath(path))
        self.fsync = bool(fsync)
        self._connected = False

    def connect(self) -> None:
        """Create the storage's folder if it is missing.

        .. versionadded:: 0.1.0
        """
        os.makedirs(self.path, exist_ok=True)
        self._connected = True

    def is_connected(self) -> bool:
        """Return whether :meth:`connect` succeeded and :meth:`disconnect` was not called since.

        .. versionadded:: 0.1.0
        """
        return self._connected

    def disconnect(self) -> None:
        """Mark the storage disconnected; the files stay.

        .. versionadded:: 0.1.0
        """
        self._connected = False

    def retrieve(self, flow_name: str, task_name: str, task_id: str) -> Any:
        """Return the result read from the task's ``TASK_ID.json`` file.

        Raises:
            flowtrace.storages.MissingResult: if the file does not exist.

        .. versionadded:: 0.1.0
        """
        return self._read(flow_name, task_name, task_id, _RESULT_SUFFIX)

    def _read(self, flow_name: str, task_name: str, task_id: str, suffix: str, *not_found_what: str) -> Any:
        check_connected(self)
        try:
            with open(self._file(flow_name, task_name, task_id, suffix), "rb") as stream:
                data = stream.read()
        except FileNotFoundError:
            raise not_found(flow_name, task_name, task_id, *not_found_what) from None
        return loads(data)

    def store(self, node_args: Any, flow_name: str, task_name: str, task_id: str, result: Any) -> str:
        """Write the result to the task's ``TASK_ID.json`` file, whole or not at all.

        Returns:
            The file's path.

        .. versionadded:: 0.1.0
        """
        check_connected(self)
        path = self._file(flow_name, task_name, task_id, _RESULT_SUFFIX)
        self._write(path, dumps(result))
        return path

    def store_error(self, node_args: Any, flow_name: str, task_name: str, task_id: str, exc_info: ExcInfo) -> str:
        """Write :func:`~flowtrace.storages.base.error_record` of the exception to ``TASK_ID.error.json``.

        Returns:
            The file's path.

        .. versionadded:: 0.1.0
        """
        check_connected(self)
        path = self._file(flow_name, task_name, task_id, _ERROR_SUFFIX)
        self._write(path, dumps(error_record(exc_info)))
        return path

    def retrieve_error(self, flow_name: str, task_name: str, task_id: str) -> dict[str, Any]:
        """Return the error stored for a failed task, as :func:`~flowtrace.storages.base.error_record` made it.

        Raises:
            flowtrace.storages.MissingResult: if no error is stored for the task.

        .. versionadded:: 0.1.0
        """
        return self._read(flow_name, task_name, task_id, _ERROR_SUFFIX, "error")

    def delete(self, flow_name: str, task_name: str, task_id: str) -> None:
        """Remove the task's result and error files.

        Raises:
            flowtrace.storages.MissingResult: if neither file exists.

        .. versionadded:: 0.1.0
        """
        check_connected(self)
        found = False
        for suffix in (_RESULT_SUFFIX, _ERROR_SUFFIX):
            try:
                os.remove(self._file(flow_name, task_name, task_id, suffix))
                found = True
            except FileNotFoundError:
                pass
        if not found:
            raise not_found(flow_name, task_name, task_id)

    def _file(self, flow_name: str, task_name: str, task_id: str, suffix: str) -> str:
        for what, part in (("flow name", flow_name), ("task name", task_name), ("task id", task_id)):
            _check_part(what, part)
        return os.path.join(self.path, flow_name, task_name, task_id + suffix)

    def _write(self, path: str, text: str) -> None:
        folder = os.path.dirname(path)
        os.makedirs(folder, exist_ok=True)
        # The temporary name starts with a dot and ends in .tmp, so it never
        # matches a task id's file, and a crash leaves only an ignorable file.
        fd, temporary = tempfile.mkstemp(dir=folder, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as stream:
                stream.write(text.encode("utf-8"))
                if self.fsync:
                    stream.flush()
                    os.fsync(stream.fileno())
            os.replace(temporary, path)
        except BaseException:
            try:
                os.remove(temporary)
            except OSError:
                pass
            raise


def _check_part(what: str, part: object) -> None:
    # Names and ids become path components: refuse anything that could climb
    # out of the folder or hide as a dot file (a task id is caller-chosen).
    if (not isinstance(part, str) or not part or part.startswith(".") or "/" in part or "\\" in part
            or "\0" in part or (os.altsep and os.altsep in part)):
        raise ValueError("FilesystemStorage cannot use %r as a %s in a file name" % (part, what))
