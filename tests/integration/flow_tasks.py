"""The flow tasks, storage and foreach function of tests/integration/flows/, run by real workers."""

from __future__ import annotations

import os

import flowtrace
from flowtrace.storages.filesystem import FilesystemStorage


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


def explode(storage_pool, node_args):
    """A foreach function with a bug."""
    raise KeyError("a bug in a foreach function")


def items(storage_pool, node_args):
    """The foreach function: the items the task Items returned."""
    return storage_pool.get("Items")["items"]
