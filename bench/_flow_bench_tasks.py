"""The tasks of ``bench/flow_bench.py``: one no-op class that both flowtrace and Selinon can run.

``bench/flows/dag/`` is one pair of Selinon-style YAML files, loaded by
flowtrace (``flowtrace.load_flows``) and by Selinon (``Config.init``) alike;
its tasks name :class:`Noop`, which is a :class:`flowtrace.FlowTask` and a
:class:`selinon.SelinonTask` at once. Both libraries create it the same way
(``cls(flow_name, task_name, parent, task_id, dispatcher_id)``, Selinon with
keywords of those names) and call ``run(node_args)``.
"""

from __future__ import annotations

import flowtrace

try:
    from selinon import SelinonTask
except ImportError:  # flowtrace's runs and the wake-up timing do not need it
    SelinonTask = object


class Noop(flowtrace.FlowTask, SelinonTask):
    """Does nothing and returns nothing: the time a flow takes is its dispatcher's and the broker's."""

    def run(self, node_args):
        return None


def items(storage_pool, node_args):
    """The ``foreach`` function of the ``foreach`` flow: ``node_args["n"]`` items."""
    return range(int((node_args or {}).get("n", 1000)))
