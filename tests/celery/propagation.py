"""What the Celery integration's tests share: trace ids, a task run through a worker child's tracer, what to look at."""

import uuid

from celery.app.trace import build_tracer

from flowtrace import Trace

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"
TRACEPARENT = "00-%s-%s-01" % (TRACE, SPAN)
OTHER_TRACE = "0af7651916cd43dd8448eb211c80319c"
OTHER_SPAN = "b7ad6b7169203331"


def worker_call(app, name, args=(), kwargs=None, **request):
    """Run a task through the tracer a worker child builds, in this thread; returns its id."""
    task = app.tasks[name]
    task_id = request.pop("id", None) or str(uuid.uuid4())
    tracer = build_tracer(name, task, app=app, hostname="unit@host")
    request = dict({"id": task_id, "task": name, "root_id": task_id, "parent_id": None, "retries": 0,
                    "hostname": "unit@host", "is_eager": False,
                    "delivery_info": {"exchange": "", "routing_key": "unit"}}, **request)
    tracer(task_id, list(args), kwargs or {}, request)
    return task_id

def trace_headers(headers):
    """The trace headers at the top level and in the nested dict."""
    nested = headers.get("headers") or {}
    return ({key: headers[key] for key in ("traceparent", "tracestate", "baggage", "flowtrace_link") if key in headers},
            {key: nested[key] for key in ("traceparent", "tracestate", "baggage", "flowtrace_link") if key in nested})

def starts(captured):
    """The (trace_id, span_id, parent_span_id) of each TASK_START captured."""
    return [(m["trace_id"], m["span_id"], m["parent_span_id"]) for e, m in captured if e == Trace.TASK_START]
