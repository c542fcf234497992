"""What the events of one task or flow say about it, for ``flowtrace view``: its name, attempts, state and note.

Each function here reads one node's own events; how nodes link into trees,
and the times that depend on children, are :mod:`flowtrace.view._tree`'s.
A state ending in ``?`` means the node has not finished in the log.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from flowtrace.view._log import US, Event, ident, number, parse_time, text

# The end of one attempt of a task, and the state it leaves the task in.
_TASK_TERMINALS = {
    "TASK_END": "SUCCESS",
    "TASK_RETRY": "RETRY",
    "TASK_FAILURE": "FAILURE",
    "TASK_IGNORED": "IGNORED",
    "TASK_REJECTED": "REJECTED",
    "TASK_REVOKED": "REVOKED",
    "TASK_UNKNOWN": "UNKNOWN",
}
_TASK_QUEUED = ("TASK_SCHEDULE", "TASK_PUBLISH")
_TASK_LIFECYCLE = frozenset(_TASK_QUEUED + ("TASK_RECEIVED", "TASK_START"))
_FLOW_TERMINALS = {
    "FLOW_END": "SUCCESS",
    "FLOW_FAILURE": "FAILURE",
    "DISPATCHER_FAILURE": "FAILURE",
    "EAGER_FAILURE": "FAILURE",
    "FLOW_RETRY": "RETRY",
}
_FLOW_QUEUED = ("FLOW_SCHEDULE", "SUBFLOW_SCHEDULE")
_FLOW_RUNNING = ("DISPATCHER_WAKEUP", "FLOW_START", "DISPATCHER_RETRY")


class Attempt:
    """One run of a task, numbered by its ``retries`` value (``key``)."""

    __slots__ = ("key", "events", "start", "started", "received", "queued", "terminal", "last_seen", "end")

    def __init__(self, key: int):
        self.key = key
        self.events: List[Event] = []
        # Microseconds, as Event.time. start is None only until summarize_task
        # has seen every event, which gives each attempt one.
        self.start: Any = None
        self.started: Optional[int] = None
        self.terminal: Optional[Event] = None
        self.received = self.queued = False
        self.last_seen = self.end = 0

    def add(self, event: Event) -> None:
        self.events.append(event)
        self.last_seen = event.time
        name = event.name
        if name in _TASK_LIFECYCLE and self.start is None:
            self.start = event.time
        if name == "TASK_START" and self.started is None:
            self.started = event.time
        elif name == "TASK_RECEIVED":
            self.received = True
        elif name in _TASK_QUEUED:
            self.queued = True
        elif name in _TASK_TERMINALS:
            self.terminal = event

    @property
    def state(self) -> str:
        if self.terminal is not None:
            return _TASK_TERMINALS[self.terminal.name]
        if self.started is not None:
            return "RUNNING?"
        if self.received:
            return "RECEIVED?"
        if self.queued:
            return "PENDING?"
        return "?"

    @property
    def note(self) -> str:
        """The retry's countdown or eta, the exception, and whether it was expected."""
        if self.terminal is None:
            return ""
        details = self.terminal.details
        parts = []
        if self.terminal.name == "TASK_RETRY":
            countdown = number(details.get("countdown"))
            if countdown is not None:
                parts.append("countdown %s" % _seconds(countdown))
            elif text(details.get("eta")):
                parts.append("eta " + text(details.get("eta")))
        # A retry's reason is Celery's "Retry in 2s: Error(...)", which says less than its cause.
        cause = _error_text(details) or text(details.get("reason"))
        if cause:
            parts.append(cause)
        if details.get("expected") is True:
            parts.append("expected")  # listed in Task.throws
        return ", ".join(parts)

    def runtime(self) -> Optional[int]:
        """The attempt's own ``runtime``, else the time from its start to its end; ``None`` if unfinished."""
        if self.terminal is None:
            return None
        runtime = number(self.terminal.details.get("runtime"))
        if runtime is not None and runtime >= 0:
            return int(round(runtime * US))
        if self.started is not None:
            return self.terminal.time - self.started
        return None


