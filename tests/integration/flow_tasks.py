"""The flow tasks, storage, foreach function and result backend of tests/integration/flows/, run by real workers."""

from __future__ import annotations

import os

from celery import current_task, states
from celery.backends.filesystem import FilesystemBackend

import flowtrace
from flowtrace.flow.dispatcher import Dispatcher
from flowtrace.storages.filesystem import FilesystemStorage

#: How many of the dispatcher's reads of an ``Unreadable`` node's state fail (see :class:`OutageBackend`).
OUTAGE_READS = 2


class Echo(flowtrace.FlowTask):
    """Returns what it saw: its name, the flow's arguments and its parents."""

    def run(self, node_args):
        return {"task": self.task_name, "node_args": node_args, "parents": sorted(self.parent),
                "go": (node_args or {}).get("go", False)}


class Join(flowtrace.FlowTask):
    """Reads the results of its two parents."""

    def run(self, node_args):
        return {"joined": [self.parent_task_result(name)["task"] for name in sorted(self.parent)]}


class Summary(flowtrace.FlowTask):
    """Reads the result of task B of the sub-flow before it."""

    def run(self, node_args):
        return {"inner_b": self.parent_flow_result("inner", "B")["task"]}


class Tail(flowtrace.FlowTask):
    """Has no storage, and returns a value anyway: TASK_DISCARD_RESULT."""

    def run(self, node_args):
        return {"discarded": True}


class Items(flowtrace.FlowTask):
    """Returns ``count`` items for the foreach edge after it."""

    def run(self, node_args):
        return {"items": list(range(node_args["count"]))}


class Each(flowtrace.FlowTask):
    """One run per item; nothing to keep."""

    def run(self, node_args):
        return None


class Flaky(flowtrace.FlowTask):
    """Fails its first attempt, then succeeds."""

    def run(self, node_args):
        marker = os.path.join(os.environ["FLOWTRACE_IT_DIR"], "flaky-" + self.task_id)
        if not os.path.exists(marker):
            open(marker, "w").close()
            raise ConnectionError("first attempt fails")
        return {"task": self.task_name, "attempt": "second"}


class Broken(flowtrace.FlowTask):
    """Always fails."""

    def run(self, node_args):
        raise ValueError("broken on purpose")


class FlakyStorage(FilesystemStorage):
    """A FilesystemStorage that is down for the first store of each task id."""

    def store(self, node_args, flow_name, task_name, task_id, result):
        marker = os.path.join(self.path, ".down-" + task_id)
        if not os.path.exists(marker):
            os.makedirs(self.path, exist_ok=True)
            open(marker, "w").close()
            raise ConnectionError("the storage is down")
        return super().store(node_args, flow_name, task_name, task_id, result)


def outage_marker(run_dir, task_id):
    """The file that holds how many more reads of ``task_id``'s state :class:`OutageBackend` fails."""
    return os.path.join(run_dir, "backend-down-" + task_id)


class Unreadable(flowtrace.FlowTask):
    """Marks the result backend down for its own state: the dispatcher's next OUTAGE_READS reads of it fail."""

    def run(self, node_args):
        with open(outage_marker(os.environ["FLOWTRACE_IT_DIR"], self.task_id), "w") as f:
            f.write(str(OUTAGE_READS))
        return {"task": self.task_name}


class OutageBackend(FilesystemBackend):
    """Celery's ``file://`` result backend, down for the dispatcher's reads of a node that has a marker file.

    Only ``get_task_meta`` fails (what ``AsyncResult.state`` calls), only in a
    dispatcher, and only once the node's state is stored: the worker's own
    writes, whose check of the current state reads through ``_get_task_meta_for``,
    and the producer's ``result.get()`` still work. Each failure takes one read
    off the marker's count, so the outage is hit exactly that many times, each
    time on a read that would have shown the node ended.
    """

    def get_task_meta(self, task_id, cache=True):
        meta = super().get_task_meta(task_id, cache=cache)
        if (meta["status"] in states.READY_STATES and getattr(current_task, "name", None) == Dispatcher.name
                and _take_read(outage_marker(os.environ["FLOWTRACE_IT_DIR"], task_id))):
            raise ConnectionError("the result backend is down")
        return meta


def _take_read(marker):
    """Whether the outage in ``marker`` fails this read; counts it (a flow's dispatcher wakes once at a time)."""
    try:
        with open(marker) as f:
            left = int(f.read())
    except FileNotFoundError:
        return False
    if left > 1:
        with open(marker, "w") as f:
            f.write(str(left - 1))
    else:
        os.unlink(marker)
    return left > 0


def explode(storage_pool, node_args):
    """A foreach function with a bug."""
    raise KeyError("a bug in a foreach function")


def items(storage_pool, node_args):
    """The foreach function: the items the task Items returned."""
    return storage_pool.get("Items")["items"]


def failing_strategy(status):
    """A sampling strategy with a bug: the dispatcher falls back to its own countdown."""
    raise RuntimeError("strategy bug")


def reuse_named(flow_name, node_name, node_args, task_names, storage_pool):
    """SelA's selective run function: reuse the run ``node_args['reuse']`` names, if any."""
    return (node_args or {}).get("reuse")
