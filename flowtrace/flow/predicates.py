"""Edge conditions' predicates: the built-ins, and finding and inspecting a predicate by its name.

A condition in YAML is a tree of predicates, as in Selinon (see
:mod:`flowtrace.flow.conditions`, which evaluates it). A predicate is a
plain function, called with keyword arguments only:

- one that reads a task's result takes ``message`` (the result, read from the
  task's storage): ``fieldEqual(message, key, value)``;
- one that reads the flow's arguments takes ``node_args``:
  ``argsFieldEqual(node_args, key, value)``;
- the rest of its parameters are filled from ``args``.

Names are looked up in the ``global: predicates_module`` first, then among the
built-ins here (:func:`resolve`), so a module written for Selinon (which
re-exports Selinon's predicates) keeps working. The field predicates follow a
``key`` into the result: a string is one key, a list is a path of keys and
indexes; any error on the way (a missing key, a result that is not a mapping)
makes the predicate false.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import re
from typing import Callable, List, Mapping, Optional, Tuple

__all__ = [
    "alwaysTrue", "alwaysFalse", "fieldEqual", "fieldExist", "fieldLenEqual", "fieldLenGreater", "fieldLenLess",
    "fieldContain", "argsFieldEqual", "argsFieldExist", "BUILTINS", "Signature", "resolve", "signature",
]

_MISSING = object()


def _field(data, key):
    """Follow ``key`` (one key, or a list of keys and indexes) into ``data``; ``_MISSING`` if it is not there."""
    try:
        for part in (key if isinstance(key, list) else [key]):
            data = data[part]
    except Exception:  # any container, any key: a result that does not fit is just false
        return _MISSING
    return data


def alwaysTrue() -> bool:  # noqa: N802 (Selinon's names)
    """Always true: the condition of an edge that gives none.

    Returns:
        True.

    .. versionadded:: 0.1.0
    """
    return True


def alwaysFalse() -> bool:  # noqa: N802
    """Always false: an edge that never fires, for switching one off.

    Returns:
        False.

    .. versionadded:: 0.1.0
    """
    return False


def fieldEqual(message, key, value) -> bool:  # noqa: N802
    """Whether the result has ``key`` and its value equals ``value``.

    Args:
        message: the node's result.
        key: a key, or a list of keys and indexes leading into the result.
        value: the value compared with.

    .. versionadded:: 0.1.0
    """
    found = _field(message, key)
    return found is not _MISSING and found == value


def fieldExist(message, key) -> bool:  # noqa: N802
    """Whether the result has ``key``.

    Args:
        message: the node's result.
        key: a key, or a list of keys and indexes leading into the result.

    .. versionadded:: 0.1.0
    """
    return _field(message, key) is not _MISSING


def _length(message, key):
    try:
        return len(_field(message, key))
    except TypeError:  # _MISSING, a number, None: no length
        return None


def fieldLenEqual(message, key, length) -> bool:  # noqa: N802
    """Whether the value at ``key`` has exactly ``length`` items.

    Args:
        message: the node's result.
        key: a key, or a list of keys and indexes leading into the result.
        length: the number of items.

    .. versionadded:: 0.1.0
    """
    found = _length(message, key)
    return found is not None and found == length


def fieldLenGreater(message, key, length) -> bool:  # noqa: N802
    """Whether the value at ``key`` has more than ``length`` items.

    Args:
        message: the node's result.
        key: a key, or a list of keys and indexes leading into the result.
        length: the number of items to exceed.

    .. versionadded:: 0.1.0
    """
    found = _length(message, key)
    try:
        return found is not None and found > length
    except TypeError:  # a length that is not a number
        return False


def fieldLenLess(message, key, length) -> bool:  # noqa: N802
    """Whether the value at ``key`` has fewer than ``length`` items.

    Args:
        message: the node's result.
        key: a key, or a list of keys and indexes leading into the result.
        length: the number of items to stay under.

    .. versionadded:: 0.1.0
    """
    found = _length(message, key)
    try:
        return found is not None and found < length
    except TypeError:
        return False


def fieldContain(message, key, value) -> bool:  # noqa: N802
    """Whether the value at ``key`` contains ``value`` (``value in found``).

    Args:
        message: the node's result.
        key: a key, or a list of keys and indexes leading into the result.
        value: what the value at ``key`` must contain.

    .. versionadded:: 0.1.0
    """
    found = _field(message, key)
    try:
        return found is not _MISSING and value in found
    except TypeError:  # found is not a container
        return False


def argsFieldEqual(node_args, key, value) -> bool:  # noqa: N802
    """Whether the flow's arguments have ``key`` and its value equals ``value``.

    Args:
        node_args: the flow's arguments.
        key: a key, or a list of keys and indexes leading into them.
        value: the value compared with.

    .. versionadded:: 0.1.0
    """
    found = _field(node_args, key)
    return found is not _MISSING and found == value


def argsFieldExist(node_args, key) -> bool:  # noqa: N802
    """Whether the flow's arguments have ``key``.

    Args:
        node_args: the flow's arguments.
        key: a key, or a list of keys and indexes leading into them.

    .. versionadded:: 0.1.0
    """
    return _field(node_args, key) is not _MISSING


#: The built-in predicates by name.
#:
#: .. versionadded:: 0.1.0
BUILTINS: Mapping[str, Callable[..., bool]] = {
    fn.__name__: fn for fn in (
        alwaysTrue, alwaysFalse, fieldEqual, fieldExist, fieldLenEqual, fieldLenGreater, fieldLenLess,
        fieldContain, argsFieldEqual, argsFieldExist,
    )
}

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def resolve(name: str, module: Optional[str] = None) -> Callable[..., bool]:
    """Return the predicate function called ``name``.

    Args:
        name: the predicate's name: letters, digits and underscores, starting
            with a letter.
        module: the ``predicates_module``, searched before the built-ins.

    Returns:
        The function.

    Raises:
        ImportError: if ``module`` cannot be imported (any exception its
            import raises is re-raised as :class:`ImportError`).
        LookupError: if there is no callable of that name.

    .. versionadded:: 0.1.0
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise LookupError("%r is not a predicate name" % (name,))
    if module is not None:
        fn = getattr(import_module(module), name, None)
        if fn is not None:
            if not callable(fn):
                raise LookupError("%s.%s is not callable, so it is not a predicate" % (module, name))
            return fn
    try:
        return BUILTINS[name]
    except KeyError:
        where = " in %s or" % module if module else ""
        raise LookupError("there is no predicate %r%s among the built-ins" % (name, where)) from None


