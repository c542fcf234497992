"""The two span types of the trace context: :class:`SpanRef`, a span as a ``traceparent`` names it, and :class:`AttemptSpan`.

Both are :mod:`flowtrace.context`'s, and documented and imported there;
this module keeps what they are apart from which of them is current.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple, Optional

from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, TraceState

from flowtrace import _w3c

if TYPE_CHECKING:
    from opentelemetry.trace import Span, Status, StatusCode

__all__ = ["SpanRef", "AttemptSpan"]

# Flags flowtrace sends on: sampled and Level 2's random bit; the others are reserved.
_FLAG_MASK = _w3c.SAMPLED | _w3c.RANDOM
_TRACE_FLAGS = {flags: TraceFlags(flags) for flags in range(_FLAG_MASK + 1)}


class SpanRef(NamedTuple):
    """One span of a trace, as a ``traceparent`` names it.

    Attributes:
        trace_id: 32 lower-case hex digits.
        span_id: 16 lower-case hex digits.
        flags: the ``trace-flags`` byte; only ``SAMPLED``
            and ``RANDOM`` are kept.
        tracestate: the validated ``tracestate`` header value, or None.

    .. versionadded:: 0.1.0
    """

    trace_id: str
    span_id: str
    flags: int = _w3c.SAMPLED
    tracestate: Optional[str] = None

    @property
    def traceparent(self) -> str:
        """The version ``00`` ``traceparent`` header naming this span.

        .. versionadded:: 0.1.0
        """
        return _w3c.format_traceparent(self.trace_id, self.span_id, self.flags & _FLAG_MASK)

    def span_context(self, remote: bool = True) -> SpanContext:
        """This span as an OpenTelemetry :class:`~opentelemetry.trace.SpanContext`.

        Args:
            remote: whether the span context was received from another process.

        Returns:
            The span context, with the ``tracestate`` parsed.

        .. versionadded:: 0.1.0
        """
        state = TraceState(_w3c.parse_tracestate(self.tracestate) or ()) if self.tracestate else None
        return SpanContext(int(self.trace_id, 16), int(self.span_id, 16), remote, _TRACE_FLAGS[self.flags & _FLAG_MASK],
                           state)

    @classmethod
    def from_span_context(cls, span_context: SpanContext | None) -> SpanRef | None:
        """The :class:`SpanRef` of an OpenTelemetry span context, or None when it is not valid.

        Args:
            span_context: the span context, or None.

        Returns:
            The span, its flags kept to ``SAMPLED`` and ``RANDOM``; None for
            None or an invalid span context.

        .. versionadded:: 0.1.0
        """
        if span_context is None or not span_context.is_valid:
            return None
        state = span_context.trace_state
        return cls("%032x" % span_context.trace_id, "%016x" % span_context.span_id,
                   int(span_context.trace_flags) & _FLAG_MASK, state.to_header() if state else None)


class AttemptSpan(NonRecordingSpan):
    """The span of a Celery task attempt, current in OpenTelemetry's context while the attempt runs.

    Its ids are the ones flowtrace chose for the attempt and puts on every
    event of it. By itself it records nothing, as OpenTelemetry's
    ``NonRecordingSpan``: spans started in the task are its children and
    propagation works with ``opentelemetry-api`` alone. When an OpenTelemetry
    sink (:meth:`flowtrace.Trace.trace_by_otel`) makes a real span with the
    same ids, it binds it here (:meth:`bind`), and what the task does to its
    current span (``trace.get_current_span().set_attribute(...)``) reaches
    that real span.

    Attributes:
        ids: ``(trace_id, span_id)`` as hex strings.
        ref: this span as a :class:`SpanRef`.
        parent: the :class:`SpanRef` of its parent, or None for the root of a new trace.
        link: the :class:`SpanRef` the attempt links to instead of being its
            child (``flowtrace_trace: link``), or None.
        task_id: the Celery task id.
        retries: the attempt's ``retries`` (0 for the first).
        ended: whether the attempt is over.

    .. versionadded:: 0.1.0
    """

    def __init__(self, ref: SpanRef, parent: SpanRef | None = None, link: SpanRef | None = None,
                 task_id: str | None = None, retries: int = 0) -> None:
        # The OpenTelemetry SpanContext is made when someone asks for it:
        # most tasks never start a span of their own (flowtrace reads ref).
        self._span_context: SpanContext | None = None
        self.ids = (ref.trace_id, ref.span_id)
        self.ref = ref
        self.parent = parent
        self.link = link
        self.task_id = task_id
        self.retries = retries
        self.ended = False
        self._delegate: Span | None = None

    def get_span_context(self) -> SpanContext:
        """The attempt's span context, made on first use.

        Returns:
            The span context of :attr:`ref`, local to this process.

        .. versionadded:: 0.1.0
        """
        span_context = self._span_context
        if span_context is None:
            span_context = self._span_context = self.ref.span_context(remote=False)
        return span_context

    def bind(self, span: Span) -> None:
        """Send what is done to this span to ``span`` too, a real span with the same ids.

        Args:
            span: the recording span, as an OpenTelemetry SDK makes it.

        .. versionadded:: 0.1.0
        """
        self._delegate = span

    def is_recording(self) -> bool:
        """Whether a span is bound (:meth:`bind`) and records.

        Returns:
            The bound span's ``is_recording()``, False without one.

        .. versionadded:: 0.1.0
        """
        delegate = self._delegate
        return delegate is not None and delegate.is_recording()

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        """Set attributes on the bound span, if any; as the OpenTelemetry ``Span`` method.

        Args:
            attributes: the attributes.

        .. versionadded:: 0.1.0
        """
        if self._delegate is not None:
            self._delegate.set_attributes(attributes)

    def set_attribute(self, key: str, value: Any) -> None:
        """Set one attribute on the bound span, if any; as the OpenTelemetry ``Span`` method.

        Args:
            key: the attribute's name.
            value: its value.

        .. versionadded:: 0.1.0
        """
        if self._delegate is not None:
            self._delegate.set_attribute(key, value)

    def add_event(self, name: str, attributes: Mapping[str, Any] | None = None, timestamp: int | None = None) -> None:
        """Add an event to the bound span, if any; as the OpenTelemetry ``Span`` method.

        Args:
            name: the event's name.
            attributes: its attributes.
            timestamp: when it happened, in nanoseconds since the epoch; now by default.

        .. versionadded:: 0.1.0
        """
        if self._delegate is not None:
            self._delegate.add_event(name, attributes, timestamp)

    def add_link(self, context: SpanContext, attributes: Mapping[str, Any] | None = None) -> None:
        """Add a link to the bound span, if any; as the OpenTelemetry ``Span`` method.

        Args:
            context: the span context linked to.
            attributes: the link's attributes.

        .. versionadded:: 0.1.0
        """
        if self._delegate is not None:
            self._delegate.add_link(context, attributes)

    def update_name(self, name: str) -> None:
        """Rename the bound span, if any; as the OpenTelemetry ``Span`` method.

        Args:
            name: the new name.

        .. versionadded:: 0.1.0
        """
        if self._delegate is not None:
            self._delegate.update_name(name)

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        """Set the bound span's status, if any; as the OpenTelemetry ``Span`` method.

        Args:
            status: the status, or its code.
            description: why, for an error status.

        .. versionadded:: 0.1.0
        """
        if self._delegate is not None:
            self._delegate.set_status(status, description)

    def record_exception(self, exception: BaseException, attributes: Mapping[str, Any] | None = None,
                         timestamp: int | None = None, escaped: bool = False) -> None:
        """Record an exception on the bound span, if any; as the OpenTelemetry ``Span`` method.

        Args:
            exception: the exception.
            attributes: more attributes of the exception event.
            timestamp: when it happened, in nanoseconds since the epoch; now by default.
            escaped: whether the exception left the span's scope.

        .. versionadded:: 0.1.0
        """
        if self._delegate is not None:
            self._delegate.record_exception(exception, attributes, timestamp, escaped)

    def __repr__(self) -> str:
        return "AttemptSpan(trace_id=%s, span_id=%s, task_id=%s)" % (self.ids[0], self.ids[1], self.task_id)
