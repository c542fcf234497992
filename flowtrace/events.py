"""The event catalogue: one table of every event flowtrace can emit.

This table is the single source for the ``Trace.<NAME>`` constants, their
names and levels, ``Trace.WARN_EVENTS``, the ``flowtrace events`` listing and
the event reference in the documentation. Values 0-49 are those of Selinon
1.0 and must never change; new events are appended with the next free value.
Selinon 1.1 inserted ``FLOW_SCHEDULE`` at 1 and moved every later event one up,
so each row also records Selinon 1.4's own value (:data:`SELINON_VALUES`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from flowtrace._flowheader import FLOW_KEYS

INFO = "info"
WARNING = "warning"
ERROR = "error"

#: Levels in increasing severity; a sink's ``min_level`` is compared by index.
LEVELS = (INFO, WARNING, ERROR)

DISPATCHER = "dispatcher"
TASK = "task"
DISPATCHER_OR_TASK = "dispatcher/task"
STORAGE_ADAPTER = "storage adapter"
PRODUCER = "producer"
WORKER = "worker"
TASK_OR_WORKER = "task/worker"


class Event(NamedTuple):
    """One row of the catalogue.

    .. versionadded:: 0.1.0
    """

    value: int
    name: str
    level: str
    emitter: str
    keys: tuple[str, ...]
    description: str
    #: The event's value in Selinon 1.2 to 1.4, or None for flowtrace's own events.
    selinon_value: int | None = None


# Keys that recur; kept as tuples so rows stay readable.
_FLOW = ("flow_name", "dispatcher_id", "node_args", "queue", "selective")
_WAKEUP = _FLOW + ("state", "retry", "retried_count", "parent")
_MIGRATION = _WAKEUP + ("migration_version",)
_TASK = ("task_name", "task_id", "flow_name", "dispatcher_id", "parent", "node_args", "queue", "retried_count")
_NODE = ("flow_name", "dispatcher_id", "node_name", "node_id", "selective")
_STATE_CACHE = ("flow_name", "dispatcher_id", "node_name", "node_id", "parent", "queue", "selective")
_RESULT_CACHE = ("flow_name", "task_name", "task_id", "storage_name")
_STORAGE = ("flow_name", "task_name", "task_id", "storage_name", "storage_task_name")
_EDGE = ("flow_name", "dispatcher_id", "nodes_from", "nodes_to", "condition_str", "foreach_str", "parent", "node_args",
         "selective")
_FALLBACK = ("flow_name", "dispatcher_id", "nodes", "fallback", "selective")
_ERROR = ("what",)
# What the Celery integration (flowtrace.celery) puts in every task event.
# trace_id and span_id are the attempt's (TASK_PUBLISH: the span it was sent under), parent_span_id its
# parent's; link_trace_id and link_span_id name a linked span (flowtrace_trace: link).
_CELERY = ("task_name", "task_id", "parent_id", "root_id", "group_id", "retries", "queue", "hostname", "trace_id",
           "span_id", "parent_span_id", "state")
_EXC = ("exc_type", "exc_message", "traceback", "exc_info")
# What every task event of a flow's task (or dispatcher) adds: the keys of the flow header.
_IN_FLOW = FLOW_KEYS


def _keys(*parts: Iterable[str]) -> tuple[str, ...]:
    """Concatenate key tuples, keeping the first of any repeated key."""
    return tuple(dict.fromkeys(key for part in parts for key in part))


_ROWS = (
    Event(0, "DISPATCHER_WAKEUP", INFO, DISPATCHER, _WAKEUP,
          "The dispatcher woke up and is about to inspect the state of its flow."),
    Event(1, "FLOW_START", INFO, DISPATCHER, _FLOW,
          "A flow starts; emitted after the first DISPATCHER_WAKEUP of a dispatcher."),
    Event(2, "TASK_SCHEDULE", INFO, DISPATCHER,
          ("task_name", "task_id", "flow_name", "dispatcher_id", "parent", "node_args", "queue", "countdown",
           "condition_str", "foreach_str", "selective", "selective_edge"),
          "The dispatcher sent a task of its flow to the broker."),
    Event(3, "TASK_START", INFO, TASK, _keys(_TASK, _CELERY, ("queue_latency", "first_sent", "args", "kwargs")),
          "A worker is about to execute a task."),
    Event(4, "SUBFLOW_SCHEDULE", INFO, DISPATCHER,
          ("flow_name", "dispatcher_id", "child_flow_name", "child_dispatcher_id", "parent", "node_args", "queue",
           "countdown", "condition_str", "foreach_str", "selective", "selective_edge_conf", "child_selective"),
          "The dispatcher started a child dispatcher for a subflow."),
    Event(5, "TASK_END", INFO, TASK, _keys(_TASK, ("runtime",), _CELERY),
          "A task finished successfully."),
    Event(6, "NODE_SUCCESSFUL", INFO, DISPATCHER, _NODE,
          "The dispatcher saw a node of its flow (a task or a subflow) succeed."),
    Event(7, "TASK_DISCARD_RESULT", WARNING, TASK, _TASK + ("result",),
          "A task returned something other than None, but no storage is assigned to keep it."),
    Event(8, "TASK_FAILURE", WARNING, TASK, _keys(_TASK, ("what",), _CELERY, ("runtime",), _EXC, ("expected",)),
          "A task raised an exception and is marked as failed."),
    Event(9, "TASK_RETRY", WARNING, TASK,
          _keys(_TASK, ("what", "countdown"), _CELERY, ("runtime", "reason", "exc_type", "exc_message", "eta")),
          "A task failed and will be run again."),
    Event(10, "FLOW_FAILURE", WARNING, DISPATCHER, _FLOW + ("state", "will_retry"),
          "A flow failed: nodes failed and no fallback handled them."),
    Event(11, "DISPATCHER_FAILURE", ERROR, DISPATCHER, _FLOW + _ERROR,
          "The dispatcher itself hit an unexpected error; this points at a bug."),
    Event(12, "NODE_FAILURE", WARNING, DISPATCHER, _NODE + ("what",),
          "The dispatcher saw a node of its flow (a task or a subflow) fail."),
    Event(13, "FALLBACK_START", INFO, DISPATCHER, _FALLBACK,
          "A fallback starts to handle failed nodes."),
    Event(14, "DISPATCHER_RETRY", INFO, DISPATCHER, _WAKEUP + ("state_dict", "countdown"),
          "The dispatcher scheduled what it could and will look at the flow again later."),
    Event(15, "FLOW_END", INFO, DISPATCHER, _FLOW + ("state",),
          "A flow finished successfully."),
    Event(16, "STORAGE_CONNECT", INFO, DISPATCHER_OR_TASK, ("storage_name",),
          "A storage adapter is not connected yet, so connect() is called."),
    Event(17, "STORAGE_DISCONNECT", INFO, STORAGE_ADAPTER, ("storage_name",),
          "A storage adapter is being disconnected with disconnect()."),
    Event(18, "STORAGE_RETRIEVE", INFO, DISPATCHER_OR_TASK, _STORAGE,
          "A task result is about to be read from its storage."),
    Event(19, "STORAGE_RETRIEVED", INFO, DISPATCHER_OR_TASK, _STORAGE,
          "A task result was read from its storage."),
    Event(20, "STORAGE_STORE", INFO, TASK, _STORAGE,
          "A task result is about to be written to its storage."),
    Event(21, "STORAGE_STORED", INFO, TASK, _STORAGE + ("record_id",),
          "A task result was written to its storage."),
    Event(22, "EDGE_COND_FALSE", INFO, DISPATCHER, _EDGE,
          "An edge's condition was false, so its destination nodes are not scheduled."),
    Event(23, "FOREACH_RESULT", INFO, DISPATCHER, _EDGE + ("result",),
          "A foreach function returned the items that decide how many nodes are scheduled."),
    Event(24, "NODE_STATE_CACHE_GET", INFO, DISPATCHER, _STATE_CACHE,
          "The dispatcher asks the state cache whether a node finished."),
    Event(25, "NODE_STATE_CACHE_ADD", INFO, DISPATCHER, _STATE_CACHE,
          "A finished node's state was missing from the state cache and is added."),
    Event(26, "NODE_STATE_CACHE_MISS", INFO, DISPATCHER, _STATE_CACHE + _ERROR,
          "A node's state was not in the state cache."),
    Event(27, "NODE_STATE_CACHE_HIT", INFO, DISPATCHER, _STATE_CACHE,
          "A node's state was found in the state cache."),
    Event(28, "TASK_RESULT_CACHE_GET", INFO, DISPATCHER_OR_TASK, _RESULT_CACHE,
          "A task result is looked up in the result cache."),
    Event(29, "TASK_RESULT_CACHE_ADD", INFO, DISPATCHER_OR_TASK, _RESULT_CACHE,
          "A task result read from storage is added to the result cache."),
    Event(30, "TASK_RESULT_CACHE_MISS", INFO, DISPATCHER_OR_TASK, _RESULT_CACHE + _ERROR,
          "A task result was not in the result cache."),
    Event(31, "TASK_RESULT_CACHE_HIT", INFO, DISPATCHER_OR_TASK, _RESULT_CACHE,
          "A task result was found in the result cache."),
    Event(32, "SELECTIVE_OMIT_EDGE", INFO, DISPATCHER, _EDGE,
          "In a selective run, an edge is skipped: it does not lead to a requested task."),
    Event(33, "SELECTIVE_OMIT_NODE", INFO, DISPATCHER, _EDGE + ("omitted_node",),
          "In a selective run, a node is skipped: it is neither requested nor needed by a requested task."),
    Event(34, "SELECTIVE_RUN_FUNC", INFO, DISPATCHER,
          ("flow_name", "dispatcher_id", "node_name", "parent", "node_args", "selective", "result"),
          "The result of a selective run function, deciding whether a node is run again."),
    Event(35, "SELECTIVE_TASK_REUSE", INFO, DISPATCHER, _EDGE + ("task_name", "task_id"),
          "In a selective run, an earlier result of a task is reused instead of running it."),
    Event(36, "STORAGE_STORE_ERROR", INFO, TASK, _STORAGE + ("error_type", "error_value", "error_traceback"),
          "A failed task's error is written to its storage."),
    Event(37, "STORAGE_OMIT_STORE_ERROR", WARNING, TASK,
          _STORAGE + ("error_type", "error_value", "error_traceback"),
          "A failed task's error is not stored: no storage, or its adapter has no store_error()."),
    Event(38, "FALLBACK_COND_FALSE", INFO, DISPATCHER, _FALLBACK + ("condition_str",),
          "A fallback's condition was false, so the fallback does not run."),
    Event(39, "FALLBACK_COND_TRUE", INFO, DISPATCHER, _FALLBACK + ("condition_str",),
          "A fallback's condition was true, so the fallback runs."),
    Event(40, "NODE_STATE_CACHE_ISSUE", WARNING, DISPATCHER, _STATE_CACHE + _ERROR,
          "The state cache failed while a node's state was read or added."),
    Event(41, "TASK_RESULT_CACHE_ISSUE", WARNING, DISPATCHER_OR_TASK, _RESULT_CACHE + _ERROR,
          "The result cache failed while a task result was read or added."),
    Event(42, "STORAGE_ISSUE", WARNING, DISPATCHER_OR_TASK, _STORAGE + _ERROR,
          "A storage adapter failed; the operation is retried rather than losing the result."),
    Event(43, "RESULT_BACKEND_ISSUE", WARNING, DISPATCHER, _STATE_CACHE + _ERROR,
          "Celery's result backend failed while the dispatcher read a node's state."),
    Event(44, "FLOW_RETRY", WARNING, DISPATCHER, _FLOW + ("countdown", "retried_count", "max_retry"),
          "A failed flow is started again as a whole, within its max_retry."),
    Event(45, "MIGRATION", INFO, DISPATCHER,
          _MIGRATION + ("new_migration_version", "old_migration_version", "tainted"),
          "A flow's stored state was migrated to a newer flow definition."),
    Event(46, "MIGRATION_SKEW", WARNING, DISPATCHER, _MIGRATION + ("available_migration_version",),
          "The flow's migration version does not match the migrations available."),
    Event(47, "MIGRATION_TAINTED_FLOW", INFO, DISPATCHER,
          _MIGRATION + ("latest_migration_version", "tainting_nodes", "tainted_edge", "tainted_flow_strategy"),
          "A migration found the flow tainted by a change in its definition."),
    Event(48, "MIGRATION_ERROR", WARNING, DISPATCHER, _MIGRATION + _ERROR,
          "Migrating a flow's stored state raised an error."),
    Event(49, "EAGER_FAILURE", WARNING, DISPATCHER, _NODE + ("what",),
          "A node listed in its flow's eager_failures failed, so the dispatcher failed the flow at once, "
          "without waiting for the nodes still running."),
    # Selinon 1.4's later additions, appended so the values above never move.
    Event(50, "FLOW_SCHEDULE", INFO, PRODUCER, _FLOW,
          "A flow was handed to the broker by run_flow(); its dispatcher has not started yet."),
    Event(51, "STORAGE_DELETE", INFO, DISPATCHER_OR_TASK, _STORAGE,
          "A task result is about to be deleted from its storage."),
    Event(52, "STORAGE_DELETED", INFO, DISPATCHER_OR_TASK, _STORAGE,
          "A task result was deleted from its storage."),
    # The Celery integration's events (flowtrace.celery), appended in the same way.
    Event(53, "TASK_PUBLISH", INFO, PRODUCER, _keys(_CELERY, _IN_FLOW, ("eta", "expires", "args", "kwargs")),
          "A task message was handed to the broker."),
    Event(54, "TASK_RECEIVED", INFO, WORKER, _keys(_CELERY, _IN_FLOW, ("eta", "expires")),
          "The worker's main process took a task message from the broker; the task has not started yet."),
    Event(55, "TASK_IGNORED", INFO, TASK, _keys(_CELERY, _IN_FLOW, ("runtime",)),
          "A task raised Ignore: it stopped early and no state is stored for this attempt."),
    Event(56, "TASK_REJECTED", WARNING, TASK_OR_WORKER, _keys(_CELERY, _IN_FLOW, ("runtime", "reason", "requeue")),
          "A task raised Reject, the worker refused a message it could not use, or requeued one whose process died."),
    Event(57, "TASK_REVOKED", INFO, WORKER,
          _keys(_CELERY, _IN_FLOW, ("runtime", "reason", "expired", "terminated", "signum")),
          "A task was revoked or had expired: the worker discarded it, or stopped it while it ran."),
    Event(58, "TASK_UNKNOWN", ERROR, WORKER, _keys(_CELERY, _IN_FLOW, ("reason",)),
          "A message named a task the worker has not registered; the message is dropped."),
)


#: The events flowtrace defines (Selinon's catalogue is kept whole) but no
#: emitter of flowtrace emits yet, each with the reason. Their descriptions
#: say so, in every output of the catalogue.
NOT_EMITTED: dict[int, str] = {
}

#: Selinon's own events in its own order: the value of each is its index, in
#: Selinon 1.2.0 to 1.4.0 (1.1 ends at EAGER_FAILURE, 50; 1.0 had no
#: FLOW_SCHEDULE, which is why flowtrace's values from FLOW_START to
#: EAGER_FAILURE are one lower).
_SELINON_ORDER = (
    "DISPATCHER_WAKEUP", "FLOW_SCHEDULE", "FLOW_START", "TASK_SCHEDULE", "TASK_START", "SUBFLOW_SCHEDULE",
    "TASK_END", "NODE_SUCCESSFUL", "TASK_DISCARD_RESULT", "TASK_FAILURE", "TASK_RETRY", "FLOW_FAILURE",
    "DISPATCHER_FAILURE", "NODE_FAILURE", "FALLBACK_START", "DISPATCHER_RETRY", "FLOW_END", "STORAGE_CONNECT",
    "STORAGE_DISCONNECT", "STORAGE_RETRIEVE", "STORAGE_RETRIEVED", "STORAGE_STORE", "STORAGE_STORED",
    "EDGE_COND_FALSE", "FOREACH_RESULT", "NODE_STATE_CACHE_GET", "NODE_STATE_CACHE_ADD", "NODE_STATE_CACHE_MISS",
    "NODE_STATE_CACHE_HIT", "TASK_RESULT_CACHE_GET", "TASK_RESULT_CACHE_ADD", "TASK_RESULT_CACHE_MISS",
    "TASK_RESULT_CACHE_HIT", "SELECTIVE_OMIT_EDGE", "SELECTIVE_OMIT_NODE", "SELECTIVE_RUN_FUNC",
    "SELECTIVE_TASK_REUSE", "STORAGE_STORE_ERROR", "STORAGE_OMIT_STORE_ERROR", "FALLBACK_COND_FALSE",
    "FALLBACK_COND_TRUE", "NODE_STATE_CACHE_ISSUE", "TASK_RESULT_CACHE_ISSUE", "STORAGE_ISSUE",
    "RESULT_BACKEND_ISSUE", "FLOW_RETRY", "MIGRATION", "MIGRATION_SKEW", "MIGRATION_TAINTED_FLOW",
    "MIGRATION_ERROR", "EAGER_FAILURE", "STORAGE_DELETE", "STORAGE_DELETED",
)

#: name -> the event's value in Selinon 1.4 (and 1.2, 1.3), for every event Selinon defines.
#:
#: .. versionadded:: 0.1.0
SELINON_VALUES: dict[str, int] = {name: value for value, name in enumerate(_SELINON_ORDER)}

#: The catalogue, in value order. Append only.
EVENTS = tuple(row._replace(
    description="%s Not emitted yet: %s." % (row.description, NOT_EMITTED[row.value])
    if row.value in NOT_EMITTED else row.description,
    selinon_value=SELINON_VALUES.get(row.name)) for row in _ROWS)

#: value -> Event
BY_VALUE = {row.value: row for row in EVENTS}

#: name -> Event
BY_NAME = {row.name: row for row in EVENTS}

#: value -> name, for sinks that label events on their hot path.
NAMES = {row.value: row.name for row in EVENTS}

#: The seed's WARN_EVENTS, in the seed's order; later warning events follow it.
_SEED_WARN_ORDER = (12, 7, 9, 8, 10, 37, 40, 41, 42, 43, 44, 46, 48, 49)

#: Every event at warning level, with the seed's tuple first in its order and the rest by value.
WARN_EVENTS = _SEED_WARN_ORDER + tuple(
    row.value for row in EVENTS if row.level == WARNING and row.value not in _SEED_WARN_ORDER
)


def _check_table() -> None:
    # A wrong row would silently shift every constant after it; fail at import instead.
    for index, row in enumerate(EVENTS):
        if row.value != index:
            raise AssertionError("event table out of order at %r" % (row,))
        if row.level not in LEVELS:
            raise AssertionError("bad level in %r" % (row,))
    if len(BY_NAME) != len(EVENTS):
        raise AssertionError("duplicate event name in the catalogue")
    if not SELINON_VALUES.keys() <= BY_NAME.keys():
        raise AssertionError("a Selinon event is missing from the catalogue")
    for value in _SEED_WARN_ORDER:
        if BY_VALUE[value].level != WARNING:
            raise AssertionError("seed warn event %s is not at warning level" % BY_VALUE[value].name)


_check_table()


def level_of(event: int) -> str:
    """Return the level (``'info'``, ``'warning'`` or ``'error'``) of an event value.

    Raises:
        ValueError: if the value is not in the catalogue.

    .. versionadded:: 0.1.0
    """
    try:
        return BY_VALUE[event].level
    except (KeyError, TypeError):
        raise ValueError("unknown flowtrace event %r" % (event,)) from None


#: The msg key an emitter sets to ``True`` when an error event reports something
#: the code declared it expects (an exception listed in Celery's ``Task.throws``).
EXPECTED_KEY = "expected"


def level_for(event: int, msg_dict: Mapping[str, Any]) -> str:
    """Return the level at which a sink should report this event with this msg dict.

    It is the event's catalogue level, except that an event whose msg dict has
    ``expected: True`` is reported at info: Celery logs an exception listed in
    ``Task.throws`` at info ("raised expected"), and flowtrace follows it.

    Raises:
        ValueError: if the value is not in the catalogue.

    .. versionadded:: 0.1.0
    """
    if msg_dict.get(EXPECTED_KEY) is True:
        return INFO
    return level_of(event)


def events_at_or_above(level: str) -> frozenset[int]:
    """Return the values of all events whose level is ``level`` or more severe.

    Raises:
        ValueError: if ``level`` is not one of :data:`LEVELS`.

    .. versionadded:: 0.1.0
    """
    if level not in LEVELS:
        raise ValueError("unknown level %r; expected one of %s" % (level, ", ".join(LEVELS)))
    floor = LEVELS.index(level)
    return frozenset(row.value for row in EVENTS if LEVELS.index(row.level) >= floor)


def from_selinon(value: int) -> int:
    """Return flowtrace's value of the event that Selinon 1.4 numbers ``value``.

    For event ids stored by Selinon 1.2 to 1.4 (1.1's agree up to 50):
    ``from_selinon(1)`` is :data:`~flowtrace.Trace.FLOW_SCHEDULE`, 50.

    Raises:
        ValueError: if Selinon 1.4 has no event of that value.

    .. versionadded:: 0.1.0
    """
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(_SELINON_ORDER):
        return BY_NAME[_SELINON_ORDER[value]].value
    raise ValueError("Selinon 1.4 has no event %r; its values are 0 to %d" % (value, len(_SELINON_ORDER) - 1))


def as_dicts() -> list[dict[str, Any]]:
    """Return the catalogue as a list of plain dicts, for JSON output.

    Each has the row's fields; ``selinon_value`` is None for flowtrace's own events.

    .. versionadded:: 0.1.0
    """
    return [
        {"value": row.value, "name": row.name, "level": row.level, "emitter": row.emitter,
         "keys": list(row.keys), "description": row.description, "selinon_value": row.selinon_value}
        for row in EVENTS
    ]