def names(module: Optional[str] = None) -> List[str]:
    """Return every predicate name :func:`resolve` would find, for suggestions.

    Args:
        module: the ``predicates_module``, or None for the built-ins only; one
            that cannot be imported adds no name.

    Returns:
        The names, sorted.

    .. versionadded:: 0.1.0
    """
    found = set(BUILTINS)
    if module is not None:
        try:
            mod = import_module(module)
        except ImportError:
            mod = None
        for attr, value in (vars(mod) if mod is not None else {}).items():
            if _NAME.match(attr) and callable(value) and not inspect.isclass(value):
                found.add(attr)
    return sorted(found)


def import_module(module: str):
    """Import ``module``, a predicates module; internal to the package (:mod:`flowtrace.flow.load` uses it too).

    Args:
        module: the dotted module name.

    Returns:
        The module.

    Raises:
        ImportError: if it cannot be imported; any exception its import
            raises is re-raised as one.

    .. versionadded:: 0.1.0
    """
    try:
        return importlib.import_module(module)
    except ImportError:
        raise
    except (Exception, SystemExit) as exc:  # a module that fails while it runs
        raise ImportError("%s: %s" % (type(exc).__name__, exc)) from exc


class Signature:
    """What a predicate function takes, from :func:`inspect.signature`.

    Attributes:
        reads_result: it takes ``message``.
        reads_node_args: it takes ``node_args``.
        required: the names of the other parameters without a default.
        optional: the names of the other parameters with a default.
        any_args: it takes ``**kwargs``, so any argument name is accepted.
        problem: why the function cannot be called as a predicate, or None.

    .. versionadded:: 0.1.0
    """

    def __init__(self, reads_result=False, reads_node_args=False, required=(), optional=(), any_args=False,
                 problem=None):
        self.reads_result = reads_result
        self.reads_node_args = reads_node_args
        self.required = tuple(required)
        self.optional = tuple(optional)
        self.any_args = any_args
        self.problem = problem

    def check_args(self, given) -> Tuple[List[str], List[str]]:
        """Check the argument names a condition gives the predicate.

        Args:
            given: the names of the arguments in YAML (``args``).

        Returns:
            ``(missing, unknown)``: the required names not in ``given``, and
            the names in ``given`` the function does not take.

        .. versionadded:: 0.1.0
        """
        missing = [name for name in self.required if name not in given]
        known = set(self.required) | set(self.optional)
        unknown = [] if self.any_args else [name for name in given if name not in known]
        return missing, unknown


@functools.lru_cache(maxsize=None)
def _signature_of(fn) -> Signature:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError) as exc:
        return Signature(problem="its signature cannot be inspected (%s)" % exc)
    reads = {"message": False, "node_args": False}
    required, optional, any_args = [], [], False
    for param in params:
        if param.kind is param.VAR_KEYWORD:
            any_args = True
        elif param.kind is param.VAR_POSITIONAL:
            continue
        elif param.kind is param.POSITIONAL_ONLY:
            if param.default is param.empty:
                return Signature(problem="its parameter %r is positional-only, but predicates are called with "
                                 "keyword arguments" % param.name)
        elif param.name in reads:
            reads[param.name] = True
        elif param.default is param.empty:
            required.append(param.name)
        else:
            optional.append(param.name)
    return Signature(reads["message"], reads["node_args"], required, optional, any_args)


def signature(fn: Callable) -> Signature:
    """Return the :class:`Signature` of a predicate function.

    Args:
        fn: the function, as :func:`resolve` returns it.

    Returns:
        What it takes; a function that cannot be a predicate has a ``problem``.

    .. versionadded:: 0.1.0
    """
    try:
        return _signature_of(fn)
    except TypeError:  # an unhashable callable: not cached
        return _signature_of.__wrapped__(fn)
