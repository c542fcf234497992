"""The Celery task that runs one flow task: it calls the user's task class and keeps its result.

The class is a :class:`~flowtrace.FlowTask`, a ``selinon.SelinonTask``, or
any class :func:`~flowtrace.flow.task.check_task_class` accepts;
:mod:`flowtrace.flow._taskclass` constructs it.

One Celery task is registered per ``tasks`` entry, under the entry's name,
so the Celery integration's events name the flow task itself. Its message
carries the flow's identity in its keyword arguments (and, for the events,
in the ``flowtrace_flow`` header).

An attempt ends in one of three ways:

- the task returns: the result goes to its storage (``STORAGE_STORE``,
  ``STORAGE_STORED``), or ``TASK_DISCARD_RESULT`` when it has none;
- it fails and may retry: an exception while ``retried_count`` is below the
  task's ``max_retry`` (a storage that is down is such an exception, after
  ``STORAGE_ISSUE``), or :meth:`~flowtrace.FlowTask.retry` (or
  ``selinon.Retry``), which does not count; Celery's ``retry`` sends the
  next attempt;
- it fails for good: :exc:`~flowtrace.FatalTaskError` (or
  ``selinon.FatalTaskError``), or retries used up.
  The error goes to the storage when the adapter can keep it, and the
  exception to Celery, which marks the node FAILURE.
"""

from __future__ import annotations

import json
import os
from typing import Any

from celery import Task

from flowtrace._flowheader import FLOW_HEADER, flow_header
from flowtrace.errors import FatalTaskError, StorageError
from flowtrace.flow import _msg, _nudge, _runtime, _taskclass
from flowtrace.flow.task import check_task_class
from flowtrace.trace import Trace


class FlowTaskRunner(Task):
    """The base of the Celery tasks made by :func:`make_task`; ``flow_task`` is the configuration's entry."""

    # The flowtrace.flow.model.Task entry; make_task sets it on each subclass.
    flow_task: Any = None
    acks_late = True
    max_retries = None
    ignore_result = False
    typing = False

    def run(self, flow_name, node_args=None, parent=None, dispatcher_id=None, retried_count=0):
        _nudge.ensure_last()
        entry = self.flow_task
        pool = _runtime.pool_of(self.app)
        task_id = self.request.id
        call = {"flow_name": flow_name, "node_args": node_args, "parent": parent, "dispatcher_id": dispatcher_id,
                "retried_count": retried_count}
        try:
            cls = entry.load_class()
            problems = check_task_class(cls)
            if problems:
                raise FatalTaskError("%s.%s cannot run as a flow task: it %s"
                                     % (entry.import_path, entry.class_name, "; it ".join(problems)))
            instance = _taskclass.construct(cls, flow_name, entry.name, parent, task_id, dispatcher_id, pool, self.app)
            result = instance.run(node_args)
            if entry.output_schema:
                _validate(entry, result)
            if entry.storage is not None and not entry.storage_readonly:
                pool.store(node_args, flow_name, entry.name, task_id, result)
            elif result is not None:
                Trace.log(Trace.TASK_DISCARD_RESULT, _msg.task(entry.name, task_id, flow_name, dispatcher_id, parent,
                                                               node_args, entry.queue, retried_count), result=result)
        except Exception as exc:
            countdown = _taskclass.retry_countdown(exc)
            if countdown is not None:
                raise self._again(call, countdown, retried_count, exc)
            if not _taskclass.is_fatal(exc) and retried_count < entry.max_retry:
                raise self._again(call, entry.retry_countdown, retried_count + 1, exc)
            if entry.storage is not None and not entry.storage_readonly and not isinstance(exc, StorageError):
                try:
                    pool.store_error(node_args, flow_name, entry.name, task_id, exc)
                except StorageError:
                    pass  # STORAGE_ISSUE is out; the failure itself is what matters now
            raise
        return None

    @property
    def backend(self):
        """The app's result backend, minus the RETRY state (see :class:`~flowtrace.flow._runtime.RetrylessBackend`)."""
        return _runtime.RetrylessBackend(self.app)

    def _again(self, call, countdown, retried_count, exc):
        """Celery's retry with the next ``retried_count``; the flow header follows it."""
        kwargs = dict(call, retried_count=retried_count)
        headers = dict(self.request.headers or {})
        headers[FLOW_HEADER] = flow_header(call["flow_name"], call["dispatcher_id"], call["parent"],
                                           call["node_args"], retried_count)
        return self.retry(kwargs=kwargs, countdown=countdown, exc=exc, max_retries=None, headers=headers,
                          queue=self.flow_task.queue)

    @staticmethod
    def flowtrace_nudge_target(task):
        """The dispatcher to wake when an attempt ends: the flow's."""
        return (task.request.kwargs or {}).get("dispatcher_id")


#: path -> (modification time, validator): a schema is read once per change of its file.
_validators: dict[str, tuple[int, Any]] = {}


def _validator(path):
    import jsonschema

    try:
        mtime = os.stat(path).st_mtime_ns
        cached = _validators.get(path)
        if cached is not None and cached[0] == mtime:
            return cached[1]
        with open(path, encoding="utf-8") as stream:
            schema = json.load(stream)
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
    except OSError as exc:
        raise FatalTaskError("output_schema %s cannot be read: %s" % (path, exc.strerror or exc)) from None
    except ValueError as exc:  # json.JSONDecodeError
        raise FatalTaskError("output_schema %s is not JSON: %s" % (path, exc)) from None
    except jsonschema.SchemaError as exc:
        raise FatalTaskError("output_schema %s is not a valid JSON schema: %s" % (path, exc.message)) from None
    validator = cls(schema)
    _validators[path] = (mtime, validator)
    return validator


def _validate(entry, result) -> None:
    """Check ``result`` against the task's ``output_schema``; a mismatch fails the task without retries.

    The error names where the result is wrong and which schema keyword it
    breaks, never the value found there, as results may hold secrets.
    """
    try:
        import jsonschema  # noqa: F401
    except ImportError:
        raise FatalTaskError("task %r has an output_schema, and checking it needs jsonschema: "
                             "pip install 'flowtrace[schema]'" % entry.name) from None
    validator = _validator(entry.output_schema)
    errors = sorted(validator.iter_errors(result), key=lambda error: [str(part) for part in error.absolute_path])
    if errors:
        first = errors[0]
        where = "/".join(str(part) for part in first.absolute_path) or "the result itself"
        raise FatalTaskError("task %r: its result does not match %s (%d problem%s); first at %s: %r must be %s"
                             % (entry.name, entry.output_schema, len(errors), "" if len(errors) == 1 else "s",
                                where, first.validator, json.dumps(first.validator_value, default=str)[:200]))


def make_task(app, entry):
    """Register the Celery task of the flow task ``entry`` on ``app`` and return it."""
    cls = type("FlowTask_" + entry.name, (FlowTaskRunner,), {
        "name": entry.name, "flow_task": entry, "__module__": __name__,
    })
    return app.register_task(cls())
