"""Optional dependencies that fail with one clear message."""

from __future__ import annotations

import importlib

from flowtrace.errors import MissingDependency


def require(module: str, extra: str, feature: str):
    """Import ``module`` or raise :class:`MissingDependency` naming ``extra``."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependency(
            "%s needs the %r package, which is not installed; install it with: pip install 'flowtrace[%s]'"
            % (feature, module.split(".")[0], extra)
        ) from exc
