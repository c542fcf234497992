"""What users subclass to write a flow task: :class:`FlowTask` (alias ``SelinonTask``), and :exc:`FatalTaskError`.

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

A class need not subclass :class:`FlowTask`: any class that
:func:`check_task_class` accepts runs, ``selinon.SelinonTask`` subclasses
among them (see ``docs/flows.rst``, "Task classes").
"""

from __future__ import annotations

import abc
import inspect
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NoReturn, cast

from flowtrace.errors import FatalTaskError, NoParentNodeError, RequestError, RetryTask

if TYPE_CHECKING:
    from celery import Celery

    from flowtrace.storages.base import DataStorage
    from flowtrace.storages.pool import StoragePool

__all__ = ["FlowTask", "SelinonTask", "check_task_class", "FatalTaskError", "RetryTask", "NoParentNodeError",
           "RequestError"]

#: The arguments the worker constructs a task class with, in order (Selinon's).
CONSTRUCTOR_ARGUMENTS = ("flow_name", "task_name", "parent", "task_id", "dispatcher_id")


class FlowTask(abc.ABC):
    """The base class of the tasks of a flow; ``flowtrace.SelinonTask`` is the same class.

    Subclass it and implement :meth:`run`; name the subclass in the flow YAML
    (``import`` and ``classname`` of a ``tasks`` entry). The worker creates
    one instance per attempt and calls ``run(node_args)``; what ``run``
    returns goes to the task's ``storage``. A task without a storage that
    returns something other than None emits ``TASK_DISCARD_RESULT``.

    Raising an exception fails the attempt: the task is retried up to its
    ``max_retry``, ``retry_countdown`` seconds apart, unless the exception
    is :exc:`FatalTaskError`. The constructor and every method have the
    names and signatures of ``selinon.SelinonTask``, so a Selinon task only
    needs its import changed.

    Args:
        flow_name: the flow the task runs in.
        task_name: the task's name in the flow configuration.
        parent: the ids of the nodes that ran before it, by name.
        task_id: the Celery task id of this task.
        dispatcher_id: the id of the dispatcher running the flow.

    Attributes:
        flow_name: the flow the task runs in.
        task_name: the task's name in the flow configuration.
        parent: the ids of the nodes that ran before it, by name; a sub-flow
            whose ``propagate_finished`` is set appears as a mapping of its
            own nodes (its own sub-flows nested in it), one whose
            ``propagate_compound_finished`` is set as one flat mapping of its
            tasks and those of its sub-flows, task name to ids.
        task_id: the Celery task id of this task.
        dispatcher_id: the id of the dispatcher running the flow.
        log: a :class:`logging.Logger` for the task.

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.1.0
       The constructor takes Selinon's five arguments only; the worker gives
       the instance its storage pool after constructing it.
    """

    def __init__(self, flow_name: str, task_name: str, parent: Mapping[str, Any] | None, task_id: str,
                 dispatcher_id: str) -> None:
        self.flow_name = flow_name
        self.task_name = task_name
        self.parent: Mapping[str, Any] = parent or {}
        self.task_id = task_id
        self.dispatcher_id = dispatcher_id
        self.log = logging.getLogger(type(self).__module__)
        # Set by the worker (flowtrace.flow._taskclass.construct) once constructed.
        self._pool: StoragePool | None = None
        self._app: Celery | None = None

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
        pool = getattr(self, "_pool", None)
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
        return self._storage_pool().retrieve(self.flow_name, parent_name, self._parent_task_id(parent_name))

    def parent_flow_result(self, flow_names: str | list[str] | tuple[str, ...], task_name: str,
                           index: int | None = None) -> Any:
        """Return the result of task ``task_name`` of a sub-flow that ran before this task.

        The sub-flow must be listed in the flow's ``propagate_finished`` or
        ``propagate_compound_finished``. In the compound form, name the
        outer sub-flow alone, for its tasks and those of the sub-flows nested
        in it; the result is read with that sub-flow's name, as Selinon
        reads it, so an adapter that keeps results by flow (flowtrace's do)
        finds only those of tasks that ran in that sub-flow itself.

        Args:
            flow_names: the sub-flow's name, or a list of names for a
                sub-flow of a sub-flow (outermost first); the outer name
                alone with ``propagate_compound_finished``.
            task_name: the task in that sub-flow.
            index: which run of the task, when it ran several times, as a
                list index; None (the default) is the last, as ``-1``.

        Returns:
            The task's result, read from its storage.

        Raises:
            NoParentNodeError: if no such sub-flow or task ran before this task.

        .. versionadded:: 0.1.0
        .. versionchanged:: 0.1.0
           ``index`` defaults to None, as in Selinon.
        """
        names, task_id = self._subflow_task_id(flow_names, task_name, index)
        return self._storage_pool().retrieve(names[-1], task_name, task_id)

    def parent_task_exception(self, parent_name: str) -> BaseException:
        """Return the exception that made the task ``parent_name`` fail; call it from a fallback.

        The exception is read from Celery's result backend, where the failed
        node's state is kept, as Selinon does.

        Args:
            parent_name: the failed task's name in the flow configuration.

        Returns:
            The exception the task's last attempt raised.

        Raises:
            NoParentNodeError: if no such task ran before this one.
            RequestError: if that task did not fail.

        .. versionadded:: 0.1.0
        """
        return self._exception_of(self._parent_task_id(parent_name), "task %r" % (parent_name,))

    def parent_flow_exception(self, flow_names: str | list[str] | tuple[str, ...], task_name: str,
                              index: int | None = None) -> BaseException:
        """Return the exception that made task ``task_name`` of a sub-flow fail; call it from a fallback.

        Args:
            flow_names: the sub-flow's name, or a list of names for a
                sub-flow of a sub-flow (outermost first).
            task_name: the failed task in that sub-flow.
            index: which run of the task, as in :meth:`parent_flow_result`.

        Returns:
            The exception the task's last attempt raised.

        Raises:
            NoParentNodeError: if no such sub-flow or task ran before this task.
            RequestError: if that task did not fail.

        .. versionadded:: 0.1.0
        """
        names, task_id = self._subflow_task_id(flow_names, task_name, index)
        return self._exception_of(task_id, "task %r of sub-flow %s" % (task_name, " > ".join(names)))

    @staticmethod
    def retry(countdown: float = 0) -> NoReturn:
        """Ask to be run again after ``countdown`` seconds; this does not count against ``max_retry``.

        A static method, as in Selinon: ``self.retry(30)``,
        ``self.retry(countdown=30)`` and ``FlowTask.retry(30)`` all wait 30 s.

        Args:
            countdown: seconds to wait before the next attempt.

        Raises:
            RetryTask: always; let it propagate out of :meth:`run`.

        .. versionadded:: 0.1.0
        .. versionchanged:: 0.1.0
           A static method: called on the class, it no longer takes its
           countdown for ``self`` and waits 0 s.
        """
        raise RetryTask(countdown)

    def _parent_task_id(self, parent_name: str) -> str:
        task_id = self.parent.get(parent_name)
        if not isinstance(task_id, str):
            raise NoParentNodeError("task %r of flow %r has no parent task %r; its parents are %s"
                                    % (self.task_name, self.flow_name, parent_name,
                                       ", ".join(sorted(self.parent)) or "none"))
        return task_id

    def _subflow_task_id(self, flow_names: str | list[str] | tuple[str, ...], task_name: str,
                         index: int | None) -> tuple[list[str], str]:
        names = list(flow_names) if isinstance(flow_names, (list, tuple)) else [flow_names]
        index = -1 if index is None else index
        level: Any = self.parent
        for name in names:
            level = level.get(name) if isinstance(level, Mapping) else None
            if not isinstance(level, Mapping):
                raise NoParentNodeError("task %r of flow %r has no parent sub-flow %s" % (
                    self.task_name, self.flow_name, " > ".join(names)))
        ids = level.get(task_name)
        try:
            task_id = ids[index]
        except (TypeError, IndexError, KeyError):
            raise NoParentNodeError("sub-flow %s has no run %s of task %r before task %r" % (
                " > ".join(names), index, task_name, self.task_name)) from None
        return names, task_id

    def _exception_of(self, task_id: str, what: str) -> BaseException:
        from celery import current_app

        app = getattr(self, "_app", None) or current_app
        result = app.AsyncResult(task_id)
        state = result.state
        if state != "FAILURE":
            raise RequestError("%s did not fail (its state is %s), so it has no exception; ask for it from a "
                               "fallback of the failed node" % (what, state))
        return cast(BaseException, result.result)

    def _storage_pool(self) -> StoragePool:
        # The worker always gives a pool; a task made without one fails on
        # its first read, with AttributeError, as it always has.
        return cast("StoragePool", getattr(self, "_pool", None))


