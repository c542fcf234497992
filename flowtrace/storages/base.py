"""The storage adapter interface, its errors and what adapters share.

A storage adapter keeps the results of a flow's tasks, so that the dispatcher
can read them when it decides what runs next. An adapter is any class with
Selinon's methods (:func:`check_adapter_class` says what is missing):
flowtrace's adapters subclass :class:`DataStorage`, and an adapter written
for Selinon, subclassing ``selinon.DataStorage``, works unchanged.
"""

from __future__ import annotations

import abc
import json
import os
import re
import traceback
from types import TracebackType
from typing import Any, Optional, Protocol

from flowtrace.errors import MissingResult, StorageError

__all__ = ["DataStorage", "StorageError", "MissingResult", "StorageAdapter", "check_adapter_class", "implements", "REQUIRED_METHODS",
           "OPTIONAL_METHODS", "error_record", "dumps", "loads", "expand_env"]

#: ``(type, value, traceback)``, as :func:`sys.exc_info` returns it inside an ``except`` block.
ExcInfo = tuple[type[BaseException], BaseException, Optional[TracebackType]]


class DataStorage(abc.ABC):
    """The base class of every storage adapter.

    A result is addressed by three values: the flow name, the task name and
    the Celery task id. The task name an adapter sees is the task's
    ``storage_task_name`` from the flow configuration (the task name itself
    unless the configuration says otherwise). ``retrieve()`` must return what
    ``store()`` was given, as the built-in adapters do for any JSON value.

    The constructor receives the storage's ``configuration`` mapping from the
    flow YAML as keyword arguments, so that::

        storages:
          - name: Results
            import: flowtrace.storages.redis
            classname: RedisStorage
            configuration:
              url: redis://127.0.0.1:6379/0

    creates ``RedisStorage(url="redis://127.0.0.1:6379/0")``. The constructor
    should not open connections: :meth:`connect` does, when the storage is
    first used.

    .. versionadded:: 0.1.0
    """

    @abc.abstractmethod
    def connect(self) -> None:
        """Open the connection, create the table or folder; called before first use.

        .. versionadded:: 0.1.0
        """

    @abc.abstractmethod
    def is_connected(self) -> bool:
        """Return whether :meth:`connect` succeeded and :meth:`disconnect` was not called since.

        .. versionadded:: 0.1.0
        """

    @abc.abstractmethod
    def disconnect(self) -> None:
        """Close the connection; :meth:`connect` may be called again afterwards.

        .. versionadded:: 0.1.0
        """

    @abc.abstractmethod
    def retrieve(self, flow_name: str, task_name: str, task_id: str) -> Any:
        """Return the result stored for a task.

        Args:
            flow_name: the flow the task ran in.
            task_name: the task's storage task name.
            task_id: the Celery task id.

        Raises:
            flowtrace.storages.MissingResult: if no result is stored for the
                task (the built-in adapters; other adapters may raise their
                own error).

        .. versionadded:: 0.1.0
        """

    @abc.abstractmethod
    def store(self, node_args: Any, flow_name: str, task_name: str, task_id: str, result: Any) -> object:
        """Store a task's result, replacing any result stored before for the same task.

        Args:
            node_args: the arguments the flow was started with.
            flow_name: the flow the task ran in.
            task_name: the task's storage task name.
            task_id: the Celery task id.
            result: what the task returned.

        Returns:
            An id of the stored record, whose form is the adapter's choice.

        .. versionadded:: 0.1.0
        """

    def store_error(self, node_args: Any, flow_name: str, task_name: str, task_id: str, exc_info: ExcInfo) -> object:
        """Store why a task failed; optional.

        This default raises :class:`NotImplementedError`, which the storage
        pool reports as ``STORAGE_OMIT_STORE_ERROR``: the error is then only
        in the trace.

        Args:
            node_args: the arguments the flow was started with.
            flow_name: the flow the task ran in.
            task_name: the task's storage task name.
            task_id: the Celery task id.
            exc_info: ``(type, value, traceback)``, as from :func:`sys.exc_info`.
                :func:`~flowtrace.storages.base.error_record` turns it into a
                JSON-ready dict.

        Returns:
            An id of the stored record.

        Raises:
            NotImplementedError: the adapter does not store errors.

        .. versionadded:: 0.1.0
        """
        raise NotImplementedError("%s does not store task errors" % type(self).__name__)

    def delete(self, flow_name: str, task_name: str, task_id: str) -> None:
        """Delete what is stored for a task: its result and its error; optional.

        This default raises :class:`NotImplementedError`, as Selinon's does;
        the storage pool then refuses the deletion with that error.

        Args:
            flow_name: the flow the task ran in.
            task_name: the task's storage task name.
            task_id: the Celery task id.

        Raises:
            flowtrace.storages.MissingResult: if nothing is stored for the task
                (the built-in adapters).
            NotImplementedError: the adapter does not delete results.

        .. versionadded:: 0.1.0
        """
        raise NotImplementedError("%s does not delete results" % type(self).__name__)


