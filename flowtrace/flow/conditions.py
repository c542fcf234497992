"""Edge conditions: evaluating a condition tree, and writing it as one line of text.

A condition in YAML is a tree, as in Selinon:

.. code-block:: yaml

    condition:
      and:
        - name: fieldEqual            # a predicate, called with the result of `node`
          node: fetch
          args: {key: status, value: ok}
        - not:
            name: argsFieldExist      # a predicate of the flow's arguments
            args: {key: dry_run}

Loaded, it is a tree of :class:`And`, :class:`Or` and :class:`Not` over
:class:`Predicate` leaves, defined here and re-exported by
:mod:`flowtrace.flow.model`. :func:`evaluate` walks that
tree, calling each predicate function (:mod:`flowtrace.flow.predicates`);
nothing is compiled or evaluated from text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Optional, Tuple, Union, cast

from flowtrace.flow._values import FrozenMap, Location
from flowtrace.flow.predicates import resolve

__all__ = ["Predicate", "And", "Or", "Not", "Condition", "ALWAYS_TRUE", "evaluate", "describe"]


@dataclass(frozen=True)
class Predicate:
    """A call of one predicate function: a leaf of a condition.

    Evaluate conditions with :func:`flowtrace.flow.conditions.evaluate`.

    Attributes:
        name: the function's name, looked up in ``predicates_module`` and then
            among the built-ins of :mod:`flowtrace.flow.predicates`.
        node: the node whose result the predicate reads, when it reads one.
            Filled in from the edge when the edge has a single ``from`` node.
        args: the keyword arguments given in YAML (``args``).
        reads_result: the function takes ``message``: the node's stored result.
        reads_node_args: the function takes ``node_args``: the flow's arguments.
        location: where the predicate was written.

    .. versionadded:: 0.1.0
    """

    name: str
    node: Optional[str] = None
    args: FrozenMap = field(default_factory=FrozenMap)  # as Storage.configuration
    reads_result: bool = False
    reads_node_args: bool = False
    location: Optional[Location] = None


@dataclass(frozen=True)
class And:
    """True when every one of ``children`` is true; evaluated left to right, lazily.

    .. versionadded:: 0.1.0
    """

    children: Tuple["Condition", ...]
    location: Optional[Location] = None


@dataclass(frozen=True)
class Or:
    """True when any one of ``children`` is true; evaluated left to right, lazily.

    .. versionadded:: 0.1.0
    """

    children: Tuple["Condition", ...]
    location: Optional[Location] = None


@dataclass(frozen=True)
class Not:
    """True when ``child`` is false.

    .. versionadded:: 0.1.0
    """

    child: "Condition"
    location: Optional[Location] = None


#: A condition: a tree of :class:`And`, :class:`Or` and :class:`Not` over :class:`Predicate` leaves.
Condition = Union[Predicate, And, Or, Not]

#: The condition of an edge that has none in YAML.
#:
#: .. versionadded:: 0.1.0
ALWAYS_TRUE = Predicate("alwaysTrue")


def evaluate(condition: Condition, *, node_args: Any = None, result_of: Optional[Callable[[str], Any]] = None,
             predicates_module: Optional[str] = None) -> bool:
    """Evaluate a condition.

    ``and`` and ``or`` stop at the first child that decides, as in Python, so
    a result is only read when a predicate needs it.

    Args:
        condition: a :class:`Predicate`, :class:`And`, :class:`Or` or
            :class:`Not`.
        node_args: the flow's arguments, for predicates that take ``node_args``.
        result_of: called with a node name, returns that node's stored result;
            needed when a predicate takes ``message``.
        predicates_module: ``global: predicates_module``
            (``config.settings.predicates_module``).

    Returns:
        Whether the condition holds.

    Raises:
        Exception: whatever a user predicate or ``result_of`` raises; the
            built-in predicates never raise.

    .. versionadded:: 0.1.0
    """
    if isinstance(condition, Predicate):
        fn = resolve(condition.name, predicates_module)
        kwargs: Dict[str, Any] = dict(condition.args)
        if condition.reads_result:
            if result_of is None:
                raise ValueError("predicate %r reads the result of %r: pass result_of"
                                 % (condition.name, condition.node))
            # A loaded configuration names the node of every predicate that reads a result.
            kwargs["message"] = result_of(cast(str, condition.node))
        if condition.reads_node_args:
            kwargs["node_args"] = node_args
        return bool(fn(**kwargs))
    if isinstance(condition, And):
        return all(evaluate(child, node_args=node_args, result_of=result_of, predicates_module=predicates_module)
                   for child in condition.children)
    if isinstance(condition, Or):
        return any(evaluate(child, node_args=node_args, result_of=result_of, predicates_module=predicates_module)
                   for child in condition.children)
    if isinstance(condition, Not):
        return not evaluate(condition.child, node_args=node_args, result_of=result_of,
                            predicates_module=predicates_module)
    raise TypeError("not a condition: %r" % (condition,))


def describe(condition: Condition) -> str:
    """Return a condition as one line of text, such as ``fieldEqual(fetch, key='status', value='ok')``.

    Args:
        condition: as for :func:`evaluate`.

    Returns:
        The text; nested ``and`` and ``or`` are in parentheses.

    Raises:
        TypeError: if ``condition`` is not a condition.

    .. versionadded:: 0.1.0
    """
    if isinstance(condition, Predicate):
        parts = [condition.node] if condition.node else []
        parts += ["%s=%r" % item for item in condition.args.items()]
        return "%s(%s)" % (condition.name, ", ".join(parts))
    if isinstance(condition, (And, Or)):
        word = " and " if isinstance(condition, And) else " or "
        text = word.join(_nested(child) for child in condition.children)
        return text
    if isinstance(condition, Not):
        return "not " + _nested(condition.child)
    raise TypeError("not a condition: %r" % (condition,))


def _nested(condition: Condition) -> str:
    text = describe(condition)
    return "(%s)" % text if isinstance(condition, (And, Or)) and len(condition.children) > 1 else text
