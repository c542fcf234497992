"""The task and storage classes of tests/integration/wiring_flows/."""

import json
import os

from flowtrace import FlowTask
from flowtrace.storages.filesystem import FilesystemStorage


class Produce(FlowTask):
    """Returns which side its conditions read."""

    def run(self, node_args):
        return {"side": "left"}


class Echo(FlowTask):
    """Returns its node arguments."""

    def run(self, node_args):
        return node_args


class Collect(FlowTask):
    """Reads the result of the sub-flow's task, as propagate_finished passes it on."""

    def run(self, node_args):
        return {"inner": self.parent_flow_result("wiring_inner", "Inner")}


class TraceFiles(FilesystemStorage):
    """A FilesystemStorage that also keeps the trace: one JSON line per event, in a file per process."""

    def trace(self, event, msg_dict):
        with open(os.path.join(self.path, "trace-%d.jsonl" % os.getpid()), "a", encoding="utf-8") as f:
            f.write(json.dumps({"event": event, "details": msg_dict}, default=repr) + "\n")
