"""flowtrace: flow-event tracing for Celery.

The public face: :class:`Trace`, the event catalogue and the errors users see.
"""

from flowtrace._deps import MissingDependency
from flowtrace.trace import Trace

__version__ = "0.1.0.dev0"

__all__ = ["Trace", "MissingDependency", "__version__"]
