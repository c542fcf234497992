"""Running a flow in one process, without a broker: :func:`execute`, behind ``flowtrace execute``.

An engine for development and for users' tests, as Selinon's executor
(``selinon-cli execute``) is. It is **no proof of cross-process
behaviour**: the flow's messages never leave the process, so whatever a
broker, a result backend shared by several machines or a prefork pool does
(serialisation of the arguments, lost messages, a worker that dies) is not
exercised. flowtrace's own tests of that run real workers.

What runs is what real workers run. The flows are registered on an
instrumented Celery app (:func:`flowtrace.flow.register`), and each message
that app publishes, a flow task's, a dispatcher's wake-up or a retry, is run
when it is due (its countdown waited) as a worker's pool process runs it:
Celery's tracer, on the request a worker makes of the message. It is the
same dispatcher task, so the
same wake-up algorithm and the same decisions; the same task runner, so the
task classes, conditions, ``foreach`` functions and storages all run; and the
same Celery hooks, so the same events: ``TASK_PUBLISH`` when a message is
sent, ``TASK_START`` and one terminal event per attempt, and every flow
event. What a worker does with a nudge the executor does too: a node whose
attempt ends wakes its dispatcher at once.

The limits: ``TASK_RECEIVED`` and the other events of a worker's main
process (``TASK_REVOKED``, ``TASK_UNKNOWN``, a lost worker) are never
emitted, as no worker receives the messages, and what a worker's main process
stamps on a message (the ``queue_latency`` of ``TASK_START``) is missing; the
events' ``node`` and ``pid`` are this process's; the messages are never
serialised, so arguments that JSON cannot carry still pass; ``--concurrency``
runs threads, not processes; and one :func:`execute` runs at a time in a
process.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import dataclasses
import io
import os
from typing import Any, List, NamedTuple, Optional, Sequence, Tuple, Union

from flowtrace.errors import FlowError, UnknownFlowError
from flowtrace.flow.model import FlowConfig
from flowtrace.trace import Trace

__all__ = ["execute", "Execution", "Selective", "DEFAULT_SLEEP_TIME", "ENDED", "FAILED", "STOPPED"]

#: The longest wait, in seconds, before the executor looks at its queue again (Selinon's default).
#:
#: .. versionadded:: 0.1.0
DEFAULT_SLEEP_TIME = 0.5

#: :attr:`Execution.outcome` when the flow ended.
#:
#: .. versionadded:: 0.1.0
ENDED = "ended"
#: :attr:`Execution.outcome` when the flow failed.
#:
#: .. versionadded:: 0.1.0
FAILED = "failed"
#: :attr:`Execution.outcome` when the run stopped before the flow had an outcome (its ``timeout``, or nothing
#: was left to run).
#:
#: .. versionadded:: 0.1.0
STOPPED = "stopped"


class Selective(NamedTuple):
    """A selective run: only the path to ``task_names``, as ``flowtrace.run_flow_selective`` runs it.

    Attributes:
        task_names: the tasks to run, with what they need.
        follow_subflows: look for the tasks in sub-flows too.
        run_subsequent: run what follows the tasks as well.

    .. versionadded:: 0.1.0
    """

    task_names: Tuple[str, ...]
    follow_subflows: bool = False
    run_subsequent: bool = False


class Execution(NamedTuple):
    """What :func:`execute` returns.

    Attributes:
        flow_name: the flow.
        dispatcher_id: its dispatcher's id, the ``dispatcher_id`` of its events.
        outcome: :data:`ENDED`, :data:`FAILED` or :data:`STOPPED`.
        state: the flow's final ``{"finished_nodes", "failed_nodes", "active_nodes"}``
            (None when :data:`STOPPED`).
        events: every event emitted during the run, as ``(event, msg_dict)``.
        lines: the same events as JSON lines, as ``Trace.trace_by_json`` writes them
            (what :func:`flowtrace.view.render` reads).
        left: ``(task name, task id)`` of the messages still queued when the run stopped
            (nodes the flow does not wait for, unless ``keep_going``).

    .. versionadded:: 0.1.0
    """

    flow_name: str
    dispatcher_id: str
    outcome: str
    state: Optional[dict]
    events: List[Tuple[int, dict]]
    lines: List[str]
    left: List[Tuple[str, str]]

    @property
    def succeeded(self) -> bool:
        """Whether the flow ended (rather than failed or stopped).

        .. versionadded:: 0.1.0
        """
        return self.outcome == ENDED


def execute(config: Union[FlowConfig, str, os.PathLike, Sequence[Union[str, os.PathLike]]], flow_name: str,
            node_args: Any = None, *, concurrency: int = 1, sleep_time: float = DEFAULT_SLEEP_TIME,
            keep_going: bool = False, selective: Optional[Selective] = None, app_settings: Optional[dict] = None,
            timeout: Optional[float] = None, configure_trace: bool = False) -> Execution:
    """Run the flow ``flow_name`` in this process, without a broker, and return how it went.

    The sinks registered on :class:`~flowtrace.Trace` receive the events as
    the run goes, and :attr:`Execution.events` holds them all. See the module
    documentation for what runs as on real workers and what does not.

    Args:
        config: a :class:`~flowtrace.flow.model.FlowConfig`, or the YAML files and folders
            :func:`flowtrace.load_flows` takes.
        flow_name: a flow of that configuration.
        node_args: the flow's arguments; any JSON value.
        concurrency: how many messages run at the same time, each in a thread of its own
            (a worker's ``--concurrency``); 1 runs everything in the calling thread.
        sleep_time: the longest wait, in seconds, before the queue is looked at again while
            the next message is due later.
        keep_going: once the flow has its outcome, run what is still queued too (the nodes
            of ``nowait``, those a failure left running), until nothing is; without it the
            run stops there and :attr:`Execution.left` lists them.
        selective: run only the path to some tasks (:class:`Selective`).
        app_settings: Celery and flowtrace settings for the executor's app
            (``flowtrace_dispatcher_countdown``, say).
        timeout: stop after this many seconds even without an outcome (:data:`STOPPED`),
            for a flow that may loop for ever; None, the default: no limit.
        configure_trace: apply the configuration's ``global: trace`` (its sinks and trace
            storages) to :class:`~flowtrace.Trace`, as registering it on an app does; they then
            stay configured. False, the default: the process keeps the sinks it has.

    Returns:
        An :class:`Execution`.

    Raises:
        flowtrace.errors.UnknownFlowError: if there is no flow ``flow_name``.
        flowtrace.errors.FlowConfigError: if the YAML has problems.
        NotImplementedError: for ``selective`` when this build has no selective runs.
        ValueError: if ``concurrency`` or ``sleep_time`` is out of range.
        RuntimeError: if another :func:`execute` is running in this process.

    .. versionadded:: 0.1.0
    """
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ValueError("concurrency must be an int of 1 or more, got %r" % (concurrency,))
    if not isinstance(sleep_time, (int, float)) or isinstance(sleep_time, bool) or not sleep_time > 0:
        raise ValueError("sleep_time must be a number of seconds above 0, got %r" % (sleep_time,))
    if not isinstance(config, FlowConfig):
        from flowtrace.flow.load import load_flows

        paths = [config] if isinstance(config, (str, os.PathLike)) else list(config)
        config = load_flows(*paths)
    if not configure_trace and (config.settings.trace or config.settings.trace_storages):
        config = dataclasses.replace(config, settings=dataclasses.replace(config.settings, trace=(),
                                                                          trace_storages=()))
    if flow_name not in config.flows:
        raise UnknownFlowError("there is no flow %r; the flows are %s" % (flow_name, ", ".join(config.flows) or "none"))
    start = _starter(selective)
    from flowtrace.flow import _executor

    events: List[Tuple[int, dict]] = []
    stream = io.StringIO()
    json_sink = Trace.trace_by_json(stream)
    def capture(event: int, msg: dict) -> None:
        events.append((event, msg))

    Trace.add_sink(capture)
    try:
        with _executor.Local(config, app_settings) as local:
            dispatcher_id = start(local.app, flow_name, node_args).id
            loop = _executor.Loop(local, dispatcher_id, concurrency, float(sleep_time), keep_going, timeout)
            left = loop.run()
    finally:
        Trace.remove_sink(capture)
        Trace.remove_sink(json_sink)
    outcome, state = _outcome(loop.outcome)
    return Execution(flow_name, dispatcher_id, outcome, state, events, stream.getvalue().splitlines(),
                     [(message.task_name, message.task_id) for message in left])


def _outcome(result) -> Tuple[str, Optional[dict]]:
    if result is None:
        return STOPPED, None
    if result.state == "SUCCESS":
        return ENDED, result.result
    error = result.result
    return FAILED, error.state if isinstance(error, FlowError) else None


def _starter(selective: Optional[Selective]):
    """What starts the flow: :func:`flowtrace.run_flow`, or the selective run's starter."""
    if selective is None:
        from flowtrace.flow.run import run_flow

        return run_flow
    from flowtrace.flow.run import run_flow_selective

    def start(app, flow_name, node_args):
        return run_flow_selective(app, flow_name, list(selective.task_names), node_args,
                             follow_subflows=selective.follow_subflows, run_subsequent=selective.run_subsequent)

    return start
