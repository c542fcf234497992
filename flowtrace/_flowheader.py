"""The flow header: how a message says which flow it belongs to.

The flow emitter sets the :data:`FLOW_HEADER` message header on every
message it sends, a flow task's or a dispatcher's, and the Celery
integration copies its :data:`FLOW_KEYS` into the task events of that
message. Both read this module, never each other.
"""

from __future__ import annotations

from typing import Any

#: The message header holding a flow's identity, as :func:`flow_header` builds it.
FLOW_HEADER = "flowtrace_flow"

#: The keys of the header's value, in the order they go into events.
FLOW_KEYS = ("flow_name", "dispatcher_id", "parent", "node_args", "retried_count")


def flow_header(flow_name: str, dispatcher_id: str, parent: Any, node_args: Any, retried_count: int = 0) -> dict:
    """The value of :data:`FLOW_HEADER` for a message of a flow: its :data:`FLOW_KEYS`, in order."""
    return dict(zip(FLOW_KEYS, (flow_name, dispatcher_id, parent, node_args, retried_count)))
