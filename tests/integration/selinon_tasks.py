"""The task classes of tests/integration/selinon_flows/: written for Selinon, and run unchanged by flowtrace's worker.

Nothing here imports flowtrace: each class is what a Selinon project has.
"""

import os

from selinon import FatalTaskError, SelinonTask


class Start(SelinonTask):
    """Returns who it is, as Selinon's attributes tell it."""

    def run(self, node_args):
        return {"flow_name": self.flow_name, "task_name": self.task_name, "task_id": self.task_id,
                "parent": self.parent, "node_args": node_args}


class Reader(SelinonTask):
    """Asks to be retried once (Selinon's static retry, with a countdown), then reads its parent's result."""

    def run(self, node_args):
        marker = os.path.join(os.environ["FLOWTRACE_IT_DIR"], "retried-" + self.task_id)
        if not os.path.exists(marker):
            open(marker, "w").close()
            self.retry(countdown=0.2)
        start = self.parent_task_result("Start")
        return {"start_task": start["task_name"], "start_id": start["task_id"], "storage": type(self.storage).__name__}


class Hopeless(SelinonTask):
    """Fails for good with Selinon's FatalTaskError."""

    def run(self, node_args):
        open(os.path.join(os.environ["FLOWTRACE_IT_DIR"], "hopeless-" + self.task_id), "w").close()
        raise FatalTaskError("no way")


class Rescue(SelinonTask):
    """The fallback: reads the exception that made Hopeless fail."""

    def run(self, node_args):
        exc = self.parent_task_exception("Hopeless")
        return {"type": type(exc).__module__ + "." + type(exc).__name__, "args": list(exc.args)}


class Collect(SelinonTask):
    """Reads the result of the sub-flow's task, with an explicit index=None."""

    def run(self, node_args):
        return {"inner": self.parent_flow_result("selinon_inner", "InnerTask", index=None)["task_name"]}