def summarize_task(node) -> None:
    """Split a task node's events into attempts and set its name, state, completeness, start and note."""
    attempts: Dict[int, Attempt] = {}
    current: Optional[Attempt] = None
    first_sent = []
    for event in node.events:
        sent = event.details.get("first_sent")
        if type(sent) is str:
            first_sent.append(parse_time(sent))
        retries = event.details.get("retries")
        if type(retries) is int and retries >= 0:
            key = retries
        elif current is None:
            key = 0
        elif current.terminal is not None and event.name in _TASK_LIFECYCLE:
            key = max(attempts) + 1  # a new attempt of a log that does not number them
        else:
            key = current.key
        current = attempts.get(key)
        if current is None:
            current = attempts[key] = Attempt(key)
        current.add(event)
        if node.name == "?":
            node.name = text(event.details.get("task_name"), "?")
    node.attempts = [attempts[key] for key in sorted(attempts)]
    for attempt in node.attempts:
        if attempt.start is None:
            attempt.start = attempt.events[0].time
    last = node.attempts[-1]
    node.state = last.state
    node.complete = last.terminal is not None
    # The worker's TASK_START knows when the task was first sent, for a log without the producer's events.
    node.start = min([attempt.start for attempt in node.attempts] + [sent for sent in first_sent if sent is not None])
    node.note = last.note if len(node.attempts) == 1 else "%d attempts" % len(node.attempts)


def summarize_flow(node) -> None:
    """Set a flow node's name, state, completeness, start, end (if finished) and note from its own events."""
    flow_decisive = dispatcher_decisive = None
    queued = False
    wakeups = 0
    failed_nodes = []
    fallbacks = []
    errors = []
    for event in node.events:
        details = event.details
        name = event.name
        own_task = ident(details.get("task_id")) == node.id
        if node.name == "?":
            if name == "SUBFLOW_SCHEDULE":
                node.name = text(details.get("child_flow_name"), "?")
            elif not own_task or "flow_name" in details:
                node.name = text(details.get("flow_name"), "?")
        if own_task:
            # The dispatcher's own Celery task: it retries to poll its flow, so
            # only a start or a failure of the dispatcher itself says anything.
            if name == "TASK_START" or (name in _TASK_TERMINALS and name != "TASK_RETRY"):
                dispatcher_decisive = event
            elif name in _TASK_QUEUED:
                queued = True
            continue
        if name in _FLOW_TERMINALS or name in _FLOW_RUNNING:
            flow_decisive = event
        elif name in _FLOW_QUEUED:
            queued = True
        if name == "DISPATCHER_WAKEUP":
            wakeups += 1
        elif name == "NODE_FAILURE":
            failed_nodes.append(text(details.get("node_name"), "?"))
        elif name == "FALLBACK_START":
            fallback = details.get("fallback")
            # ``fallback: true`` in the YAML ignores the failure and starts nothing.
            fallbacks.extend(["none"] if fallback is True else
                             [text(node, "?") for node in fallback] if type(fallback) is list else ["?"])
        elif name == "DISPATCHER_FAILURE":
            errors.append(_error_text(details) or "dispatcher error")
    terminal = None
    if flow_decisive is not None and flow_decisive.name in _FLOW_TERMINALS:
        terminal = flow_decisive
        node.state = _FLOW_TERMINALS[terminal.name]
    elif dispatcher_decisive is not None and dispatcher_decisive.name in _TASK_TERMINALS and (
            flow_decisive is None or dispatcher_decisive.name != "TASK_END"):
        # The dispatcher died (or, with no flow events logged, ended) before the flow said how it went.
        terminal = dispatcher_decisive
        node.state = _TASK_TERMINALS[terminal.name]
    elif flow_decisive is not None or dispatcher_decisive is not None:
        node.state = "RUNNING?"
    else:
        node.state = "PENDING?" if queued else "?"
    node.complete = terminal is not None
    node.end = terminal.time if terminal is not None else 0
    if node.events:
        node.start = node.events[0].time
    parts = []
    if wakeups:
        parts.append("%d wakeup%s" % (wakeups, "" if wakeups == 1 else "s"))
    if failed_nodes:
        parts.append("failed: " + ", ".join(dict.fromkeys(failed_nodes)))
    if fallbacks:
        parts.append("fallback: " + ", ".join(dict.fromkeys(fallbacks)))
    parts.extend(errors)
    node.note = "; ".join(parts)


def _error_text(details: dict) -> str:
    kind = text(details.get("exc_type"))
    message = text(details.get("exc_message"))
    what = details.get("what")
    if not kind and not message:
        if type(what) is dict:
            kind, message = text(what.get("type")), text(what.get("message"))
        else:
            message = text(what)
    if kind and message:
        return "%s: %s" % (kind, message)
    return kind or message


def _seconds(value: float) -> str:
    return ("%.3f" % value).rstrip("0").rstrip(".") if value != int(value) else "%d" % value
