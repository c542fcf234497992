"""The Sentry sink: breadcrumbs for every event, Sentry events for warnings and errors."""

from __future__ import annotations

import os
import re
from typing import Any

from flowtrace import _deps, _enrich, _redact, events

_LEVEL_OF = {row.value: row.level for row in events.EVENTS}
_NAMES = events.NAMES
_CAPTURED = (events.WARNING, events.ERROR)
_TAG_KEYS = ("flow_name", "task_name", "dispatcher_id", "trace_id", "span_id")
_ENV_REF = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_COPY_DEPTH = 16

#: The msg key under which an emitter passes the exception (an exception
#: object or a ``sys.exc_info()`` tuple) so that Sentry gets its traceback.
#:
#: .. versionadded:: 0.1.0
EXC_KEY = "exc_info"

# For a call from anything but Trace.log, which gives the enrichment.
_make_enrichment = _enrich.maker(_enrich.IDS)


def expand_env(value: str) -> str:
    """Replace each ``{NAME}`` in ``value`` by the environment variable ``NAME``.

    Args:
        value: the text, such as a DSN.

    Returns:
        The text with every reference replaced.

    Raises:
        ValueError: naming the variable that is not set (never the value itself).

    .. versionadded:: 0.1.0
    """

    def lookup(match: re.Match[str]) -> str:
        name = match.group(1)
        try:
            return os.environ[name]
        except KeyError:
            raise ValueError("the Sentry DSN refers to the environment variable %s, which is not set" % name) from None

    return _ENV_REF.sub(lookup, value)


def _snapshot(value: Any, memo: dict[int, Any], depth: int) -> Any:
    """Copy the dicts and lists in ``value``; leaves are shared.

    Each container is copied once (``memo`` maps ``id`` to the copy), so
    shared and cyclic structures cost linear time. Below ``_COPY_DEPTH``
    levels the original is kept: sentry-sdk does not serialise that deep.
    """
    if depth >= _COPY_DEPTH or not isinstance(value, (dict, list)):
        return value
    copied = memo.get(id(value))
    if copied is not None:
        return copied
    if isinstance(value, dict):
        copied = memo[id(value)] = {}
        for key, item in value.items():
            copied[key] = _snapshot(item, memo, depth + 1)
    else:
        copied = memo[id(value)] = []
        copied.extend(_snapshot(item, memo, depth + 1) for item in value)
    return copied


def _redact_frame_vars(event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any]:
    """Apply flowtrace's redaction to the local variables Sentry attaches to stack frames.

    sentry-sdk sends each frame's locals by default. 2.x's scrubber only knows
    exact key names, and 3.x filters none unless its ``data_collection``
    option says so (and then by top-level name only), so ``db_password`` or a
    key added with ``Trace.redact_keys`` would otherwise reach Sentry.
    """
    for section in ("exception", "threads"):
        for value in (event.get(section) or {}).get("values") or ():
            for frame in (value.get("stacktrace") or {}).get("frames") or ():
                local_vars = frame.get("vars")
                if isinstance(local_vars, dict):
                    frame["vars"] = _redact.redact(local_vars)
    return event


def _event_processor(sdk: Any) -> Any:
    """Return the processor the sink adds to its events: it redacts every frame's locals.

    A message event gets the current stack when the client's
    ``attach_stacktrace`` option is on (the default from sentry-sdk 3.0), with
    the locals of each frame: the emitter's, and Trace.log's arguments before
    redaction. sentry-sdk attaches that stack after the event processors have
    run, where :func:`_redact_frame_vars` cannot reach it, so the processor
    attaches it first, as the client would (the client then leaves it), and
    redacts it. The version difference is settled here, once per sink.
    """
    from sentry_sdk import utils

    current_stacktrace: Any = utils.current_stacktrace  # Any: its parameters differ between the majors

    if int(sdk.VERSION.split(".", 1)[0]) >= 3:
        # 3.x reads which locals and how much source to send from the client's data_collection.
        def stacktrace(options: dict[str, Any]) -> Any:
            __tracebackhide__ = True  # noqa: F841 - sentry-sdk leaves frames marked so out of the stack
            return current_stacktrace(max_value_length=options.get("max_value_length"))
    else:
        def stacktrace(options: dict[str, Any]) -> Any:
            __tracebackhide__ = True  # noqa: F841
            return current_stacktrace(include_local_variables=options.get("include_local_variables", True),
                                      max_value_length=options.get("max_value_length"))

    def process(event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any]:
        __tracebackhide__ = True  # noqa: F841
        options = sdk.get_client().options
        if options.get("attach_stacktrace") and not ("exception" in event or "stacktrace" in event
                                                     or "threads" in event):
            event["threads"] = {"values": [{"stacktrace": stacktrace(options), "crashed": False, "current": True}]}
        return _redact_frame_vars(event, hint)

    return process


