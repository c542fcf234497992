"""The function sink: any callable, and importing one named in configuration."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def import_function(module: str, name: str) -> Callable[..., Any]:
    """Import ``name`` from ``module`` and check that it is callable.

    Only attribute lookups are done: nothing is evaluated from the strings.

    Args:
        module: the module's dotted name.
        name: the function's name in it; dots reach into attributes.

    Returns:
        The function.

    Raises:
        ValueError: naming the module or function that cannot be used.

    .. versionadded:: 0.1.0
    """
    if not isinstance(module, str) or not module or not isinstance(name, str) or not name:
        raise ValueError("a function sink needs 'import' and 'name' as non-empty strings")
    try:
        mod = importlib.import_module(module)
    except Exception as exc:
        raise ValueError("cannot import module %r for the function sink: %s: %s"
                         % (module, type(exc).__name__, exc)) from None
    fn: Any = mod
    for part in name.split("."):
        try:
            fn = getattr(fn, part)
        except AttributeError:
            raise ValueError("module %r has no attribute %r for the function sink" % (module, name)) from None
    if not callable(fn):
        raise ValueError("%s.%s is not callable, so it cannot be a sink" % (module, name))
    return fn