class StorageAdapter(Protocol):
    """The shape of a storage adapter, for type checkers: what the storage pool calls.

    :class:`DataStorage` and Selinon's ``selinon.DataStorage`` both have it;
    ``store_error()`` and ``delete()`` are optional, and the pool looks them
    up when it needs them (see :func:`implements`).

    .. versionadded:: 0.1.0
    """

    def connect(self) -> None:
        """See :meth:`flowtrace.DataStorage.connect`."""

    def is_connected(self) -> bool:
        """See :meth:`flowtrace.DataStorage.is_connected`."""

    def disconnect(self) -> None:
        """See :meth:`flowtrace.DataStorage.disconnect`."""

    def retrieve(self, flow_name: str, task_name: str, task_id: str) -> Any:
        """See :meth:`flowtrace.DataStorage.retrieve`."""

    def store(self, node_args: Any, flow_name: str, task_name: str, task_id: str, result: Any) -> object:
        """See :meth:`flowtrace.DataStorage.store`."""


#: The methods every storage adapter has, Selinon's and flowtrace's alike.
REQUIRED_METHODS = ("connect", "is_connected", "disconnect", "retrieve", "store")
#: The methods an adapter may leave out; the storage pool copes without them.
OPTIONAL_METHODS = ("store_error", "delete")


def check_adapter_class(cls: object) -> list[str]:
    """Return what keeps ``cls`` from being a storage adapter class, one sentence each; empty if nothing.

    An adapter is recognised by its methods, not by its base class, so a
    subclass of :class:`DataStorage`, of Selinon's ``selinon.DataStorage``
    or of nothing at all is accepted alike. ``cls`` must be a class that
    has :data:`REQUIRED_METHODS` (``connect``, ``is_connected``,
    ``disconnect``, ``retrieve`` and ``store``) as callables, whose
    :data:`OPTIONAL_METHODS`, where present, are callables too, and that has
    no abstract method left (else it cannot be made). The storage pool and
    ``flowtrace check`` both ask this function.

    Args:
        cls: the class named by a storage's ``import`` and ``classname``.

    Returns:
        The problems, in the order of the methods; ``[]`` for an adapter class.

    .. versionadded:: 0.1.0
    """
    if not isinstance(cls, type):
        # Named by type only: a misplaced configuration can hold a password.
        return ["a %s is not a class" % type(cls).__name__]
    name = "%s.%s" % (cls.__module__, cls.__qualname__)
    problems = []
    missing = [method for method in REQUIRED_METHODS if not callable(getattr(cls, method, None))]
    if missing:
        problems.append("%s has no %s method%s, which a storage adapter needs"
                        % (name, ", ".join(m + "()" for m in missing), "" if len(missing) == 1 else "s"))
    for method in OPTIONAL_METHODS:
        if hasattr(cls, method) and not callable(getattr(cls, method)):
            problems.append("%s.%s is not a method" % (name, method))
    abstract = sorted(getattr(cls, "__abstractmethods__", ()))
    if abstract:
        problems.append("%s cannot be instantiated: it leaves abstract %s" % (name, ", ".join(abstract)))
    return problems


