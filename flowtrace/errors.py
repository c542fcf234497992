"""Every exception a flowtrace user can catch, and the exit codes of the ``flowtrace`` command.

Each one is importable from here and from where it is raised
(``flowtrace.FatalTaskError``, ``flowtrace.storages.StorageError``,
``flowtrace.flow.dispatcher.FlowError`` and so on). The names Selinon's task
and storage code imports from ``selinon`` (``FatalTaskError``, ``Retry``,
``RequestError``, ``CacheMissError`` and the others) are all here, with
Selinon's signatures, so that such code moves over by changing its import. At run time this module
imports nothing of flowtrace, so that any module can raise these without
importing the code of another, and no import circle forms over an error class.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from flowtrace.flow.model import Problem

__all__ = ["MissingDependency", "CliError", "FlowConfigError", "FlowConfigWarning", "FatalTaskError", "RetryTask",
           "Retry", "NoParentNodeError", "RequestError", "FlowError", "UnknownFlowError", "SelectiveNoPathError",
           "ConfigurationError", "StorageError", "UnknownStorageError", "MissingResult", "CacheMissError",
           "UnknownError", "EXIT_FAILURE", "EXIT_USAGE", "EXIT_INTERRUPTED",
           "MigrationError", "MigrationNotNeeded", "MigrationSkew"]

#: The exit code of a ``flowtrace`` command that failed while running.
EXIT_FAILURE = 1
#: The exit code of a bad command line (argparse's convention).
EXIT_USAGE = 2
#: The exit code after Ctrl-C.
EXIT_INTERRUPTED = 130


class MissingDependency(ImportError):
    """An optional package that a sink needs is not installed.

    The message names the extra to install, for example
    ``pip install flowtrace[sentry]``.

    .. versionadded:: 0.1.0
    """


class CliError(Exception):
    """A failure the user can act on; :func:`flowtrace.cli.main` prints it without a traceback.

    Args:
        message: one line telling what went wrong and, if possible, what to do.
        exit_code: the process's exit code.

    .. versionadded:: 0.1.0
    """

    def __init__(self, message: str, exit_code: int = EXIT_FAILURE):
        super().__init__(message)
        self.exit_code = exit_code


class ConfigurationError(ValueError):
    """The flow configuration is wrong; Selinon's name, for code that catches it.

    flowtrace reports a configuration it cannot load as
    :exc:`FlowConfigError`, a subclass that lists every problem.

    .. versionadded:: 0.1.0
    """


class FlowConfigError(ConfigurationError):
    """Flow configuration that cannot be loaded; every problem found is listed.

    Args:
        problems: the problems found.

    Attributes:
        problems: the :class:`~flowtrace.flow.model.Problem` tuples, in file and line order.

    .. versionadded:: 0.1.0
    """

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        count = len(self.problems)
        head = "%d error%s in flow configuration" % (count, "" if count == 1 else "s")
        super().__init__("\n".join([head] + [str(problem) for problem in self.problems]))


class FlowConfigWarning(UserWarning):
    """Issued by :func:`flowtrace.load_flows` for what Selinon accepts but warns of; the message is ``file:line: message``.

    A task that no flow uses, a key written twice in one mapping (the last
    value is used), a ``node`` given to a predicate that reads no result, an
    unknown top-level key. ``load_flows(..., strict=True)`` and ``flowtrace
    check --strict`` make them errors; :mod:`warnings` filters can too
    (``warnings.simplefilter("error", FlowConfigWarning)``).

    Attributes:
        problem: the :class:`~flowtrace.flow.model.Problem`.

    .. versionadded:: 0.1.0
    """

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        super().__init__(str(problem))


class FatalTaskError(Exception):
    """Raised by a flow task that must fail now, without the retries its ``max_retry`` allows.

    .. versionadded:: 0.1.0
    """


class NoParentNodeError(LookupError):
    """A flow task asked for the result of a node that did not run before it.

    .. versionadded:: 0.1.0
    """


class RequestError(Exception):
    """A flow task asked for something the flow cannot give, such as the exception of a parent that did not fail.

    :meth:`flowtrace.FlowTask.parent_task_exception` and
    :meth:`~flowtrace.FlowTask.parent_flow_exception` raise it. The name is Selinon's.

    .. versionadded:: 0.1.0
    """


class RetryTask(Exception):
    """Raised by :meth:`flowtrace.FlowTask.retry`: run the task again after ``countdown`` seconds.

    Such a retry is the task's own decision, so it does not count against its
    ``max_retry`` (as in Selinon).

    Args:
        countdown: seconds to wait before the next attempt.

    Attributes:
        countdown: seconds to wait before the next attempt.

    .. versionadded:: 0.1.0
    """

    def __init__(self, countdown: float = 0) -> None:
        super().__init__("the task asked to be retried in %ss" % (countdown,))
        self.countdown = countdown


class Retry(RetryTask):
    """Selinon's name for :exc:`RetryTask`, with its signature: the countdown is required.

    Raise it from ``run`` (``raise flowtrace.Retry(30)``) or call
    :meth:`flowtrace.FlowTask.retry`; either runs the task again without
    counting against its ``max_retry``.

    Args:
        countdown: seconds to wait before the next attempt.

    .. versionadded:: 0.1.0
    """

    def __init__(self, countdown: float) -> None:
        super().__init__(countdown)


class FlowError(Exception):
    """A flow failed; the dispatcher's task fails with it, and ``state`` is the flow's final state.

    Args:
        state: the flow's final state.

    Attributes:
        state: ``{"finished_nodes": ..., "failed_nodes": ..., "active_nodes": ...}``.

    .. versionadded:: 0.1.0
    """

    def __init__(self, state):
        super().__init__(state)
        self.state = state

    def __str__(self):
        state = self.state or {}
        return "flow failed; failed nodes: %s" % (", ".join(sorted(state.get("failed_nodes") or {})) or "none")


class UnknownFlowError(ValueError):
    """A flow was asked for by a name the flow configuration does not define.

    :func:`flowtrace.run_flow` raises it. It is a :class:`ValueError`, which
    ``run_flow`` raised before it had this name.

    .. versionadded:: 0.1.0
    """


class SelectiveNoPathError(ValueError):
    """No path in the flow leads to the node a selective run asked for.

    :func:`flowtrace.run_flow_selective` raises it in the caller, before
    anything is sent. It keeps Selinon's name, for code that catches it.

    .. versionadded:: 0.1.0
    """


class StorageError(Exception):
    """A storage operation failed, and the task that asked for it should be retried.

    :class:`~flowtrace.storages.pool.StoragePool` raises it, after
    emitting ``STORAGE_ISSUE``, whenever an adapter raises while it is created,
    connected, or asked to retrieve, store or delete a result. The adapter's
    own exception is the ``__cause__``. Nothing has been kept half-done: an
    adapter that failed to connect is not marked connected, and a result that
    failed to be read is not put in the result cache. Retrying the whole
    operation is therefore safe.

    Args:
        args: what failed: a message, as for any exception (Selinon's
            adapters raise it so).
        storage_name: the name of the storage, as in the flow configuration.
        operation: the operation that failed.

    Attributes:
        storage_name: the name of the storage, as in the flow configuration.
        operation: ``'connect'``, ``'retrieve'``, ``'store'``,
            ``'store_error'`` or ``'delete'``.

    .. versionadded:: 0.1.0
    """

    def __init__(self, *args: object, storage_name: str | None = None, operation: str | None = None):
        super().__init__(*args)
        self.storage_name = storage_name
        self.operation = operation


class UnknownStorageError(LookupError):
    """A storage was asked for by a name the flow configuration does not define; Selinon's name.

    .. versionadded:: 0.1.0
    """


class MissingResult(LookupError):
    """No result is stored for this flow name, task name and task id.

    The built-in adapters raise it from ``retrieve()`` and ``delete()``. It is
    a :class:`LookupError`, like :class:`KeyError`, but its message reads as a
    sentence.

    .. versionadded:: 0.1.0
    """


class CacheMissError(LookupError):
    """A cache of :mod:`flowtrace.caches` does not hold the item asked for.

    :meth:`Cache.get() <flowtrace.caches.Cache.get>` raises it, as Selinon's
    caches raise ``selinon.errors.CacheMissError``; a storage pool reads
    either one as a cache miss and asks the storage. It is a
    :class:`LookupError`, like :class:`KeyError`.

    .. versionadded:: 0.1.0
    """


class UnknownError(Exception):
    """Something happened that flowtrace did not expect, likely a bug; Selinon's name, for code that catches it.

    .. versionadded:: 0.1.0
    """


class MigrationError(ValueError):
    """A migration file or folder that cannot be read or used; its message is ``file:line: message``.

    Args:
        path: the file or folder.
        line: the 1-based line of the problem, or None when no line applies.
        message: what is wrong, without the file name.

    .. versionadded:: 0.1.0
    """

    def __init__(self, path: str, line: Optional[int], message: str):
        super().__init__("%s%s: %s" % (path, "" if line is None else ":%d" % line, message))
        self.path = path
        self.line = line
        self.message = message


class MigrationNotNeeded(Exception):
    """The two configurations differ in nothing a queued dispatcher message depends on: no migration is written.

    Selinon's ``selinon.errors.MigrationNotNeeded``.

    .. versionadded:: 0.1.0
    """


class MigrationSkew(Exception):
    """A dispatcher message's migration version is not one the migration folder leads from.

    The message is newer than the newest migration, or a migration on the
    way is missing: a worker with other migrations may be able to run it.

    Args:
        message: what is missing.
        available_migration_version: the newest version the folder has, or
            the missing one; None when there is no migration folder.

    .. versionadded:: 0.1.0
    """

    def __init__(self, message: str, available_migration_version: Optional[int]):
        super().__init__(message)
        self.available_migration_version = available_migration_version
