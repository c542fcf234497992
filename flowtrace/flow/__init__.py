"""Flows in Selinon's YAML format: loading and checking them, drawing them, running them on Celery.

- :func:`flowtrace.load_flows` (:mod:`flowtrace.flow.load`) reads and checks
  YAML files and folders and returns a
  :class:`~flowtrace.flow.model.FlowConfig`, the data model of
  :mod:`flowtrace.flow.model`; :mod:`flowtrace.flow.load.check` finds every
  problem, as ``file:line: message``.
- :mod:`flowtrace.flow.predicates` holds the built-in predicates and evaluates
  edge conditions.
- :mod:`flowtrace.flow.plot` draws flows as Graphviz DOT.
- :func:`register` puts a loaded configuration on a Celery app: the
  dispatcher task (:mod:`flowtrace.flow.dispatcher`) and one Celery task per
  flow task (:class:`~flowtrace.flow.task.FlowTask`).
- :func:`flowtrace.run_flow` (:mod:`flowtrace.flow.run`) starts a flow, and
  :func:`run_flow_selective` the path to some of its tasks, and
  :func:`flow_signature` (:mod:`flowtrace.flow.canvas`) makes one a step of
  a Celery chain, group or chord.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flowtrace.flow import _runtime
from flowtrace.flow._registration import register
from flowtrace.flow.load import load_flows
from flowtrace.flow.model import FlowConfig, FlowConfigError, Problem
from flowtrace.flow.run import run_flow, run_flow_selective

__all__ = ["load_flows", "register", "run_flow", "run_flow_selective", "FlowConfig", "FlowConfigError", "Problem",
           "APP_SETTING", "flow_signature"]

#: The ``app.conf`` key :func:`register` keeps the configuration under (``flowtrace_flows``).
#:
#: .. versionadded:: 0.1.0
APP_SETTING = _runtime.APP_SETTING

if TYPE_CHECKING:
    from flowtrace.flow.canvas import flow_signature
else:
    def __getattr__(name: str) -> object:
        # flow_signature imports Celery's canvas: loading and checking flows does without Celery.
        if name != "flow_signature":
            raise AttributeError("module 'flowtrace.flow' has no attribute %r" % (name,))
        from flowtrace.flow.canvas import flow_signature

        return flow_signature
