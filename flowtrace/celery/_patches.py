"""The two worker methods flowtrace wraps, because Celery has no signal for what they see.

Two things happen in the main process without a signal: a message body that
cannot be decoded (the consumer logs it and acknowledges it), and a task
message put back on the queue after its pool child died. Both methods are
looked up on the object at each call (the consumer's task handler calls
self.on_decode_error; the pool's error callback is the request's bound
on_failure), so wrapping them on the class reaches a worker that is already
running. Celery's method always runs first, and unpatching restores it
unless someone wrapped it after us.

``Request.on_failure`` runs with the task's correlation fields and the
attempt's ``trace_id`` / ``span_id`` bound: it is
where the main process reports a lost pool child, through ``task_failure``
receivers and its own "Task handler raised error: WorkerLostError" line, and
no attempt is bound in that process (django-structlog #1043).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, cast

from flowtrace import context
from flowtrace.celery import _main, _registry


class _Hook(Protocol):
    """A wrapper flowtrace puts on a Celery method, with the method it wraps."""

    flowtrace_original: Callable[..., Any]

    def __call__(self, *args: Any, **kwargs: Any) -> Any: ...


#: name -> our hook, for as long as it sits on the class. A hook another
#: library wrapped after us cannot be taken off; it stays, inert while no app
#: is instrumented, and is switched back on rather than wrapped twice.
_INSTALLED: dict[str, _Hook] = {}


def _make_decode_error_hook(original: Callable[..., Any]) -> _Hook:
    def on_decode_error(self: Any, message: Any, exc: BaseException) -> Any:
        try:
            return original(self, message, exc)
        finally:
            if _registry.apps:
                _main.on_decode_error(self, message, exc)

    hook = cast(_Hook, on_decode_error)
    hook.flowtrace_original = original
    return hook


def _make_on_failure_hook(original: Callable[..., Any]) -> _Hook:
    def on_failure(self: Any, exc_info: Any, *args: Any, **kwargs: Any) -> Any:
        if not _registry.apps:
            return original(self, exc_info, *args, **kwargs)
        token = ids_token = None
        try:
            fields = _main.request_fields(self)
            if fields is not None:
                token = context.enter_task(fields)
                ids = _main.request_ids(self)
                if ids is not None:
                    ids_token = context.set_ids(*ids)
        except Exception as exc:  # tracing must never lose the failure
            _registry.failures.record("Request.on_failure", exc)
        try:
            return original(self, exc_info, *args, **kwargs)
        finally:
            try:
                # Request.on_failure(exc_info, send_failed_event=True, return_ok=False)
                return_ok = kwargs.get("return_ok", args[1] if len(args) > 1 else False)
                _main.after_request_failure(self, exc_info, return_ok)
            finally:
                if ids_token is not None:
                    context.reset_ids(ids_token)
                if token is not None:
                    context.exit_task(token)

    hook = cast(_Hook, on_failure)
    hook.flowtrace_original = original
    return hook


def _targets() -> tuple[tuple[Any, str, Callable[[Callable[..., Any]], _Hook]], ...]:
    from celery.worker.consumer.consumer import Consumer
    from celery.worker.request import Request

    return ((Consumer, "on_decode_error", _make_decode_error_hook), (Request, "on_failure", _make_on_failure_hook))


def patch_worker() -> None:
    """Wrap the two methods (callers hold the registry lock)."""
    for cls, name, make in _targets():
        if name in _INSTALLED:
            continue  # ours is still in place, possibly under another library's wrapper
        hook = make(cls.__dict__[name])
        _INSTALLED[name] = hook
        setattr(cls, name, hook)


def unpatch_worker() -> None:
    """Restore the methods we wrapped, where nobody wrapped them after us."""
    for cls, name, _ in _targets():
        hook = _INSTALLED.get(name)
        if hook is not None and cls.__dict__.get(name) is hook:
            setattr(cls, name, hook.flowtrace_original)
            del _INSTALLED[name]
