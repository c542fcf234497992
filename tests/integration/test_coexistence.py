"""flowtrace, sentry-sdk's CeleryIntegration and OpenTelemetry's CeleryInstrumentor in one worker.

Four workers run the same tasks: one with each tool alone, one with all three.
What each tool records in the shared worker must equal what it records alone.
"""

import collections
import json
import os
import time

import pytest

from tests.integration.harness import hook_failures
from tests.sinks.sentry_compat import by_major

pytestmark = pytest.mark.integration

TASKS = ("it.ok", "it.fail", "it.expected", "it.retry_once", "it.ignore", "it.reject")


def read_lines(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f]


def send_tasks(run):
    """Send one of each task; returns task id -> task name."""
    return {run.app.send_task(name).id: name for name in TASKS}


def wait_flowtrace(run, sent):
    for task_id, name in sent.items():
        run.events.wait_terminal(task_id, count=2 if name == "it.retry_once" else 1, settle=0)


def wait_lines(path, count, timeout=30.0):
    """Wait until ``path`` has ``count`` lines (what a tool records for the tasks sent), then a little more."""
    deadline = time.monotonic() + timeout
    while len(read_lines(path)) < count:
        assert time.monotonic() < deadline, "%s has %d of %d lines" % (path, len(read_lines(path)), count)
        time.sleep(0.05)
    time.sleep(0.5)


def sentry_view(path, sent):
    """Per task name: the sorted items sentry-sdk sent.

    An error event is ``("event", exception types, level)``. sentry-sdk 2.x
    sends a transaction per attempt: ``("transaction", name, status)``. 3.x
    streams spans instead: ``("segment" or "span", name, op, status)``; a
    segment per attempt, its queue.process child, and the queue.publish spans
    of a retry. Spans carry no task id tag: a trace belongs to the task whose
    id one of its spans has as ``messaging.message.id``.
    """
    records = read_lines(path)
    task_of_trace = {}
    for record in records:
        if record["item"] == "span":
            message_id = record["payload"].get("attributes", {}).get("messaging.message.id", {}).get("value")
            if message_id is not None:
                task_of_trace[record["payload"]["trace_id"]] = sent[message_id]
    view = collections.defaultdict(list)
    traces = collections.defaultdict(set)
    for record in records:
        payload = record["payload"]
        if record["item"] == "event":
            types = tuple(value["type"] for value in payload["exception"]["values"])
            view[sent[payload["tags"]["celery_task_id"]]].append(("event", types, payload["level"]))
        elif record["item"] == "transaction":
            name = sent[payload["tags"]["celery_task_id"]]
            view[name].append(("transaction", payload["transaction"], payload["contexts"]["trace"]["status"]))
            traces[name].add(payload["contexts"]["trace"]["trace_id"])
        else:
            assert "span" == record["item"], record
            name = task_of_trace[payload["trace_id"]]
            kind = "segment" if payload["is_segment"] else "span"
            view[name].append((kind, payload["name"], payload["attributes"]["sentry.op"]["value"], payload["status"]))
            if payload["is_segment"]:
                traces[name].add(payload["trace_id"])
    result = {name: sorted(items) for name, items in view.items()}
    # The retry is published from inside the first attempt: sentry-sdk carries its trace over.
    result["retry traces"] = len(traces["it.retry_once"])
    return result


def otel_view(path, sent):
    """Per task name: the sorted spans (name, kind, status, celery.state, events) OpenTelemetry exported."""
    view = collections.defaultdict(list)
    spans = read_lines(path)
    for span in spans:
        attributes = span["attributes"]
        name = sent[attributes["messaging.message.id"]]
        view[name].append((span["name"], span["kind"], span["status"], attributes.get("celery.state"),
                           tuple(span["events"])))
    result = {name: sorted(items, key=repr) for name, items in view.items()}
    # The second attempt's run span is the child of the retry's apply_async span (traceparent in the headers).
    publish = [s for s in spans if s["name"] == "apply_async/it.retry_once"]
    second = [s for s in spans if s["name"] == "run/it.retry_once" and s["attributes"].get("celery.retries") == 1]
    result["retry linked"] = [(s["parent"], s["trace_id"]) for s in second] == [
        (s["span_id"], s["trace_id"]) for s in publish]
    return result


def flowtrace_view(run, sent):
    """Per task name: the event sequence and how the last attempt ended."""
    view = {}
    for task_id, name in sent.items():
        records = [r for r in run.events.for_task(task_id) if r["event"] != "TASK_PUBLISH"]
        terminal = records[-1]["details"]
        view[name] = (run.events.names(task_id),
                      {key: terminal.get(key) for key in ("state", "exc_type", "expected", "reason")})
    return view


def _attempt(name, status):
    """What sentry-sdk 3.x streams for one attempt: the task's segment span and its queue.process child."""
    return [("segment", name, "queue.process", status), ("span", name, "queue.process", status)]


