"""The two worker methods flowtrace wraps, because Celery has no signal for what they see.

Two things happen in the main process without a signal: a message body that
cannot be decoded (the consumer logs it and acknowledges it), and a task
message put back on the queue after its pool child died. Both methods are
looked up on the object at each call (the consumer's task handler calls
self.on_decode_error; the pool's error callback is the request's bound
on_failure), so wrapping them on the class reaches a worker that is already
running. Celery's method always runs first, and unpatching restores it
unless someone wrapped it after us.

``Request.on_failure`` runs with the task's correlation fields bound: it is
where the main process reports a lost pool child, through ``task_failure``
receivers and its own "Task handler raised error: WorkerLostError" line, and
no attempt is bound in that process (django-structlog #1043).
"""

from __future__ import annotations

from flowtrace import context
from flowtrace.celery import _main, _registry

#: name -> Celery's function, while wrapped.
_ORIGINALS: dict = {}


def _decode_error_hook(self, message, exc):
    try:
        return _ORIGINALS["on_decode_error"](self, message, exc)
    finally:
        _main.on_decode_error(self, message, exc)


def _on_failure_hook(self, exc_info, send_failed_event=True, return_ok=False):
    token = None
    try:
        fields = _main.request_fields(self)
        if fields is not None:
            token = context._enter_task(fields)
    except Exception as exc:  # tracing must never lose the failure
        _registry.failures.record("Request.on_failure", exc)
    try:
        return _ORIGINALS["on_failure"](self, exc_info, send_failed_event, return_ok)
    finally:
        try:
            _main.after_request_failure(self, exc_info, return_ok)
        finally:
            if token is not None:
                context._exit_task(token)


def _targets():
    from celery.worker.consumer.consumer import Consumer
    from celery.worker.request import Request

    return ((Consumer, "on_decode_error", _decode_error_hook), (Request, "on_failure", _on_failure_hook))


def patch_worker() -> None:
    """Wrap the two methods (callers hold the registry lock)."""
    for cls, name, hook in _targets():
        if cls.__dict__.get(name) is hook:
            continue
        _ORIGINALS[name] = cls.__dict__[name]
        setattr(cls, name, hook)


def unpatch_worker() -> None:
    """Restore the methods we wrapped."""
    for cls, name, hook in _targets():
        original = _ORIGINALS.pop(name, None)
        if original is not None and cls.__dict__.get(name) is hook:
            setattr(cls, name, original)
