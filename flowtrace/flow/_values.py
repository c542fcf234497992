"""The plain values the flow model is built from: where a thing was written, a problem found, a read-only mapping.

They live apart from :mod:`flowtrace.flow.model` so that the condition tree
(:mod:`flowtrace.flow.conditions`) and the model can both use them without
importing each other. :mod:`flowtrace.flow.model` re-exports them.
"""

from __future__ import annotations

from typing import Any, Generic, NamedTuple, NoReturn, TypeVar

_K = TypeVar("_K")
_V = TypeVar("_V")

__all__ = ["Location", "Problem", "FrozenMap"]


class Location(NamedTuple):
    """Where something was written: a file and a 1-based line.

    .. versionadded:: 0.1.0
    """

    path: str
    line: int

    def __str__(self) -> str:
        return "%s:%d" % (self.path, self.line)


class Problem(NamedTuple):
    """One error found in flow configuration; ``str()`` gives ``file:line: message``.

    .. versionadded:: 0.1.0
    """

    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return "%s:%d: %s" % (self.path, self.line, self.message)


class FrozenMap(dict[_K, _V], Generic[_K, _V]):
    """A :class:`dict` that refuses changes; hashable when its values are.

    Used for every mapping in the configuration. Values nested inside it
    (the lists and dicts of a predicate's ``args`` or a storage's
    ``configuration``) are plain copies of what the YAML held, so that a
    predicate comparing a list with a list still gets equality.

    .. versionadded:: 0.1.0
    """

    __slots__ = ()

    def _refuse(self, *args: object, **kwargs: object) -> NoReturn:
        raise TypeError("flow configuration is read-only")

    __setitem__ = __delitem__ = __ior__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse

    # typeshed declares dict unhashable (__hash__ = None); this one is read-only.
    def __hash__(self) -> int:  # type: ignore[override]
        return hash(frozenset(self.items()))

    def __reduce__(self) -> tuple[type[FrozenMap[_K, _V]], tuple[dict[_K, _V]]]:
        return (FrozenMap, (dict(self),))

    def __copy__(self) -> FrozenMap[_K, _V]:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> FrozenMap[_K, _V]:
        return self

    def __repr__(self) -> str:
        return "FrozenMap(%s)" % dict.__repr__(self)


# Their public home is the model; say so in reprs, pickles and the API docs.
for _cls in (Location, Problem, FrozenMap):
    _cls.__module__ = "flowtrace.flow.model"
del _cls
