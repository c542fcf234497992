"""The smaller parts of the flow model: caches, sampling, selective runs and trace storages.

Each is a frozen dataclass of plain data, as in :mod:`flowtrace.flow.model`,
which re-exports them; they live here to keep that module short. They hold
what Selinon's YAML says; what they do at run time is the dispatcher's and
the task runtime's part.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Tuple, Union

from flowtrace.flow._values import FrozenMap, Location

__all__ = ["Cache", "Sampling", "SelectiveRunFunction", "Selective", "TraceStorage", "CACHE_NAMES", "STRATEGIES"]

#: The caches Selinon ships (``selinon.caches``), which a ``cache`` without ``import`` names.
#:
#: .. versionadded:: 0.1.0
CACHE_NAMES = ("LRU", "MRU", "FIFO", "LIFO", "RR")

#: The sampling strategies Selinon ships (``selinon.strategies``), which a ``sampling`` without
#: ``import`` names, each with the arguments its ``args`` must give (besides ``status``).
#:
#: .. versionadded:: 0.1.0
STRATEGIES = {
    "constant": ("retry",),
    "linear_increase": ("start_retry", "max_retry", "step"),
    "linear_adapt": ("start_retry", "max_retry", "step"),
    "biexponential_increase": ("start_retry", "max_retry"),
    "biexponential_decrease": ("start_retry", "stop_retry"),
    "biexponential_adapt": ("start_retry", "max_retry"),
    "random": ("start_retry", "max_retry"),
}


def _no_cache_size() -> FrozenMap:
    return FrozenMap({"max_cache_size": 0})


def _default_strategy_args() -> FrozenMap:
    return FrozenMap({"start_retry": 2, "max_retry": 120})


@dataclass(frozen=True)
class Cache:
    """A ``cache`` of a storage (for results) or of a flow (for node states), as Selinon configures one.

    Attributes:
        name: the cache class (YAML ``name``; Selinon's default is ``LRU``).
        import_path: its module (YAML ``import``), or None for one of
            Selinon's caches, :data:`~flowtrace.flow._options.CACHE_NAMES`.
        configuration: keyword arguments for the class (YAML
            ``configuration``; Selinon's default is ``max_cache_size: 0``).
        location: where ``cache`` was written.

    .. versionadded:: 0.1.0
    """

    name: str = "LRU"
    import_path: Optional[str] = None
    configuration: FrozenMap = field(default_factory=_no_cache_size)
    location: Optional[Location] = None


@dataclass(frozen=True)
class Sampling:
    """A flow's ``sampling``: the strategy that decides when its dispatcher looks at the flow again.

    Attributes:
        name: the strategy function (YAML ``name``).
        import_path: its module (YAML ``import``), or None for one of
            Selinon's strategies, :data:`~flowtrace.flow._options.STRATEGIES`.
        args: its keyword arguments besides ``status`` (YAML ``args``).
        location: where ``sampling`` was written.

    .. versionadded:: 0.1.0
    """

    name: str = "biexponential_increase"
    import_path: Optional[str] = None
    args: FrozenMap = field(default_factory=_default_strategy_args)
    location: Optional[Location] = None


@dataclass(frozen=True)
class SelectiveRunFunction:
    """A task's ``selective_run_function``: whether a selective run runs the task.

    Selinon calls it as ``function(flow_name, node_name, node_args,
    task_names, storage_pool)``.

    Attributes:
        name: the function (YAML ``name``; Selinon's default is ``always_run``).
        import_path: its module (YAML ``import``), or None for Selinon's
            ``selinon.routines``.
        location: where ``selective_run_function`` was written.

    .. versionadded:: 0.1.0
    """

    name: str = "always_run"
    import_path: Optional[str] = None
    location: Optional[Location] = None


@dataclass(frozen=True)
class Selective:
    """An edge's ``selective``: the sub-flow it starts runs only the path to some tasks.

    Attributes:
        tasks: the tasks to run (YAML ``tasks``).
        run_subsequent: also run the tasks after them: True, False, or the
            flows in which to do so.
        follow_subflows: also look for the tasks in sub-flows.
        location: where ``selective`` was written.

    .. versionadded:: 0.1.0
    """

    tasks: Tuple[str, ...]
    run_subsequent: Union[bool, Tuple[str, ...]] = False
    follow_subflows: bool = False
    location: Optional[Location] = None


@dataclass(frozen=True)
class TraceStorage:
    """A ``global: trace`` entry ``storage``: events are passed to a method of a storage adapter.

    Attributes:
        storage: the name of the :class:`~flowtrace.flow.model.Storage` (YAML ``name``).
        method: the adapter's method that takes each event (YAML ``method``).
        location: where the entry was written.

    .. versionadded:: 0.1.0
    """

    storage: str
    method: str = "trace"
    location: Optional[Location] = None


# Their public home is the model; say so in reprs, pickles and the API docs.
for _cls in (Cache, Sampling, SelectiveRunFunction, Selective, TraceStorage):
    _cls.__module__ = "flowtrace.flow.model"
del _cls
