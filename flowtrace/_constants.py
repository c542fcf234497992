"""The event constants of :class:`flowtrace.Trace`: ``Trace.TASK_START`` and the others.

Their values come from :mod:`flowtrace.events`; the declarations are for type
checkers, in catalogue order (``tests/test_typing.py`` holds them to it).
"""

from __future__ import annotations

from typing import ClassVar

from flowtrace import events


class EventConstants:
    """The base of :class:`flowtrace.Trace`: one ``int`` class attribute per event of the catalogue."""

    DISPATCHER_WAKEUP: ClassVar[int]
    FLOW_START: ClassVar[int]
    TASK_SCHEDULE: ClassVar[int]
    TASK_START: ClassVar[int]
    SUBFLOW_SCHEDULE: ClassVar[int]
    TASK_END: ClassVar[int]
    NODE_SUCCESSFUL: ClassVar[int]
    TASK_DISCARD_RESULT: ClassVar[int]
    TASK_FAILURE: ClassVar[int]
    TASK_RETRY: ClassVar[int]
    FLOW_FAILURE: ClassVar[int]
    DISPATCHER_FAILURE: ClassVar[int]
    NODE_FAILURE: ClassVar[int]
    FALLBACK_START: ClassVar[int]
    DISPATCHER_RETRY: ClassVar[int]
    FLOW_END: ClassVar[int]
    STORAGE_CONNECT: ClassVar[int]
    STORAGE_DISCONNECT: ClassVar[int]
    STORAGE_RETRIEVE: ClassVar[int]
    STORAGE_RETRIEVED: ClassVar[int]
    STORAGE_STORE: ClassVar[int]
    STORAGE_STORED: ClassVar[int]
    EDGE_COND_FALSE: ClassVar[int]
    FOREACH_RESULT: ClassVar[int]
    NODE_STATE_CACHE_GET: ClassVar[int]
    NODE_STATE_CACHE_ADD: ClassVar[int]
    NODE_STATE_CACHE_MISS: ClassVar[int]
    NODE_STATE_CACHE_HIT: ClassVar[int]
    TASK_RESULT_CACHE_GET: ClassVar[int]
    TASK_RESULT_CACHE_ADD: ClassVar[int]
    TASK_RESULT_CACHE_MISS: ClassVar[int]
    TASK_RESULT_CACHE_HIT: ClassVar[int]
    SELECTIVE_OMIT_EDGE: ClassVar[int]
    SELECTIVE_OMIT_NODE: ClassVar[int]
    SELECTIVE_RUN_FUNC: ClassVar[int]
    SELECTIVE_TASK_REUSE: ClassVar[int]
    STORAGE_STORE_ERROR: ClassVar[int]
    STORAGE_OMIT_STORE_ERROR: ClassVar[int]
    FALLBACK_COND_FALSE: ClassVar[int]
    FALLBACK_COND_TRUE: ClassVar[int]
    NODE_STATE_CACHE_ISSUE: ClassVar[int]
    TASK_RESULT_CACHE_ISSUE: ClassVar[int]
    STORAGE_ISSUE: ClassVar[int]
    RESULT_BACKEND_ISSUE: ClassVar[int]
    FLOW_RETRY: ClassVar[int]
    MIGRATION: ClassVar[int]
    MIGRATION_SKEW: ClassVar[int]
    MIGRATION_TAINTED_FLOW: ClassVar[int]
    MIGRATION_ERROR: ClassVar[int]
    EAGER_FAILURE: ClassVar[int]
    FLOW_SCHEDULE: ClassVar[int]
    STORAGE_DELETE: ClassVar[int]
    STORAGE_DELETED: ClassVar[int]
    TASK_PUBLISH: ClassVar[int]
    TASK_RECEIVED: ClassVar[int]
    TASK_IGNORED: ClassVar[int]
    TASK_REJECTED: ClassVar[int]
    TASK_REVOKED: ClassVar[int]
    TASK_UNKNOWN: ClassVar[int]


for _row in events.EVENTS:
    setattr(EventConstants, _row.name, _row.value)
del _row
