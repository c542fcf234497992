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

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Callable, Iterator, Literal, Optional, Tuple, Union

from flowtrace.errors import FlowConfigError
from flowtrace.flow._entries import DEFAULT_QUEUE, Storage, Task, import_attribute
from flowtrace.flow._options import Cache, Sampling, Selective, SelectiveRunFunction, TraceStorage
from flowtrace.flow._values import FrozenMap, Location, Problem
from flowtrace.flow.conditions import ALWAYS_TRUE, And, Condition, Not, Or, Predicate

__all__ = [
    "Location", "Problem", "FlowConfigError", "FrozenMap", "Storage", "Task", "Predicate", "And", "Or", "Not",
    "Condition", "Foreach", "Edge", "Failure", "Flow", "Settings", "FlowConfig", "ALWAYS_TRUE",
    "PROPAGATE_OPTIONS", "DEFAULT_QUEUE", "Cache", "Sampling", "Selective", "SelectiveRunFunction", "TraceStorage",
]

#: The ``propagate_*`` options of a flow, without the prefix, as :meth:`Flow.propagates` takes them.
#:
#: .. versionadded:: 0.1.0
PROPAGATE_OPTIONS = ("node_args", "parent", "finished", "failures", "parent_failures", "compound_finished",
                     "compound_failures")


@dataclass(frozen=True)
class Foreach:
    """An edge's ``foreach``: start the ``to`` nodes once per item of an iterable.

    The function is called as ``function(storage_pool, node_args)``, as in
    Selinon, and returns the iterable.

    Attributes:
        import_path: the module (YAML ``import``).
        function: the function's name in that module.
        propagate_result: each item becomes the node arguments of the
            sub-flows started (every ``to`` node is then a flow).
        location: where ``foreach`` was written.

    .. versionadded:: 0.1.0
    """

    import_path: str
    function: str
    propagate_result: bool = False
    location: Optional[Location] = None

    def load(self) -> Callable[..., Any]:
        """Import and return the function.

        Returns:
            The function named by ``import_path`` and ``function``, which the
            dispatcher calls as ``function(storage_pool, node_args)``.

        Raises:
            ImportError: if the module named by ``import_path`` cannot be imported.
            AttributeError: if it has no ``function``.

        .. versionadded:: 0.1.0
        """
        return import_attribute(self.import_path, self.function)


@dataclass(frozen=True)
class Edge:
    """An edge of a flow: when every ``from`` node has finished and the condition holds, start the ``to`` nodes.

    Attributes:
        nodes_from: the names of the nodes waited for; empty for a starting edge.
        nodes_to: the names of the nodes started.
        condition: the condition; :data:`~flowtrace.flow.conditions.ALWAYS_TRUE` when YAML gives none.
        foreach: the :class:`Foreach`, or None.
        location: where the edge was written.
        selective: the :class:`Selective` run of the sub-flow it starts (YAML ``selective``), or None.

    .. versionadded:: 0.1.0
    """

    nodes_from: Tuple[str, ...]
    nodes_to: Tuple[str, ...]
    condition: Condition = ALWAYS_TRUE
    foreach: Optional[Foreach] = None
    location: Optional[Location] = None
    selective: Optional[Selective] = None

    @property
    def is_starting(self) -> bool:
        """Whether this edge starts the flow (it has no ``from`` nodes).

        .. versionadded:: 0.1.0
        """
        return not self.nodes_from


@dataclass(frozen=True)
class Failure:
    """A ``failures`` entry of a flow: what to start when some nodes fail.

    Attributes:
        nodes: the nodes whose failure this entry handles, all of them together.
        fallback: the names of the nodes to start instead, or True to carry on
            as if the nodes had not failed.
        propagate_failure: once the fallback has run, the flow still fails.
        location: where the entry was written.
        condition: when the entry applies; predicates of the flow's
            arguments only, as no result is read. :data:`~flowtrace.flow.conditions.ALWAYS_TRUE` when
            YAML gives none.

    .. versionadded:: 0.1.0
    """

    nodes: Tuple[str, ...]
    fallback: Union[Literal[True], Tuple[str, ...]]
    propagate_failure: bool = False
    location: Optional[Location] = None
    condition: "Condition" = ALWAYS_TRUE


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