def implements(adapter: object, method: str) -> bool:
    """Return whether an adapter (or adapter class) has an optional method of its own.

    ``False`` when the method is missing or is the default of flowtrace's or
    Selinon's base class, which only raises :class:`NotImplementedError`.

    Args:
        adapter: the adapter or its class.
        method: ``"store_error"`` or ``"delete"``.

    .. versionadded:: 0.1.0
    """
    cls = adapter if isinstance(adapter, type) else type(adapter)
    function = getattr(cls, method, None)
    if function is None or function is getattr(DataStorage, method):
        return False
    # Selinon's defaults are recognised by where they are defined, so that
    # flowtrace need not import Selinon.
    return getattr(function, "__qualname__", None) != "DataStorage." + method or (
        getattr(function, "__module__", None) != "selinon.data_storage")


def error_record(exc_info: ExcInfo | BaseException) -> dict[str, str | None]:
    """Return a JSON-ready dict describing an exception: ``type``, ``message`` and ``traceback``.

    ``type`` is ``ValueError`` for a built-in exception and
    ``package.module.Name`` for the others; ``traceback`` is the text Python
    prints for it, chained exceptions included.

    Args:
        exc_info: ``(type, value, traceback)`` as from :func:`sys.exc_info`,
            or the exception itself.

    .. versionadded:: 0.1.0
    """
    if isinstance(exc_info, BaseException):
        exc_info = (type(exc_info), exc_info, exc_info.__traceback__)
    kind, value, tb = exc_info
    module = getattr(kind, "__module__", None)
    name = getattr(kind, "__qualname__", None) or repr(kind)
    try:
        message = str(value)
    except Exception:
        message = "<unprintable %s>" % name
    try:
        text = "".join(traceback.format_exception(kind, value, tb))
    except Exception:
        text = None
    return {
        "type": name if module in (None, "builtins") else "%s.%s" % (module, name),
        "message": message,
        "traceback": text,
    }


def dumps(value: Any) -> str:
    """Encode a result as compact JSON text; the one encoding every built-in adapter uses.

    Tuples become lists and dict keys must be strings, numbers, booleans or
    ``None`` (they come back as strings), as JSON has it.

    Raises:
        TypeError: for a value JSON cannot hold, such as a set or an object.
        ValueError: for NaN or an infinity, which JSON has no spelling for.

    .. versionadded:: 0.1.0
    """
    # The standard library, not orjson: orjson writes NaN as null, which would
    # silently change a result, and storage I/O costs far more than encoding.
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def loads(text: str | bytes) -> Any:
    """Decode what :func:`dumps` wrote (``str`` or UTF-8 ``bytes``).

    .. versionadded:: 0.1.0
    """
    return json.loads(text)


_ENV_REF = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def expand_env(value: str, what: str) -> str:
    """Replace each ``{NAME}`` in ``value`` by the environment variable ``NAME``, as Selinon's adapters do.

    Args:
        value: a path or URL from the configuration.
        what: what the value is, for the error message (``"the Redis URL"``).

    Raises:
        ValueError: naming the variable that is not set (never the value,
            which may hold a password).

    .. versionadded:: 0.1.0
    """

    def lookup(match: re.Match[str]) -> str:
        try:
            return os.environ[match.group(1)]
        except KeyError:
            raise ValueError("%s refers to the environment variable %s, which is not set"
                             % (what, match.group(1))) from None

    return _ENV_REF.sub(lookup, value)


def not_found(flow_name: str, task_name: str, task_id: str, what: str = "result") -> MissingResult:
    """Return the :class:`MissingResult` a built-in adapter raises for a task with nothing stored."""
    return MissingResult("no %s is stored for task %s (id %s) of flow %s" % (what, task_name, task_id, flow_name))


def check_connected(adapter: DataStorage) -> None:
    """Raise :class:`RuntimeError` unless ``adapter`` is connected; for the built-in adapters."""
    if not adapter.is_connected():
        raise RuntimeError("%s is not connected; call connect() first" % type(adapter).__name__)
