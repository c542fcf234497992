"""A flow's node-state cache (its YAML ``cache``): the node states its dispatcher reads from Celery's result backend.

The dispatcher learns that a node ended by reading the node's state from the
result backend. An ended node's state never changes, so a flow with a
``cache`` keeps the states of ended nodes, as Selinon does, and a read that
the cache answers costs no round trip. flowtrace's dispatcher reads a node's
state again when a wake-up is postponed after reading it (a storage or the
result backend failed, so the node is handled whole next time), and reads a
sub-flow's final state a second time for ``propagate_finished`` and
``propagate_failures``; those are the reads a cache saves.

Each read of a flow with a cache emits, as Selinon's does:

- ``NODE_STATE_CACHE_GET``, then ``NODE_STATE_CACHE_HIT`` (and nothing more),
  or ``NODE_STATE_CACHE_MISS``, or ``NODE_STATE_CACHE_ISSUE`` when the cache
  raised anything but a miss;
- after a miss or an issue, the backend is read, and for a node that ended
  (succeeded or failed) ``NODE_STATE_CACHE_ADD`` before the cache is given
  its state, ``NODE_STATE_CACHE_ISSUE`` if that raises. A node still running
  is not cached: its state will change.

A cache belongs to one flow in one process (made on first use after a fork),
is called behind a lock, with the node id as the item id and the node and
flow names as ``task_name`` and ``flow_name``, and holds :class:`NodeState`
tuples. A flow without ``cache`` reads the backend directly and emits none of
these events.
"""

from __future__ import annotations

import os
import threading
import traceback
import weakref
from typing import Any, NamedTuple, Optional

from celery import states

from flowtrace.caches import is_miss, make_cache
from flowtrace.flow import _msg
from flowtrace.flow._runtime import config_of
from flowtrace.flow.model import Flow
from flowtrace.trace import Trace


class NodeState(NamedTuple):
    """What the dispatcher reads of a node: ``status`` SUCCESS, FAILURE or None (running), the failure's
    traceback (``what``) and, for a sub-flow that ended, its result (its final state or its FlowError)."""

    status: Optional[str]
    what: Any = None
    result: Any = None


def read_backend(app: Any, node_id: str, is_flow: bool) -> NodeState:
    """Read a node's state from the result backend; whatever the backend raises is raised."""
    found = app.AsyncResult(node_id)
    status = found.state
    if status == states.FAILURE:
        return NodeState(states.FAILURE, found.traceback, found.result if is_flow else None)
    if status == states.SUCCESS:
        return NodeState(states.SUCCESS, None, found.result if is_flow else None)
    return NodeState(None)


class _Held:
    """One flow's cache object and its lock."""

    def __init__(self, cache: Any) -> None:
        self.cache = cache
        self.lock = threading.Lock()


# app -> (pid, config, {flow name: _Held, or None for a cache that could not be made})
_caches: weakref.WeakKeyDictionary[Any, tuple[int, Any, dict[str, Optional[_Held]]]] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def _held(app: Any, flow: Flow, msg: dict) -> Optional[_Held]:
    """The flow's cache in this process, made on first use; None when it cannot be made (after an issue)."""
    config, pid = config_of(app), os.getpid()
    with _lock:
        entry = _caches.get(app)
        if entry is None or entry[0] != pid or entry[1] is not config:
            entry = (pid, config, {})
            _caches[app] = entry
        by_flow = entry[2]
        if flow.name not in by_flow:
            spec = flow.cache
            assert spec is not None
            try:
                by_flow[flow.name] = _Held(make_cache(spec.name, spec.import_path, spec.configuration))
            except Exception:
                # Once per process: the flow runs on, its states read from the backend.
                Trace.log(Trace.NODE_STATE_CACHE_ISSUE, msg, what=traceback.format_exc())
                by_flow[flow.name] = None
        return by_flow[flow.name]


class NodeStates:
    """How a dispatcher's wake-up reads node states: through its flow's cache, if the flow has one.

    Args:
        app: the Celery app.
        flow: the flow whose dispatcher reads.
        dispatcher_id: the dispatcher's id, for the events.
        parent: the flow's parent, for the events.
    """

    def __init__(self, app: Any, flow: Flow, dispatcher_id: str, parent: Any, selective: Any = False) -> None:
        self.app = app
        self.flow = flow
        self.dispatcher_id = dispatcher_id
        self.parent = parent
        self.selective = selective

    def read(self, name: str, node_id: str, is_flow: bool) -> NodeState:
        """The state of the node ``name`` (run ``node_id``); what the result backend raises is raised."""
        if self.flow.cache is None:
            return read_backend(self.app, node_id, is_flow)
        msg = _msg.node_state(self.flow.name, self.dispatcher_id, name, node_id, self.parent, self.flow.queue,
                              self.selective)
        held = _held(self.app, self.flow, msg)
        if held is None:
            return read_backend(self.app, node_id, is_flow)
        hints = {"task_name": name, "flow_name": self.flow.name}
        Trace.log(Trace.NODE_STATE_CACHE_GET, msg)
        try:
            with held.lock:
                state = held.cache.get(node_id, **hints)
        except Exception as exc:
            if is_miss(exc):
                Trace.log(Trace.NODE_STATE_CACHE_MISS, msg, what="the node's state is not in the state cache")
            else:
                Trace.log(Trace.NODE_STATE_CACHE_ISSUE, msg, what=traceback.format_exc())
        else:
            Trace.log(Trace.NODE_STATE_CACHE_HIT, msg)
            return state
        state = read_backend(self.app, node_id, is_flow)
        if state.status is not None:
            Trace.log(Trace.NODE_STATE_CACHE_ADD, msg)
            try:
                with held.lock:
                    held.cache.add(node_id, state, **hints)
            except Exception:
                Trace.log(Trace.NODE_STATE_CACHE_ISSUE, msg, what=traceback.format_exc())
        return state
