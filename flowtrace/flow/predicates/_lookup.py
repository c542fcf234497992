"""Finding a predicate by its name, and reading what it takes from its signature.

The built-ins come from the family modules beside this one; a
``predicates_module`` is searched before them.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import re
from typing import Callable, List, Mapping, Optional, Tuple

from flowtrace.flow.predicates import _always, _lengths, _types, _urls, _values, _whole, _world

#: The built-in predicates by name: Selinon 1.4's 67, in families (see
#: :mod:`flowtrace.flow.predicates`).
#:
#: .. versionadded:: 0.1.0
BUILTINS: Mapping[str, Callable[..., bool]] = {
    fn.__name__: fn
    for family in (_always, _values, _lengths, _types, _urls, _whole, _world)
    for fn in family.PREDICATES
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
    """Return every predicate name :func:`resolve` finds, for suggestions: no other.

    Args:
        module: the ``predicates_module``, or None for the built-ins only; one
            that cannot be imported adds no name.

    Returns:
        The names, sorted.

    .. versionadded:: 0.1.0
    """
    candidates = set(BUILTINS)
    if module is not None:
        try:
            mod = import_module(module)
        except ImportError:
            return sorted(candidates)
        candidates.update(attr for attr, value in vars(mod).items()
                          if _NAME.match(attr) and callable(value) and not inspect.isclass(value))
    # Only what resolve() finds: a module attribute that is not callable hides the built-in of its name.
    found: set = set()
    for name in candidates:
        try:
            resolve(name, module)
        except (LookupError, ImportError):
            continue
        found.add(name)
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
