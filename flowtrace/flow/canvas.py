"""Flows in Celery's canvas: :func:`flow_signature`, a flow as one step of a chain, group or chord.

A flow's signature is a signature of its dispatcher task, of a type of its
own (:class:`FlowSignature`, registered with Celery as ``flowtrace_flow``)
whose sending does what :func:`flowtrace.run_flow` does: it emits
``FLOW_SCHEDULE`` and sets the flow header, in whatever process sends it (the
producer, or the worker that ran the step before it in a chain). The trace
context rides in the message's headers as for any task, so a flow in a chain
shares the chain's trace.

The flow's result, what the next step gets, is the dispatcher's: the flow's
final state ``{"finished_nodes", "failed_nodes", "active_nodes"}``, as
``run_flow(...).get()`` returns it and as Selinon's dispatcher returns it.
The dispatcher's task result becomes ready only when the flow ends: its
wake-ups retry the task under the same id, and a retry stores no state
(``flowtrace.flow._runtime.RetrylessBackend``), while Celery carries the
chain, the chord and the callbacks of the first message into every retry.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from celery.canvas import Signature

from flowtrace._flowheader import FLOW_HEADER, flow_header
from flowtrace.flow import _msg, _runtime, _start
from flowtrace.trace import Trace

if TYPE_CHECKING:
    from celery import Celery
    from celery.result import AsyncResult, EagerResult

__all__ = ["FlowSignature", "flow_signature", "SUBTASK_TYPE"]

#: The name :class:`FlowSignature` is registered under with Celery (``Signature.register_type``): the
#: ``subtask_type`` of its serialised form, by which a worker that reads it from a chain makes it again.
#:
#: .. versionadded:: 0.1.0
SUBTASK_TYPE = "flowtrace_flow"

_CALL_KEYS = frozenset({"flow_name", "node_args", "parent"})


def flow_signature(app: Celery, flow_name: str, node_args: Any = None, **options: Any) -> Signature:
    """A Celery signature that runs the flow ``flow_name``: a step of a chain, a group or a chord.

    Sending it (``apply_async()``, ``delay()``, or as part of a canvas) starts
    the flow as :func:`flowtrace.run_flow` does, ``FLOW_SCHEDULE`` included,
    and its result is the flow's final state, ``{"finished_nodes": ...,
    "failed_nodes": ..., "active_nodes": ...}``. A flow that fails fails its
    step with :exc:`~flowtrace.errors.FlowError`, which stops a chain and
    fails a chord's body, as any failed task does.

    Without ``node_args`` the signature takes Celery's partial argument: in a
    chain, the previous step's result becomes the flow's ``node_args``, and
    a chord's body of a flow gets the list of its header's results. With
    ``node_args`` the signature is immutable, as Celery's ``si()`` makes
    one: the previous step's result is not passed. Either way can be changed
    with ``.set(immutable=...)``; a mutable signature that has ``node_args``
    takes the partial argument instead of them.

    Every worker that sends the signature as the next step of a chain must
    have the flows loaded (``flowtrace.load_flows(..., app=app)`` registers
    the signature's type).

    Args:
        app: the Celery app the flows were loaded on.
        flow_name: a flow of that configuration.
        node_args: the flow's arguments; any JSON value. None: the partial
            argument, if any.
        **options: the send options :func:`flowtrace.run_flow` takes
            (``queue``, ``countdown``, ``eta``, ``priority``, ``link``,
            ``link_error``), for the dispatcher's first message.

    Returns:
        A :class:`~flowtrace.flow.canvas.FlowSignature`, a :class:`celery.canvas.Signature`.

    Raises:
        flowtrace.errors.UnknownFlowError: if the app has no flow of that name.
        ValueError: if the app has no flows, or no result backend, or a send
            option has a value out of range.
        TypeError: if a send option is unknown or of the wrong type.
        flowtrace.errors.ConfigurationError: under ``task_always_eager``
            without ``task_store_eager_result``.

    .. versionadded:: 0.1.0
    """
    _flow, checked = _start.startable(app, flow_name, options)
    kwargs = {"flow_name": flow_name, "node_args": node_args, "parent": None}
    return FlowSignature(_runtime.DISPATCHER_NAME, (), kwargs, checked, subtask_type=SUBTASK_TYPE,
                         immutable=node_args is not None, app=app)


@Signature.register_type(name=SUBTASK_TYPE)
class FlowSignature(Signature):
    """The signature :func:`flow_signature` returns: sending it starts a flow.

    A :class:`celery.canvas.Signature` of the dispatcher task, whose
    ``apply_async()`` and ``apply()`` turn a partial argument into the flow's
    ``node_args``, emit ``FLOW_SCHEDULE`` and set the flow header. Make it
    with :func:`flowtrace.flow_signature`.

    .. versionadded:: 0.1.0
    """

    @classmethod
    def from_dict(cls, d: dict, app: Celery | None = None) -> FlowSignature:
        """Make the signature again from its serialised form (a chain's next step, read by a worker).

        Args:
            d: the signature as a dict.
            app: the app to bind it to.

        Returns:
            The :class:`FlowSignature`.

        .. versionadded:: 0.1.0
        """
        return cls(d, app=app)

    def apply_async(self, args: Any = None, kwargs: Any = None, route_name: Any = None,
                    **options: Any) -> AsyncResult:
        """Start the flow: send its dispatcher's first message; ``FLOW_SCHEDULE`` is emitted first.

        Args:
            args: Celery's partial arguments: at most one, the flow's
                ``node_args`` (a mutable signature only).
            kwargs: partial keyword arguments: ``node_args`` only.
            route_name: passed on to Celery.
            **options: Celery's options, merged with the signature's.

        Returns:
            The dispatcher's :class:`~celery.result.AsyncResult`; its result is
            the flow's final state.

        Raises:
            TypeError: more than one partial argument, or a keyword argument
                other than ``node_args``.
            flowtrace.errors.ConfigurationError: under ``task_always_eager``
                without ``task_store_eager_result``.

        .. versionadded:: 0.1.0
        """
        call, merged = self._start(args, kwargs, options)
        if route_name is not None:
            merged["route_name"] = route_name
        return self.type.apply_async((), call, **merged)

    def apply(self, args: Any = None, kwargs: Any = None, **options: Any) -> EagerResult:
        """Run the flow in this process, every node in-line; needs eager mode that stores results.

        Args:
            args: as for :meth:`apply_async`.
            kwargs: as for :meth:`apply_async`.
            **options: Celery's options, merged with the signature's.

        Returns:
            Celery's :class:`~celery.result.EagerResult` of the dispatcher.

        Raises:
            flowtrace.errors.ConfigurationError: unless the app sets both
                ``task_always_eager`` and ``task_store_eager_result``.

        .. versionadded:: 0.1.0
        """
        _start.check_eager(self.app, apply=True)
        call, merged = self._start(args, kwargs, options)
        return self.type.apply((), call, **merged)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Refused: a flow is a dispatcher that retries itself, never a plain function call.

        Raises:
            TypeError: always; use :meth:`apply_async` or :meth:`apply`.
        """
        raise TypeError("a flow cannot be called as a function; send it with apply_async() or delay(), "
                        "or run it in-line with apply()")

    def _start(self, args, kwargs, options) -> tuple[dict, dict]:
        """The dispatcher's keyword arguments and options for this start; emits ``FLOW_SCHEDULE``."""
        options = {key: value for key, value in options.items() if value is not None}  # Celery's rule
        args, kwargs, merged = self._merge(tuple(args or ()), dict(kwargs or {}), options)
        call = dict(kwargs)
        flow_name: str = call["flow_name"]
        unknown = sorted(set(call) - _CALL_KEYS)
        if unknown:
            raise TypeError("flow %r takes no keyword argument %s; its one argument is node_args"
                            % (flow_name, ", ".join(map(repr, unknown))))
        if len(args) > 1:
            raise TypeError("flow %r takes one argument, its node_args, but was given %d" % (flow_name, len(args)))
        if args:
            call["node_args"] = args[0]
        flow, _options = _start.startable(self.app, flow_name, {})
        merged = dict(merged)
        dispatcher_id = merged.get("task_id") or str(uuid.uuid4())
        merged["task_id"] = dispatcher_id
        queued = merged.setdefault("queue", flow.queue)
        queue = str(getattr(queued, "name", queued))  # Celery takes a kombu Queue too
        node_args = call.get("node_args")
        headers = dict(merged.get("headers") or {})
        headers[FLOW_HEADER] = flow_header(flow_name, dispatcher_id, call.get("parent"), node_args)
        merged["headers"] = headers
        # Emitted before the message is sent, as run_flow does, so that the log reads in causal order.
        Trace.log(Trace.FLOW_SCHEDULE, _msg.flow(flow_name, dispatcher_id, node_args, queue))
        return call, merged