class SentrySink:
    """Report events to Sentry through sentry-sdk.

    Every event becomes a breadcrumb (category ``flowtrace``, the event's
    level, the msg dict as data). Events at warning or error level also become
    Sentry events: ``capture_exception`` with the exception the emitter passed
    under the ``exc_info`` key, otherwise ``capture_message``. They are tagged
    with ``event`` and, where present, ``flow_name``, ``task_name``,
    ``dispatcher_id``, ``trace_id`` and ``span_id``, and grouped by event and
    task or flow name.

    Breadcrumbs and events carry the W3C trace context: ``trace_id`` and
    ``span_id`` are in every breadcrumb's data (the msg dict's own, or the
    ones current where the event is emitted). An event's Sentry ``trace``
    context is set to them when no Sentry span is active, so that Sentry's
    trace id is the one the OpenTelemetry backend shows; inside a Sentry
    transaction (sentry-sdk's CeleryIntegration with tracing on) the event
    stays in that transaction, and the W3C ids are in its tags.

    The local variables of the stack frames an event carries (an exception's
    traceback, or the stack sentry-sdk attaches to a message when its
    ``attach_stacktrace`` option is on, as it is by default from 3.0) are
    redacted like msg dicts. Works with sentry-sdk 2.x and 3.x.

    Delivery is sentry-sdk's: its transport queues envelopes and sends them
    from a background thread, dropping (and counting in its client reports)
    when the queue is full, so a Sentry that is down never blocks a task.

    Args:
        dsn: the DSN. ``{NAME}`` parts are replaced by environment variables,
            as Selinon does. ``None`` uses the client sentry-sdk already has.
        options: passed to ``sentry_sdk.init`` together with ``dsn``.

    Raises:
        flowtrace.MissingDependency: if sentry-sdk is not installed.
        ValueError: if ``dsn`` is not a string, names an unset variable, or
            is ``None`` while no Sentry client is active.

    .. versionadded:: 0.1.0
    """

    #: The parts of each event's enrichment this sink reads, which :meth:`flowtrace.Trace.log`
    #: then passes to it (see :class:`flowtrace.sinks.Sink`).
    wants_enrichment = ("ids",)

    def __init__(self, dsn: str | None = None, **options: Any) -> None:
        self._sdk = sdk = _deps.require("sentry_sdk", "sentry", "trace_by_sentry")
        if dsn is None:
            if options:
                raise ValueError("Sentry options were given without a dsn; pass dsn= or initialise sentry_sdk yourself")
            if not sdk.get_client().is_active():
                raise ValueError("no Sentry client is initialised; pass a dsn or call sentry_sdk.init() first")
        else:
            if not isinstance(dsn, str):
                raise ValueError("the Sentry dsn must be a string, got %s" % type(dsn).__name__)
            sdk.init(dsn=expand_env(dsn), **options)
        #: The client this sink started, which close() closes; None when the
        #: sink uses a client someone else initialised.
        self._client = sdk.get_client() if dsn is not None else None
        self._process_event = _event_processor(sdk)
        self.name = "sentry"

    def __call__(self, event: int, msg_dict: dict[str, Any], enrichment: _enrich.Enrichment | None = None) -> None:
        """Add one event's breadcrumb and, at warning or error level, capture it.

        Args:
            event: the event value.
            msg_dict: its msg dict, the breadcrumb's data.
            enrichment: its enrichment, as :meth:`flowtrace.Trace.log` passes it, for
                the trace ids; made here when the sink is called without one.

        .. versionadded:: 0.1.0
        """
        sdk = self._sdk
        name = _NAMES.get(event) or str(event)
        level = events.INFO if msg_dict.get(events.EXPECTED_KEY) is True else _LEVEL_OF.get(event, events.INFO)
        exc = msg_dict.get(EXC_KEY)
        # sentry-sdk 2.x's event scrubber rewrites breadcrumb data in place (values
        # become AnnotatedValue objects), and breadcrumbs are only serialised
        # when a later event is captured. Given msg_dict itself, it would
        # change what the sinks after this one receive and, when recursive,
        # the emitter's nested containers (_redact.redact_top never modifies
        # those). The copy also keeps the values as they were at this event.
        memo: dict[int, Any] = {}
        data = {k: _snapshot(v, memo, 1) for k, v in msg_dict.items() if exc is None or k != EXC_KEY}
        # The W3C ids, so that Sentry lines up with the trace backend: the
        # msg dict's (the attempt an event is about), else the current ones.
        if enrichment is None:
            enrichment = _make_enrichment(msg_dict)
        trace_id, span_id = enrichment[1]
        if trace_id is not None and "trace_id" not in msg_dict:
            data["trace_id"], data["span_id"] = trace_id, span_id
        sdk.add_breadcrumb(category="flowtrace", message=name, level=level, data=data)
        if level not in _CAPTURED:
            return
        with sdk.new_scope() as scope:
            scope.set_tag("event", name)
            for key in _TAG_KEYS:
                value = data.get(key)
                if value is not None:
                    scope.set_tag(key, str(value))
            scope.set_context("flowtrace", {"event": name, "event_id": event, "details": data})
            if trace_id is not None and span_id is not None and sdk.get_current_span() is None:
                # With no Sentry span of its own to name, the event's trace
                # context is the W3C one: the trace id the trace backend shows.
                trace_context = {"trace_id": trace_id, "span_id": span_id}
                if msg_dict.get("parent_span_id"):
                    trace_context["parent_span_id"] = msg_dict["parent_span_id"]
                scope.set_context("trace", trace_context)
            subject = msg_dict.get("task_name") or msg_dict.get("flow_name") or ""
            scope.fingerprint = ["flowtrace", name, str(subject)]
            scope.set_level(level)  # the `level` setter is deprecated in 2.x and logs a warning
            scope.add_event_processor(self._process_event)
            if isinstance(exc, BaseException) or (isinstance(exc, tuple) and len(exc) == 3 and exc[1] is not None):
                sdk.capture_exception(exc)
            else:
                sdk.capture_message(("%s %s" % (name, subject)).strip(), level=level)

    def flush(self, timeout: float = 5.0) -> None:
        """Wait up to ``timeout`` seconds for queued Sentry envelopes to be sent.

        Args:
            timeout: the longest wait, in seconds.

        .. versionadded:: 0.1.0
        """
        self._sdk.flush(timeout=timeout)

    def close(self) -> None:
        """Flush and close the Sentry client this sink started with a DSN, and no other.

        A client that someone initialised since (``sentry_sdk.init`` again)
        is theirs and stays open.

        .. versionadded:: 0.1.0
        """
        client, self._client = self._client, None
        if client is not None:
            client.close(timeout=2.0)
