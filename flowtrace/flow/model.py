"""The data model of a flow configuration: what :func:`flowtrace.load_flows` returns.

Every class here is a frozen dataclass holding plain data: names, numbers,
tuples and read-only mappings, never a live object. A configuration can be
compared, printed, pickled and shared between threads, and the dispatcher
reads it without importing anything but the predicate functions it calls.
Nodes refer to each other by name; :meth:`FlowConfig.node` looks a name up.

Each object remembers where it was written (:class:`Location`), so that a
problem found at run time can point at the line of YAML that caused it.

Reading and checking YAML is :mod:`flowtrace.flow.load`'s part; nothing
here imports it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Iterator, Optional, Tuple, Union

from flowtrace.errors import FlowConfigError
from flowtrace.flow._edges import Edge, Failure, Foreach
from flowtrace.flow._options import Cache, Sampling, Selective, SelectiveRunFunction, TraceStorage
from flowtrace.flow._values import FrozenMap, Location, Problem
from flowtrace.flow.conditions import ALWAYS_TRUE, And, Condition, Not, Or, Predicate

__all__ = [
    "Location", "Problem", "FlowConfigError", "FrozenMap", "Storage", "Task", "Predicate", "And", "Or", "Not",
    "Condition", "Foreach", "Edge", "Failure", "Flow", "Settings", "FlowConfig", "ALWAYS_TRUE",
    "PROPAGATE_OPTIONS", "DEFAULT_QUEUE", "Cache", "Sampling", "Selective", "SelectiveRunFunction", "TraceStorage",
]

#: The Celery queue of tasks and dispatchers when neither the node nor ``global`` names one.
#:
#: .. versionadded:: 0.1.0
DEFAULT_QUEUE = "celery"

#: The ``propagate_*`` options of a flow, without the prefix, as :meth:`Flow.propagates` takes them.
#:
#: .. versionadded:: 0.1.0
PROPAGATE_OPTIONS = ("node_args", "parent", "finished", "failures", "parent_failures", "compound_finished",
                     "compound_failures")


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


@dataclass(frozen=True)
class Flow:
    """A flow: a named graph of tasks and sub-flows.

    Attributes:
        name: the node name; unique among tasks and flows.
        edges: the edges, in the order written.
        failures: the :class:`Failure` entries, in the order written.
        nowait: nodes the flow starts but does not wait for.
        max_retry: how many times the whole flow is retried after a failure.
        retry_countdown: seconds to wait before such a retry.
        queue: the Celery queue of its dispatcher, ``{VAR}`` references expanded.
        propagate_node_args: True, False or the names of the sub-flows that get
            this flow's node arguments.
        propagate_parent: True, False or the sub-flows told which nodes ran before them.
        propagate_finished: True, False or the sub-flows whose finished nodes
            are passed on to the nodes after them.
        propagate_failures: True, False or the sub-flows whose failed nodes are
            passed on to the fallbacks.
        location: where the flow's definition was written.
        propagate_parent_failures: True, False or the sub-flows told which
            nodes failed before them.
        propagate_compound_finished: as ``propagate_finished``, with the
            finished nodes of nested sub-flows flattened into one mapping.
        propagate_compound_failures: as ``propagate_failures``, flattened likewise.
        node_args_from_first: the result of the one starting task becomes the
            flow's node arguments.
        eager_failures: True (any node), False, or the nodes whose failure
            fails the flow at once, without waiting for the other nodes.
        throttling: the least time between two starts of the flow (YAML
            ``throttling``), or None.
        cache: the :class:`Cache` of its nodes' states (YAML ``cache``), or None.
        sampling: the :class:`Sampling` strategy of its dispatcher, or None
            for Selinon's default (``biexponential_increase``, 2 to 120 seconds).

    .. versionadded:: 0.1.0
    """

    name: str
    edges: Tuple[Edge, ...]
    failures: Tuple[Failure, ...] = ()
    nowait: Tuple[str, ...] = ()
    max_retry: int = 0
    retry_countdown: float = 0
    queue: str = DEFAULT_QUEUE
    propagate_node_args: Union[bool, Tuple[str, ...]] = False
    propagate_parent: Union[bool, Tuple[str, ...]] = False
    propagate_finished: Union[bool, Tuple[str, ...]] = False
    propagate_failures: Union[bool, Tuple[str, ...]] = False
    location: Optional[Location] = None
    propagate_parent_failures: Union[bool, Tuple[str, ...]] = False
    propagate_compound_finished: Union[bool, Tuple[str, ...]] = False
    propagate_compound_failures: Union[bool, Tuple[str, ...]] = False
    node_args_from_first: bool = False
    eager_failures: Union[bool, Tuple[str, ...]] = False
    throttling: Optional[timedelta] = None
    cache: Optional[Cache] = None
    sampling: Optional[Sampling] = None

    @property
    def starting_edges(self) -> Tuple[Edge, ...]:
        """The edges without ``from`` nodes, which run when the flow starts.

        .. versionadded:: 0.1.0
        """
        return tuple(edge for edge in self.edges if edge.is_starting)

    def node_names(self) -> Tuple[str, ...]:
        """Every node the flow names in its edges and failures, in the order first written.

        Returns:
            The node names, each once.

        .. versionadded:: 0.1.0
        """
        seen: dict[str, None] = {}
        for edge in self.edges:
            for name in edge.nodes_from + edge.nodes_to:
                seen.setdefault(name)
        for failure in self.failures:
            fallback = failure.fallback if isinstance(failure.fallback, tuple) else ()
            for name in failure.nodes + fallback:
                seen.setdefault(name)
        return tuple(seen)

    def propagates(self, option: str, node: str) -> bool:
        """Whether ``propagate_<option>`` applies to ``node``: set to True, or a list naming it.

        Args:
            option: one of :data:`PROPAGATE_OPTIONS`, such as ``'node_args'``.
            node: a node name.

        Raises:
            ValueError: for an unknown option.

        .. versionadded:: 0.1.0
        """
        if option not in PROPAGATE_OPTIONS:
            raise ValueError("unknown propagate option %r; expected one of %s" % (option, ", ".join(PROPAGATE_OPTIONS)))
        value = getattr(self, "propagate_" + option)
        return value is True or (isinstance(value, tuple) and node in value)


@dataclass(frozen=True)
class Settings:
    """The ``global`` section.

    Attributes:
        trace: the ``trace`` entries, one sink per entry, as
            :meth:`flowtrace.Trace.configure` takes them. Selinon's single
            mapping and its entries with several sinks are split into one entry each.
        predicates_module: the module user predicates come from, or None.
        default_task_queue: the queue of tasks that do not name one.
        default_dispatcher_queue: the queue of flows that do not name one.
        location: where the section was written, or None when there is none.
        migration_dir: the folder of Selinon-format migrations (YAML
            ``migration_dir``, ``{VAR}`` references expanded), or None.
        trace_storages: the ``trace`` entries ``storage``, which name a storage
            adapter rather than a sink and so are not in ``trace``.

    .. versionadded:: 0.1.0
    """

    trace: Tuple[Any, ...] = ()
    predicates_module: Optional[str] = None
    default_task_queue: str = DEFAULT_QUEUE
    default_dispatcher_queue: str = DEFAULT_QUEUE
    location: Optional[Location] = None
    migration_dir: Optional[str] = None
    trace_storages: Tuple[TraceStorage, ...] = ()


@dataclass(frozen=True)
class FlowConfig:
    """A loaded and checked flow configuration: what :func:`flowtrace.load_flows` returns.

    Attributes:
        tasks: task name to :class:`Task`, in the order written.
        flows: flow name to :class:`Flow`, in the order listed under ``flows``.
        storages: storage name to :class:`Storage`.
        settings: the ``global`` section.
        files: the YAML files read, in the order read.

    .. versionadded:: 0.1.0
    """

    tasks: FrozenMap[str, Task]
    flows: FrozenMap[str, Flow]
    storages: FrozenMap[str, Storage]
    settings: Settings = Settings()
    files: Tuple[str, ...] = ()

    def node(self, name: str) -> Union[Task, Flow]:
        """Return the task or flow called ``name``.

        Args:
            name: a node name.

        Returns:
            The :class:`Task` or :class:`Flow`.

        Raises:
            KeyError: if there is neither.

        .. versionadded:: 0.1.0
        """
        if name in self.tasks:
            return self.tasks[name]
        return self.flows[name]

    def is_flow(self, name: str) -> bool:
        """Whether ``name`` is a flow (and not a task).

        Args:
            name: a node name.

        Returns:
            True for a flow, False for a task or an unknown name.

        .. versionadded:: 0.1.0
        """
        return name in self.flows

    def __iter__(self) -> Iterator[Flow]:
        return iter(self.flows.values())
