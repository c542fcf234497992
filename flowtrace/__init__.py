"""flowtrace: flow-event tracing for Celery.

The public face: :class:`Trace`, the event catalogue and the errors users see
(they live in :mod:`flowtrace.errors`, with every other exception users catch).
The names task and storage code imports from ``selinon`` are here too
(``SelinonTask``, ``FatalTaskError``, ``Retry``, ``RequestError`` and the
others), so that such code moves over by changing ``selinon`` to
``flowtrace`` in its imports.

.. versionadded:: 0.1.0
"""

from typing import TYPE_CHECKING

from flowtrace._version import __version__
from flowtrace.errors import (
    CacheMissError,
    ConfigurationError,
    FatalTaskError,
    FlowConfigError,
    FlowConfigWarning,
    FlowError,
    MissingDependency,
    NoParentNodeError,
    RequestError,
    Retry,
    SelectiveNoPathError,
    StorageError,
    UnknownError,
    UnknownFlowError,
    UnknownStorageError,
)
from flowtrace.trace import Trace

__all__ = ["Trace", "MissingDependency", "instrument", "uninstrument", "DataStorage", "load_flows", "FlowConfigError",
           "FlowConfigWarning", "CorrelationFilter", "FlowTask", "SelinonTask", "FatalTaskError", "run_flow",
           "run_flow_selective",
           "new_trace", "__version__",
           "flow_signature",
           # Selinon's names, for task and storage code written for it (from selinon import ...).
           "Retry", "NoParentNodeError", "RequestError", "FlowError", "UnknownFlowError", "SelectiveNoPathError",
           "ConfigurationError", "StorageError", "UnknownStorageError", "CacheMissError", "UnknownError"]

# The Celery integration is imported on first use, so that importing flowtrace
# stays cheap in processes that only log events.
_LAZY = {"instrument": "flowtrace.celery", "uninstrument": "flowtrace.celery", "DataStorage": "flowtrace.storages.base",
         "load_flows": "flowtrace.flow", "CorrelationFilter": "flowtrace.correlation", "FlowTask": "flowtrace.flow.task",
         "SelinonTask": "flowtrace.flow.task",
         "run_flow": "flowtrace.flow.run", "run_flow_selective": "flowtrace.flow.run", "new_trace": "flowtrace.context",
         "flow_signature": "flowtrace.flow.canvas"}

if TYPE_CHECKING:
    # What __getattr__ imports on first use, spelled out for type checkers;
    # at run time none of these modules is imported here.
    from flowtrace.celery import instrument, uninstrument
    from flowtrace.context import new_trace
    from flowtrace.correlation import CorrelationFilter
    from flowtrace.flow import load_flows
    from flowtrace.flow.canvas import flow_signature
    from flowtrace.flow.run import run_flow, run_flow_selective
    from flowtrace.flow.task import FlowTask, SelinonTask
    from flowtrace.storages.base import DataStorage
else:
    # Hidden from type checkers, which would otherwise read any misspelt
    # name as one this function provides.
    def __getattr__(name: str) -> object:
        module = _LAZY.get(name)
        if module is None:
            raise AttributeError("module 'flowtrace' has no attribute %r" % (name,))
        import importlib

        value = getattr(importlib.import_module(module), name)
        globals()[name] = value
        return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