#: Selinon's name for :class:`FlowTask`: ``from flowtrace import SelinonTask`` in code written for Selinon.
SelinonTask = FlowTask


def check_task_class(cls: object) -> list[str]:
    """Check that the worker can run ``cls`` as a flow task; return what is wrong, as sentences.

    The contract is the interface, not a base class: ``cls`` is a class that
    is not abstract, can be constructed as
    ``cls(flow_name, task_name, parent, task_id, dispatcher_id)``
    (Selinon's constructor), and has a method callable as
    ``run(node_args)``. Subclasses of :class:`FlowTask` and of
    ``selinon.SelinonTask`` qualify when they implement ``run``; a
    ``SelinonTask`` subclass gets flowtrace's :attr:`~flowtrace.FlowTask.storage`,
    ``parent_*`` and :meth:`~flowtrace.FlowTask.retry` in place of Selinon's.
    ``flowtrace check`` reports these problems at the task's line.

    Args:
        cls: what the ``import`` and ``classname`` of a ``tasks`` entry name.

    Returns:
        The problems, each a sentence about ``cls``; empty if it qualifies.

    .. versionadded:: 0.1.0
    """
    if not isinstance(cls, type):
        return ["is not a class but %s" % (type(cls).__name__,)]
    problems = []
    abstract = sorted(getattr(cls, "__abstractmethods__", ()) or ())
    if abstract:
        problems.append("is abstract: it does not implement %s" % ", ".join(abstract))
    raw = inspect.getattr_static(cls, "run", None)
    if raw is None or not callable(getattr(cls, "run", None)):
        problems.append("has no run(self, node_args) method")
    elif "run" not in abstract:
        # A plain function is called with the instance first; a static or class method is not.
        bound = isinstance(raw, (staticmethod, classmethod))
        problem = _call_problem(getattr(cls, "run") if bound else raw, (None,) if bound else (None, None))
        if problem:
            problems.append("has a run() that cannot be called as run(node_args): %s" % problem)
    problem = _call_problem(cls, CONSTRUCTOR_ARGUMENTS)
    if problem:
        problems.append("cannot be constructed as %s(%s), as the worker does: %s"
                        % (cls.__name__, ", ".join(CONSTRUCTOR_ARGUMENTS), problem))
    return problems


def _call_problem(function: Any, args: tuple[Any, ...]) -> str | None:
    """Why ``function(*args)`` would fail to bind, or None; a callable without a signature passes."""
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return None
    try:
        signature.bind(*args)
    except TypeError as exc:
        return "its signature is %s (%s)" % (signature, exc)
    return None
