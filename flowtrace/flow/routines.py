"""The routines a flow configuration names at run time: the default selective run function.

A task's ``selective_run_function`` without ``import`` (or with Selinon's
``import: selinon.routines``) is :func:`always_run`, so that a Selinon
project's YAML loads and runs without Selinon installed.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

__all__ = ["always_run", "SELINON_MODULE"]

#: The module a Selinon project's ``selective_run_function: import`` names for :func:`always_run`.
#:
#: .. versionadded:: 0.1.0
SELINON_MODULE = "selinon.routines"


def always_run(flow_name: str, node_name: str, node_args: Any, task_names: Sequence[str],
               storage_pool: Any) -> Optional[str]:
    """Run the task again in every selective run: the default ``selective_run_function``.

    A selective run asks a task's function, before it starts a task that is on
    the path to the requested ones but not requested itself, whether an
    earlier result will do. A function returns the id of the task whose stored
    result to reuse, or None to run the task; this one always says None.

    Args:
        flow_name: the flow the task would run in.
        node_name: the task.
        node_args: the arguments the task would get.
        task_names: the tasks the selective run asked for.
        storage_pool: the results of the nodes before it: ``get(task_name)``.

    Returns:
        None: run the task.

    .. versionadded:: 0.1.0
    """
    return None