# 3.x knows only the span statuses "ok" and "error": Retry, Ignore and Reject
# are control flow to it (2.x: "aborted"), and an error is "error" (2.x:
# "internal_error"), also for an exception the task declares in throws.
SENTRY_ALONE = by_major(
    v2={
        "it.ok": [("transaction", "it.ok", "ok")],
        "it.fail": [("event", ("ValueError",), "error"), ("transaction", "it.fail", "internal_error")],
        "it.expected": [("transaction", "it.expected", "internal_error")],
        "it.retry_once": [("transaction", "it.retry_once", "aborted"), ("transaction", "it.retry_once", "ok")],
        "it.ignore": [("transaction", "it.ignore", "aborted")],
        "it.reject": [("transaction", "it.reject", "aborted")],
        "retry traces": 1,
    },
    v3={
        "it.ok": _attempt("it.ok", "ok"),
        "it.fail": [("event", ("ValueError",), "error")] + _attempt("it.fail", "error"),
        "it.expected": _attempt("it.expected", "error"),
        # The retry is published from inside the first attempt: Task.apply_async,
        # Celery.send_task and kombu's Producer.publish each make a queue.publish span.
        "it.retry_once": sorted(_attempt("it.retry_once", "ok") * 2
                                + [("span", "it.retry_once", "queue.publish", "ok")] * 3),
        "it.ignore": _attempt("it.ignore", "ok"),
        "it.reject": _attempt("it.reject", "ok"),
        "retry traces": 1,
    },
)

OTEL_ALONE = {
    "it.ok": [("run/it.ok", "CONSUMER", "UNSET", "SUCCESS", ())],
    "it.fail": [("run/it.fail", "CONSUMER", "ERROR", "FAILURE", ("exception",))],
    "it.expected": [("run/it.expected", "CONSUMER", "ERROR", "FAILURE", ("exception",))],
    "it.retry_once": [("apply_async/it.retry_once", "PRODUCER", "UNSET", None, ()),
                      ("run/it.retry_once", "CONSUMER", "UNSET", "RETRY", ()),
                      ("run/it.retry_once", "CONSUMER", "UNSET", "SUCCESS", ())],
    "it.ignore": [("run/it.ignore", "CONSUMER", "UNSET", "IGNORED", ())],
    "it.reject": [("run/it.reject", "CONSUMER", "UNSET", "REJECTED", ())],
    "retry linked": True,
}


class TestCoexistence:
    """All three instrumentations at once, each compared with itself alone."""

    def test_each_sees_what_it_sees_alone(self, new_run, producing):
        """sentry-sdk, OpenTelemetry and flowtrace record the same in one worker as each does alone."""
        runs = {label: new_run(label) for label in ("sentry", "otel", "flowtrace", "all")}
        files = {label: {"sentry": os.path.join(run.dir, "sentry.jsonl"), "otel": os.path.join(run.dir, "otel.jsonl")}
                 for label, run in runs.items()}
        options = {
            "sentry": dict(FLOWTRACE_IT_INSTRUMENT="none", FLOWTRACE_IT_EVENTS="",
                           FLOWTRACE_IT_SENTRY=files["sentry"]["sentry"]),
            "otel": dict(FLOWTRACE_IT_INSTRUMENT="none", FLOWTRACE_IT_EVENTS="",
                         FLOWTRACE_IT_OTEL=files["otel"]["otel"]),
            "flowtrace": dict(FLOWTRACE_IT_INSTRUMENT="import"),
            "all": dict(FLOWTRACE_IT_INSTRUMENT="import", FLOWTRACE_IT_SENTRY=files["all"]["sentry"],
                        FLOWTRACE_IT_OTEL=files["all"]["otel"]),
        }
        workers = [runs[label].worker(start=False, **options[label]) for label in runs]
        for worker in workers:
            worker.launch()
        for worker in workers:
            worker.wait_ready()
        # Only the flowtrace runs have flowtrace in the producer too.
        producing(runs["flowtrace"])
        producing(runs["all"])
        sent = {label: send_tasks(run) for label, run in runs.items()}
        sentry_items = sum(len(v) for v in SENTRY_ALONE.values() if isinstance(v, list))
        otel_spans = sum(len(v) for v in OTEL_ALONE.values() if isinstance(v, list))
        wait_flowtrace(runs["flowtrace"], sent["flowtrace"])
        wait_flowtrace(runs["all"], sent["all"])
        for label in ("sentry", "all"):
            wait_lines(files[label]["sentry"], sentry_items)
        for label in ("otel", "all"):
            wait_lines(files[label]["otel"], otel_spans)

        sentry_alone = sentry_view(files["sentry"]["sentry"], sent["sentry"])
        otel_alone = otel_view(files["otel"]["otel"], sent["otel"])
        flowtrace_alone = flowtrace_view(runs["flowtrace"], sent["flowtrace"])
        assert SENTRY_ALONE == sentry_alone
        assert OTEL_ALONE == otel_alone
        assert sentry_alone == sentry_view(files["all"]["sentry"], sent["all"])
        assert otel_alone == otel_view(files["all"]["otel"], sent["all"])
        assert flowtrace_alone == flowtrace_view(runs["all"], sent["all"])
        assert [] == hook_failures(runs["all"])
