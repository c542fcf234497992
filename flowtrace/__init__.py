"""flowtrace: flow-event tracing for Celery.

The public face: :class:`Trace`, the event catalogue and the errors users see.
"""

from flowtrace._deps import MissingDependency
from flowtrace.trace import Trace

__version__ = "0.1.0.dev0"

__all__ = ["Trace", "MissingDependency", "instrument", "uninstrument", "DataStorage", "load_flows", "FlowConfigError",
           "CorrelationFilter", "FlowTask", "FatalTaskError", "run_flow", "new_trace", "__version__"]

# The Celery integration is imported on first use, so that importing flowtrace
# stays cheap in processes that only log events.
_LAZY = {"instrument": "flowtrace.celery", "uninstrument": "flowtrace.celery", "DataStorage": "flowtrace.storages.base",
         "load_flows": "flowtrace.flow", "FlowConfigError": "flowtrace.flow",
         "CorrelationFilter": "flowtrace.correlation", "FlowTask": "flowtrace.flow.task",
         "FatalTaskError": "flowtrace.flow.task", "run_flow": "flowtrace.flow.run", "new_trace": "flowtrace.context"}


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError("module 'flowtrace' has no attribute %r" % (name,))
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
