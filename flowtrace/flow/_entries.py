"""The ``tasks`` and ``storages`` entries of the flow model: classes named by their module and name.

Frozen dataclasses of plain data, as in :mod:`flowtrace.flow.model`, which
re-exports them; importing the class they name is :meth:`load_class`'s part.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Optional

from flowtrace.flow._options import Cache, SelectiveRunFunction
from flowtrace.flow._values import FrozenMap, Location

#: The Celery queue of tasks and dispatchers when neither the node nor ``global`` names one.
#:
#: .. versionadded:: 0.1.0
DEFAULT_QUEUE = "celery"


def import_attribute(module: str, name: str) -> Any:
    """The attribute ``name`` of the module ``module``, imported."""
    return getattr(importlib.import_module(module), name)


class _ClassReference:
    # What a storage and a task share: a class named by its module and its name.
    import_path: str
    class_name: str

    def load_class(self) -> type:
        """Import and return the class (YAML ``import`` and ``classname``).

        Returns:
            The class named by ``import_path`` and ``class_name``.

        Raises:
            ImportError: if the module cannot be imported.
            AttributeError: if the module has no such class.

        .. versionadded:: 0.1.0
        """
        return import_attribute(self.import_path, self.class_name)


@dataclass(frozen=True)
class Storage(_ClassReference):
    """A ``storages`` entry: where task results are kept.

    Attributes:
        name: the name tasks use in their ``storage`` key.
        import_path: the module of the storage class (YAML ``import``).
        class_name: the class in that module (YAML ``classname``; the name by default).
        configuration: keyword arguments for the class (YAML ``configuration``).
        location: where the entry was written.
        cache: the :class:`Cache` of its results (YAML ``cache``), or None.

    .. versionadded:: 0.1.0
    """

    name: str
    import_path: str
    class_name: str
    # Not FrozenMap[str, Any]: a comma here splits the documented signature (Sphinx and ``<factory>``).
    configuration: FrozenMap = field(default_factory=FrozenMap)
    location: Optional[Location] = None
    cache: Optional[Cache] = None

    def load_class(self) -> type:
        """Import and return the adapter class (YAML ``import`` and ``classname``).

        Selinon's own Redis, PostgreSQL and S3 adapters give flowtrace's
        adapter of the same kind (:mod:`flowtrace.storages.equivalents`).

        Returns:
            The adapter class.

        Raises:
            ImportError: if the module cannot be imported.
            AttributeError: if the module has no such class.

        .. versionadded:: 0.1.0
        """
        from flowtrace.storages.equivalents import equivalent

        return import_attribute(*equivalent(self.import_path, self.class_name))


@dataclass(frozen=True)
class Task(_ClassReference):
    """A ``tasks`` entry.

    Attributes:
        name: the node name used in flows; unique among tasks and flows.
        import_path: the module of the task class (YAML ``import``).
        class_name: the class in that module (YAML ``classname``; the name by default).
        max_retry: how many times the task is retried after a failure.
        retry_countdown: seconds to wait before a retry.
        storage: the name of the :class:`Storage` its result goes to, or None.
        storage_readonly: the task reads its storage but its result is not stored.
        storage_task_name: the name its result is stored under (the task name by default).
        queue: the Celery queue, ``{VAR}`` environment references expanded.
        output_schema: the path of a JSON schema for its result, or None.
        location: where the entry was written.
        throttling: the least time between two starts of the task (YAML
            ``throttling``, as :class:`datetime.timedelta` keywords), or None.
        selective_run_function: the :class:`SelectiveRunFunction` (YAML
            ``selective_run_function``), or None for Selinon's default, which always runs it.

    .. versionadded:: 0.1.0
    """

    name: str
    import_path: str
    class_name: str
    max_retry: int = 0
    retry_countdown: float = 0
    storage: Optional[str] = None
    storage_readonly: bool = False
    storage_task_name: Optional[str] = None
    queue: str = DEFAULT_QUEUE
    output_schema: Optional[str] = None
    location: Optional[Location] = None
    throttling: Optional[timedelta] = None
    selective_run_function: Optional[SelectiveRunFunction] = None


# Their public home is the model; say so in reprs, pickles and the API docs.
for _cls in (Storage, Task):
    _cls.__module__ = "flowtrace.flow.model"
del _cls
