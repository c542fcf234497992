"""How the worker runs a task class that is not a :class:`~flowtrace.FlowTask`: Selinon's, or any that fits the contract.

:func:`~flowtrace.flow.task.check_task_class` says which classes qualify.
A ``selinon.SelinonTask`` subclass qualifies, but the methods it inherits
reach into Selinon's own machinery: its ``StoragePool`` and ``Config``,
which flowtrace never initialises, and ``celery.current_app``. So the worker
runs a subclass of the user's class, made once per class, in which
flowtrace's implementation of each name of the task API replaces the one
inherited from Selinon. What the user's class defines itself is left alone.

Selinon's exceptions need no import of Selinon here: a task that raises
``selinon.FatalTaskError`` or ``selinon.Retry`` imported ``selinon.errors``,
so the module is in :data:`sys.modules` whenever such an exception exists.
"""

from __future__ import annotations

import sys
from typing import Any

from flowtrace.errors import FatalTaskError, RetryTask
from flowtrace.flow.task import FlowTask

#: The task API: what a task calls on itself, and the helpers behind it.
API = ("storage", "parent_task_result", "parent_flow_result", "parent_task_exception", "parent_flow_exception",
       "retry", "_parent_task_id", "_subflow_task_id", "_exception_of", "_storage_pool")

#: The user's class -> the class the worker constructs.
_runnable: dict[type, type] = {}


def runnable(cls: type) -> type:
    """The class to construct for the task class ``cls``: ``cls`` itself, or its subclass with flowtrace's API."""
    if issubclass(cls, FlowTask):
        return cls
    found = _runnable.get(cls)
    if found is None:
        namespace: dict[str, Any] = {name: FlowTask.__dict__[name] for name in API if _from_selinon(cls, name)}
        if not namespace:
            found = cls
        else:
            namespace.update(__module__=cls.__module__, __qualname__=cls.__qualname__, __doc__=cls.__doc__)
            # type(cls): the metaclass of the user's class (ABCMeta for SelinonTask's).
            metaclass: Any = type(cls)
            found = metaclass(cls.__name__, (cls,), namespace)
        _runnable[cls] = found
    return found


def construct(cls: type, flow_name: str, task_name: str, parent: Any, task_id: str, dispatcher_id: str,
              pool: Any, app: Any) -> Any:
    """Construct the task ``cls`` with Selinon's arguments, and give it flowtrace's storage pool and app."""
    instance = runnable(cls)(flow_name, task_name, parent or {}, task_id, dispatcher_id)
    instance._pool = pool
    instance._app = app
    return instance


def is_fatal(exc: BaseException) -> bool:
    """Whether ``exc`` fails the task without retries: flowtrace's :exc:`~flowtrace.FatalTaskError` or Selinon's."""
    if isinstance(exc, FatalTaskError):
        return True
    errors = sys.modules.get("selinon.errors")
    return errors is not None and isinstance(exc, errors.FatalTaskError)


def retry_countdown(exc: BaseException) -> float | None:
    """The countdown ``exc`` asks to be retried after (:exc:`~flowtrace.errors.RetryTask` or ``selinon.Retry``), or None."""
    if isinstance(exc, RetryTask):
        return exc.countdown
    errors = sys.modules.get("selinon.errors")
    if errors is not None and isinstance(exc, errors.Retry):
        return exc.countdown
    return None


def _from_selinon(cls: type, name: str) -> bool:
    """Whether ``cls`` lacks ``name`` or inherits it from Selinon's package, whose version needs Selinon's Config."""
    for klass in cls.__mro__:
        if name in klass.__dict__:
            return klass.__module__.split(".")[0] == "selinon"
    return True
