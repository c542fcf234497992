"""What :meth:`StoragePool.results() <flowtrace.storages.pool.StoragePool.results>` returns: one flow's results by task name."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flowtrace.storages.pool import StoragePool


class FlowResults:
    """The results of one flow's tasks, read by task name through a :class:`~flowtrace.storages.pool.StoragePool`.

    What Selinon hands to edge conditions as its storage pool: ``get(name)``
    returns the result of the task ``name`` that ran in this flow.

    .. versionadded:: 0.1.0
    """

    def __init__(self, pool: StoragePool, flow_name: str, id_mapping: Mapping[str, str]) -> None:
        self.pool = pool
        self.flow_name = flow_name
        self.id_mapping = dict(id_mapping)

    def get(self, task_name: str) -> Any:
        """Return the result of the task ``task_name`` of this flow.

        Args:
            task_name: the task, as the flow configuration names it.

        Raises:
            KeyError: if the flow has no finished task of that name.
            flowtrace.storages.StorageError: as :meth:`~flowtrace.storages.pool.StoragePool.retrieve`.

        .. versionadded:: 0.1.0
        """
        return self.pool.retrieve(self.flow_name, task_name, self.id_mapping[task_name])


# Its public home is the pool's module, in reprs, pickles and the API docs.
FlowResults.__module__ = "flowtrace.storages.pool"
