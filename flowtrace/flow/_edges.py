"""The edges and failures of a flow in the flow model: what starts after what, and what runs when nodes fail.

Frozen dataclasses of plain data, as in :mod:`flowtrace.flow.model`, which
re-exports them.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable, Literal, Optional, Tuple, Union

from flowtrace.flow._options import Selective
from flowtrace.flow._values import Location
from flowtrace.flow.conditions import ALWAYS_TRUE, Condition


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
        return getattr(importlib.import_module(self.import_path), self.function)


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


# Their public home is the model; say so in reprs, pickles and the API docs.
for _cls in (Foreach, Edge, Failure):
    _cls.__module__ = "flowtrace.flow.model"
del _cls
