"""The flow tasks of tests/integration/flows/options.yml, run by real workers."""

from __future__ import annotations

import os
import time

import flowtrace

#: How long a Gate waits for its gate file at most.
GATE_TIMEOUT = 60.0


def gate_path(run_dir, dispatcher_id):
    """The file that lets the Gate tasks of the flow ``dispatcher_id`` end."""
    return os.path.join(run_dir, "gate-" + dispatcher_id)


class Gate(flowtrace.FlowTask):
    """Runs until the test creates its flow's gate file: a node that is still running, for as long as needed."""

    def run(self, node_args):
        path = gate_path(os.environ["FLOWTRACE_IT_DIR"], self.dispatcher_id)
        deadline = time.monotonic() + GATE_TIMEOUT
        while not os.path.exists(path) and time.monotonic() < deadline:
            time.sleep(0.05)
        return None


class First(flowtrace.FlowTask):
    """Returns new node arguments, built from the flow's own."""

    def run(self, node_args):
        return {"made_by": self.task_name, "from": node_args}


class Collect(flowtrace.FlowTask):
    """Reads, through the compound parent, the result of the OptEcho that ran in opt_mid itself (index 0).

    The run of opt_deep (index 1) is read with the flow name ``opt_mid``, as
    Selinon reads it, and flowtrace's adapters key results by flow: it is not
    read here (see docs/flows.rst).
    """

    def run(self, node_args):
        return {"runs": len(self.parent["opt_mid"]["OptEcho"]),
                "first": self.parent_flow_result("opt_mid", "OptEcho", 0)["task"]}


class Inspect(flowtrace.FlowTask):
    """Reads the exceptions of every failed OptBroken of the sub-flow opt_brittle (compound parent)."""

    def run(self, node_args):
        runs = self.parent["opt_brittle"]["OptBroken"]
        return {"flow": self.flow_name,
                "errors": [repr(self.parent_flow_exception("opt_brittle", "OptBroken", index))
                           for index in range(len(runs))]}
