"""``flowtrace view``: draw a JSON trace log as one timeline tree per root task or flow.

The log is what :class:`~flowtrace.sinks.json.JsonSink` writes, one event
object per line, possibly mixed with other text (worker logs). Lines that are
not event objects are counted and skipped, never fatal.

Events are grouped into nodes:

- a *task* node holds the events whose ``details.task_id`` is its id, the
  dispatcher's ``TASK_SCHEDULE`` of it included;
- a *flow* node holds the events whose ``details.dispatcher_id`` is its id
  and that name no task (dispatcher and flow events), the ``SUBFLOW_SCHEDULE``
  that started it (by ``child_dispatcher_id``), and the events of the
  dispatcher's own Celery task (whose ``task_id`` is the dispatcher id).

A node's parent is, in this order, the flow that scheduled it as a subflow,
its ``parent_dispatcher_id`` (for emitters that set one), a flow's string
``parent``, its ``parent_id``, then the flow named by a task's
``dispatcher_id``. The dispatcher itself writes no ``parent_dispatcher_id``:
a sub-flow is found by its parent's ``SUBFLOW_SCHEDULE``, or else by the
``parent_id`` Celery gives its dispatcher's first message, the parent
dispatcher's id. A node whose parents are all missing from the log is a
root. Children are drawn in start order, and a task's attempts (one per
``retries`` value) are drawn above its children.

The output depends on the log alone: wall-clock time is used only when the
caller passes ``now``, to measure nodes that have not finished. It looks like::

    2026-11-21T10:05:24.506658Z  trace 4bf92f3577b34da6a3ce929d0e0e4736
    orders.process [5e1b3c1a]    SUCCESS  0.300s  +0.000s  [=====                         ]
    ├── orders.email [a7c2d4e6]  SUCCESS  2.165s  +0.050s  [===..........................=]  2 attempts
    │   ├── attempt 1            RETRY    0.120s  +0.050s  [===                           ]  countdown 2, SMTPError: 421
    │   └── attempt 2            SUCCESS  0.030s  +0.180s  [  ...........................=]
    └── orders.stock [b8d3e5f7]  FAILURE  0.420s  +0.100s  [ =======                      ]  ValueError: out of stock

The package's modules, in the order a log goes through them: ``_log`` reads
the lines and their events, ``_state`` reads what one node's events say,
``_tree`` groups the events into nodes and links them into trees, ``_draw``
draws one tree, ``_render`` all of them, and ``_command`` is the command.

.. versionadded:: 0.1.0
"""

from flowtrace.view._command import add_arguments, run, want_color
from flowtrace.view._log import MAX_LINE, parse_time, read_lines, text
from flowtrace.view._render import BAR_WIDTH, ViewStats, render

__all__ = ["ViewStats", "render", "read_lines", "add_arguments", "run", "MAX_LINE", "BAR_WIDTH", "want_color",
           "parse_time", "text"]
