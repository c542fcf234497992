"""What the OpenTelemetry sink reads from a msg dict: span attributes, the parent span and the linked one."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from flowtrace import _serialize
from flowtrace.context import SpanRef

if TYPE_CHECKING:
    from opentelemetry.util.types import AttributeValue

# msg keys that become span attributes under their semantic-convention names.
_MESSAGING = {"queue": "messaging.destination.name", "task_id": "messaging.message.id"}
# msg keys that are not attributes: ids (the span has them), the exception object, long text.
_NOT_ATTRIBUTES = frozenset({"trace_id", "span_id", "parent_span_id", "link_trace_id", "link_span_id", "exc_info",
                             "traceback"})
_MAX_TEXT = 4096
#: The msg keys of a terminal event that become attributes of the attempt's span.
#: (``runtime`` is the span's duration.)
_END_KEYS = ("state", "reason", "expected", "countdown", "eta", "requeue", "exc_type", "exc_message")
END_ATTRIBUTES = tuple((key, "flowtrace." + key) for key in _END_KEYS)

#: The msg keys of TASK_START that become ``flowtrace.*`` attributes of an attempt's span (``task_id`` and
#: ``queue`` are there under their semantic-convention names).
_TASK_KEYS = ("task_name", "retries", "parent_id", "group_id", "hostname", "flow_name", "dispatcher_id", "parent",
              "node_args", "retried_count", "queue_latency", "args", "kwargs")
_TASK_ATTRIBUTES = tuple((key, "flowtrace." + key) for key in _TASK_KEYS)
_MESSAGING_ATTRIBUTES = tuple(_MESSAGING.items())


def as_attribute(value: object) -> AttributeValue | None:
    """An attribute value: scalars as they are, anything else as JSON text."""
    if type(value) is str:
        return value if len(value) <= _MAX_TEXT else value[:_MAX_TEXT] + _serialize.TRUNCATED
    if value is None:
        return None
    if isinstance(value, (bool, int, float)) and not (isinstance(value, int) and abs(value) >= 1 << 63):
        return value
    if isinstance(value, str):
        return value if len(value) <= _MAX_TEXT else value[:_MAX_TEXT] + _serialize.TRUNCATED
    text = _serialize.dumps(value).decode("utf-8")
    return text if len(text) <= _MAX_TEXT else text[:_MAX_TEXT] + _serialize.TRUNCATED


def event_attributes(msg: Mapping[str, Any], prefix: str = "flowtrace.") -> dict[str, AttributeValue]:
    """Every msg key but the ids and the exception, as ``flowtrace.<key>`` attributes."""
    result: dict[str, AttributeValue] = {}
    for key, item in msg.items():
        if not isinstance(key, str) or key in _NOT_ATTRIBUTES:
            continue
        attribute = as_attribute(item)
        if attribute is not None:
            result[prefix + key] = attribute
    return result


def task_attributes(msg: Mapping[str, Any]) -> dict[str, AttributeValue]:
    """The attributes of a task attempt's span, from its ``TASK_START`` (or terminal event)."""
    result: dict[str, AttributeValue] = {"messaging.system": "celery", "messaging.operation.type": "process"}
    get = msg.get
    for key, name in _MESSAGING_ATTRIBUTES:
        item = get(key)
        if item is not None:
            result[name] = as_attribute(item)
    for key, name in _TASK_ATTRIBUTES:
        item = get(key)
        if item is not None:
            item = as_attribute(item)
            if item is not None:
                result[name] = item
    root_id = get("root_id")
    if root_id is not None and root_id != get("task_id"):
        result["flowtrace.root_id"] = as_attribute(root_id)
    return result


def parse_iso(text: str) -> float | None:
    """Seconds since the epoch of an ISO-8601 time (``first_sent``), or None if it is not one."""
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except Exception:
        return None


def parent_of(msg: Mapping[str, Any]) -> SpanRef | None:
    """The span the msg dict names as its attempt's parent, if any."""
    parent = msg.get("parent_span_id")
    if isinstance(parent, str) and msg.get("trace_id"):
        return SpanRef(msg["trace_id"], parent)
    return None


def link_of(msg: Mapping[str, Any]) -> SpanRef | None:
    """The span the msg dict names as its attempt's link, if any."""
    if isinstance(msg.get("link_trace_id"), str) and isinstance(msg.get("link_span_id"), str):
        return SpanRef(msg["link_trace_id"], msg["link_span_id"])
    return None
