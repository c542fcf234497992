"""Optional dependencies that fail with one clear message."""

from __future__ import annotations

import importlib


class MissingDependency(ImportError):
    """An optional package that a sink needs is not installed.

    The message names the extra to install, for example
    ``pip install flowtrace[sentry]``.

    .. versionadded:: 0.1.0
    """


def require(module: str, extra: str, feature: str):
    """Import ``module`` or raise :class:`MissingDependency` naming ``extra``."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependency(
            "%s needs the %r package, which is not installed; install it with: pip install 'flowtrace[%s]'"
            % (feature, module.split(".")[0], extra)
        ) from exc
