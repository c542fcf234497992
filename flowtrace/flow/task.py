"""What users subclass to write a flow task: :class:`FlowTask`, and :exc:`FatalTaskError`.

A flow task is a class, as in Selinon: the dispatcher sends a message naming
the task, and the worker creates an instance for that one run and calls
``run(node_args)``. What ``run`` returns is stored in the task's storage,
where the dispatcher's conditions and the tasks after it read it.

.. code-block:: python

    import flowtrace

    class Fetch(flowtrace.FlowTask):
        def run(self, node_args):
            order = shop.get(node_args["order_id"])   # may raise: retried up to max_retry
            if order is None:
                raise flowtrace.FatalTaskError("no such order")   # fails at once
            return {"status": order.status}

    class Charge(flowtrace.FlowTask):
        def run(self, node_args):
            fetched = self.parent_task_result("Fetch")
            ...
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NoReturn, cast

from flowtrace.errors import FatalTaskError, NoParentNodeError, RetryTask

if TYPE_CHECKING:
    from flowtrace.storages.pool import StoragePool
    from flowtrace.storages.base import DataStorage

__all__ = ["FlowTask", "FatalTaskError", "RetryTask", "NoParentNodeError"]


class FlowTask(abc.ABC):
    """The base class of the tasks of a flow.

    Subclass it and implement :meth:`run`; name the subclass in the flow YAML
    (``import`` and ``classname`` of a ``tasks`` entry). The worker creates
    one instance per attempt and calls ``run(node_args)``; what ``run``
    returns goes to the task's ``storage``. A task without a storage that
    returns something other than None emits ``TASK_DISCARD_RESULT``.

    Raising an exception fails the attempt: the task is retried up to its
    ``max_retry``, ``retry_countdown`` seconds apart, unless the exception
    is :exc:`FatalTaskError`. The signature is Selinon's, so a Selinon task
    only needs its base class changed.

    Attributes:
        flow_name: the flow the task runs in.
        task_name: the task's name in the flow configuration.
        parent: the ids of the nodes that ran before it, by name; a sub-flow
            whose ``propagate_finished`` is set appears as a mapping of its
            own nodes.
        task_id: the Celery task id of this task.
        dispatcher_id: the id of the dispatcher running the flow.
        log: a :class:`logging.Logger` for the task.

    .. versionadded:: 0.1.0
    """

    def __init__(self, flow_name: str, task_name: str, parent: Mapping[str, Any] | None, task_id: str,
                 dispatcher_id: str, storage_pool: StoragePool | None = None) -> None:
        self.flow_name = flow_name
        self.task_name = task_name
        self.parent: Mapping[str, Any] = parent or {}
        self.task_id = task_id
        self.dispatcher_id = dispatcher_id
        self.log = logging.getLogger(type(self).__module__)
        self._pool = storage_pool

    @abc.abstractmethod
    def run(self, node_args: Any) -> Any:
        """Do the work.

        Args:
            node_args: the arguments the flow was started with (for a
                sub-flow, what its parent passed on).

        Returns:
            The result, kept in the task's storage; any JSON value for the
            built-in storages.

        .. versionadded:: 0.1.0
        """

    @property
    def storage(self) -> DataStorage | None:
        """The task's storage adapter (a :class:`~flowtrace.DataStorage`), connected; None without storage.

        .. versionadded:: 0.1.0
        """
        pool = self._pool
        name = pool.storage_name_of(self.task_name) if pool is not None else None
        # Typed as DataStorage for users' annotations; a duck-typed (Selinon) adapter has the same methods.
        return None if name is None or pool is None else cast("DataStorage", pool.get_connected_storage(name))

    def parent_task_result(self, parent_name: str) -> Any:
        """Return the result of the task ``parent_name``, which ran before this one in the flow.

        Args:
            parent_name: the task's name in the flow configuration.

        Returns:
            The task's result, read from its storage.

        Raises:
            NoParentNodeError: if no such task ran before this one.
            flowtrace.storages.StorageError: if its storage could not be read;
                the task is then retried.

        .. versionadded:: 0.1.0
        """
        task_id = self.parent.get(parent_name)
        if not isinstance(task_id, str):
            raise NoParentNodeError("task %r of flow %r has no parent task %r; its parents are %s"
                                    % (self.task_name, self.flow_name, parent_name,
                                       ", ".join(sorted(self.parent)) or "none"))
        return self._storage_pool().retrieve(self.flow_name, parent_name, task_id)

    def parent_flow_result(self, flow_names: str | list[str] | tuple[str, ...], task_name: str,
                           index: int = -1) -> Any:
        """Return the result of task ``task_name`` of a sub-flow that ran before this task.

        The sub-flow must be listed in the flow's ``propagate_finished``.

        Args:
            flow_names: the sub-flow's name, or a list of names for a
                sub-flow of a sub-flow (outermost first).
            task_name: the task in that sub-flow.
            index: which run of the task, when it ran several times; the last by default.

        Returns:
            The task's result, read from its storage.

        Raises:
            NoParentNodeError: if no such sub-flow or task ran before this task.

        .. versionadded:: 0.1.0
        """
        names = flow_names if isinstance(flow_names, (list, tuple)) else [flow_names]
        level: Any = self.parent
        for name in names:
            level = level.get(name) if isinstance(level, dict) else None
            if not isinstance(level, dict):
                raise NoParentNodeError("task %r of flow %r has no parent sub-flow %s" % (
                    self.task_name, self.flow_name, " > ".join(names)))
        ids = level.get(task_name)
        try:
            task_id = ids[index]
        except (TypeError, IndexError, KeyError):
            raise NoParentNodeError("sub-flow %s has no run %s of task %r before task %r" % (
                " > ".join(names), index, task_name, self.task_name)) from None
        return self._storage_pool().retrieve(names[-1], task_name, task_id)

    def retry(self, countdown: float = 0) -> NoReturn:
        """Ask to be run again after ``countdown`` seconds; this does not count against ``max_retry``.

        Args:
            countdown: seconds to wait before the next attempt.

        Raises:
            RetryTask: always; let it propagate out of :meth:`run`.

        .. versionadded:: 0.1.0
        """
        raise RetryTask(countdown)

    def _storage_pool(self) -> StoragePool:
        # The worker always passes a pool; a task made without one fails on
        # its first read, with AttributeError, as it always has.
        return cast("StoragePool", self._pool)
