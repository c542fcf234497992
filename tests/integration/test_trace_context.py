"""One trace from the producer's span, through the broker, to every task: real workers, real spans.

A producer process (tests/integration/trace_producer.py) opens a span and
sends tasks; a real ``celery worker`` runs them. Both export their spans with
OpenTelemetry's OTLP/HTTP exporter to a receiver this test runs on
127.0.0.1, which decodes them with opentelemetry-proto. Every test runs on the
embedded broker and on every broker in FLOWTRACE_TEST_BROKERS.
"""

import collections
import json
import subprocess
import sys

import pytest

from tests.integration.harness import ROOT, Run, hook_failures
from tests.integration.otlp_receiver import OtlpReceiver
from tests.integration.trace_app import make_trace_app

pytestmark = pytest.mark.integration


@pytest.fixture
def otlp():
    with OtlpReceiver() as receiver:
        yield receiver
    assert [] == receiver.errors


@pytest.fixture
def trace_run(broker, runs_dir):
    """A factory of runs of the trace app; their workers are stopped at teardown."""
    made = []

    def make(label):
        run = Run(broker, runs_dir, label, app_module="tests.integration.trace_app", app_factory=make_trace_app)
        made.append(run)
        return run

    yield make
    for run in made:
        run.close()


def start_worker(run, otlp, **env):
    return run.worker(FLOWTRACE_IT_OTLP=otlp.endpoint, FLOWTRACE_IT_SERVICE="worker", **env)


def produce(run, otlp, scenario, **env):
    """Run the producer process for ``scenario``; returns what it printed."""
    proc = subprocess.run([sys.executable, "-m", "tests.integration.trace_producer", scenario], cwd=ROOT,
                          env=run.env(FLOWTRACE_IT_OTLP=otlp.endpoint, FLOWTRACE_IT_PRODUCER="1", **env),
                          capture_output=True, text=True,
                          timeout=120)
    assert 0 == proc.returncode, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def attempts(spans, task_name):
    """The attempt spans of a task, by retries."""
    found = [s for s in spans if s.attributes.get("flowtrace.task_name") == task_name]
    return sorted(found, key=lambda s: (s.attributes.get("flowtrace.retries"), s.start))


def named(spans, name):
    found = [s for s in spans if s.name == name]
    assert 1 == len(found), "expected one span %r, got %r" % (name, found)
    return found[0]


def label(span):
    """A readable name for a span in assertion messages: its name, and the attempt for a task."""
    retries = span.attributes.get("flowtrace.retries")
    return span.name if retries is None else "%s#%s" % (span.name, retries)


def check_one_trace(spans, root):
    """One trace id, exactly one root (``root``), every parent span present."""
    ids = {s.span_id for s in spans}
    assert ({root.trace_id}, [label(root)], []) == (
        {s.trace_id for s in spans}, [label(s) for s in spans if s.parent_span_id is None],
        [label(s) for s in spans if s.parent_span_id is not None and s.parent_span_id not in ids])


def parents(spans):
    """label -> the label of its parent span."""
    by_id = {s.span_id: s for s in spans}
    return {label(s): label(by_id[s.parent_span_id]) if s.parent_span_id in by_id else None for s in spans}


class TestCanvas:
    """chain, chord (its callback included), a retry and a task started from a task: one trace."""

    def test_one_trace_with_the_expected_parents(self, trace_run, otlp):
        """Every span is in the producer's trace, under the span that caused it; retries are siblings."""
        run = trace_run("canvas")
        start_worker(run, otlp)
        sent = produce(run, otlp, "canvas")

        def complete(spans):
            return (len(attempts(spans, "tr.collect")) == 1 and len(attempts(spans, "tr.flaky")) == 2
                    and len(attempts(spans, "tr.spawned")) == 1 and any(s.name == "checkout" for s in spans)
                    and any(s.name == "header.work" for s in spans))

        spans = otlp.wait(complete)
        root = named(spans, "checkout")
        assert (sent["trace_id"], sent["span_id"]) == (root.trace_id, root.span_id)
        check_one_trace(spans, root)
        assert {"producer", "worker"} == {s.service for s in spans}
        assert [("producer", "checkout")] == [(s.service, s.name) for s in spans if s.service == "producer"]

        unlocks = attempts(spans, "celery.chord_unlock")
        expected = {
            "checkout": None,
            "tr.first#0": "checkout",
            "tr.header#0": "tr.first#0",
            "header.work": "tr.header#0",
            # The retry is a sibling of the first attempt, under the same parent.
            "tr.flaky#0": "tr.first#0",
            "tr.flaky#1": "tr.first#0",
            "tr.spawn#0": "checkout",
            "spawn.work": "tr.spawn#0",
            "tr.spawned#0": "spawn.work",
        }
        # On a backend without native chords, celery.chord_unlock polls the
        # header (sent with it, by tr.first) and sends the callback when it is done.
        for unlock in unlocks:
            expected[label(unlock)] = "tr.first#0"
        expected["tr.collect#0"] = label(unlocks[-1]) if unlocks else parents(spans)["tr.collect#0"]
        assert expected == parents(spans)
        assert (1, [0, 1]) == (len(set(s.span_id for s in attempts(spans, "tr.flaky"))) // 2,
                               [s.attributes["flowtrace.retries"] for s in attempts(spans, "tr.flaky")])
        flaky = attempts(spans, "tr.flaky")[0]
        assert ("RETRY", ("TASK_PUBLISH", "TASK_RETRY")) == (flaky.attributes["flowtrace.state"], flaky.events)
        assert [] == hook_failures(run)

    def test_events_carry_the_span_ids(self, trace_run, otlp):
        """Every event the worker wrote is in the trace, with the span id of the attempt it is about."""
        run = trace_run("events")
        start_worker(run, otlp)
        sent = produce(run, otlp, "canvas")
        spans = otlp.wait(lambda spans: len(attempts(spans, "tr.collect")) == 1)
        by_attempt = {(s.attributes["messaging.message.id"], s.attributes["flowtrace.retries"]): s.span_id
                      for s in spans if "flowtrace.task_name" in s.attributes}
        records = [r for r in run.events.refresh() if r["details"].get("task_id")]
        assert {sent["trace_id"]} == {r["trace_id"] for r in records}
        wrong = [(r["event"], r["details"]["task_name"]) for r in records
                 if r["event"] in ("TASK_RECEIVED", "TASK_START", "TASK_END", "TASK_RETRY")
                 and r["span_id"] != by_attempt.get((r["details"]["task_id"], r["details"]["retries"]))]
        assert [] == wrong

    def test_headers_written_once_at_both_levels(self, trace_run, otlp):
        """Each message sent has one traceparent, the same at the top level and in the nested headers."""
        run = trace_run("headers")
        start_worker(run, otlp)
        sent = produce(run, otlp, "canvas")
        # The SDK sets Level 2's random-trace-id flag beside sampled: 03.
        expected = "00-%s-%s-03" % (sent["trace_id"], sent["span_id"])
        assert [(expected, expected)] * 2 == [(h["traceparent"], h["headers"]["traceparent"])
                                              for h in sent["headers"]]


class TestNewTraces:
    """Messages without context, and per-call control."""

    def test_no_context_starts_a_trace(self, trace_run, otlp):
        """A task sent with no span, or by a process without flowtrace (as beat), is the root of its own trace."""
        run = trace_run("bare")
        start_worker(run, otlp)
        produce(run, otlp, "bare")
        spans = otlp.wait(lambda spans: len(attempts(spans, "tr.first")) == 2)
        first = attempts(spans, "tr.first")
        assert ([None, None], 2, {"worker"}) == ([s.parent_span_id for s in first], len({s.trace_id for s in first}),
                                                  {s.service for s in spans})
        # TASK_RECEIVED in the main process already names the trace the attempt starts.
        received = {r["details"]["task_id"]: (r["trace_id"], r["span_id"]) for r in run.events.refresh()
                    if r["event"] == "TASK_RECEIVED"}
        assert received == {s.attributes["messaging.message.id"]: (s.trace_id, s.span_id) for s in first}

    def test_new_and_link(self, trace_run, otlp):
        """flowtrace_trace: new starts an unrelated trace; new_trace(link=True) one that links to the sender."""
        run = trace_run("modes")
        start_worker(run, otlp)
        sent = produce(run, otlp, "modes")
        spans = otlp.wait(lambda spans: len(attempts(spans, "tr.first")) == 3 and any(
            s.name == "checkout" for s in spans))
        root = named(spans, "checkout")
        by_value = {s.attributes["flowtrace.args"]: s for s in attempts(spans, "tr.first")}
        new, linked, child = by_value["[10]"], by_value["[11]"], by_value["[12]"]
        assert ((None, ()), (None, ((root.trace_id, root.span_id),)), (root.trace_id, root.span_id)) == (
            (new.parent_span_id, new.links), (linked.parent_span_id, linked.links),
            (child.trace_id, child.parent_span_id))
        assert (3, True) == (len({new.trace_id, linked.trace_id, root.trace_id}), sent["trace_id"] == root.trace_id)


class TestFlow:
    """A flow run by the dispatcher, with a subflow: one trace from the producer's span to every node."""

    def test_one_trace_through_the_dispatcher(self, trace_run, otlp):
        """Dispatcher attempts and flow spans sit under the span that started them; each node under the
        dispatcher attempt that scheduled it."""
        run = trace_run("flow")
        start_worker(run, otlp, FLOWTRACE_IT_FLOWS="1")
        sent = produce(run, otlp, "flow", FLOWTRACE_IT_FLOWS="1")

        def complete(spans):
            names = [s.name for s in spans]
            return all(name in names for name in ("checkout", "flow outer", "flow inner", "Summary"))

        spans = otlp.wait(complete)
        root = named(spans, "checkout")
        assert (sent["trace_id"], sent["span_id"]) == (root.trace_id, root.span_id)
        check_one_trace(spans, root)
        assert {"producer", "worker"} == {s.service for s in spans}
        records = run.events.refresh()
        dispatchers = {r["details"]["dispatcher_id"]: r["details"]["flow_name"] for r in records
                       if r["event"] == "FLOW_START"}
        by_flow = {name: dispatcher_id for dispatcher_id, name in dispatchers.items()}
        # The span of each dispatcher attempt, and which attempt scheduled each node and the subflow.
        by_id = {s.span_id: s for s in spans}
        attempt_of = {(s.attributes["messaging.message.id"], s.attributes["flowtrace.retries"]): s for s in spans
                      if "flowtrace.task_name" in s.attributes}
        scheduled_by = {}
        for r in records:
            if r["event"] == "TASK_SCHEDULE":
                scheduled_by[r["details"]["task_name"]] = r["span_id"]
            elif r["event"] == "SUBFLOW_SCHEDULE":
                scheduled_by["dispatcher " + r["details"]["child_flow_name"]] = r["span_id"]

        def parent(span):
            return by_id[span.parent_span_id] if span.parent_span_id in by_id else None

        outer_attempts = [s for (task_id, _), s in attempt_of.items() if task_id == by_flow["outer"]]
        inner_attempts = [s for (task_id, _), s in attempt_of.items() if task_id == by_flow["inner"]]
        assert ({"outer", "inner"}, True, True) == (set(by_flow), len(outer_attempts) >= 2, len(inner_attempts) >= 2)
        # Every attempt of a dispatcher is a sibling under the span that sent it first (no nesting per wake-up).
        assert ({root.span_id}, {scheduled_by["dispatcher inner"]}) == (
            {s.parent_span_id for s in outer_attempts}, {s.parent_span_id for s in inner_attempts})
        assert (root.span_id, scheduled_by["dispatcher inner"]) == (
            named(spans, "flow outer").parent_span_id, named(spans, "flow inner").parent_span_id)
        assert ("flowtrace.dispatcher", "flowtrace.dispatcher") == (
            parent(named(spans, "flow inner")).attributes["flowtrace.task_name"],
            outer_attempts[0].attributes["flowtrace.task_name"])
        nodes = {name: named(spans, name) for name in ("A", "B", "Tail", "Summary")}
        assert {name: scheduled_by[name] for name in nodes} == {name: s.parent_span_id for name, s in nodes.items()}
        assert ({"A": "outer", "Summary": "outer", "B": "inner", "Tail": "inner"}, True, True) == (
            {name: dispatchers[parent(s).attributes["messaging.message.id"]] for name, s in nodes.items()},
            named(spans, "flow outer").start <= nodes["A"].start,
            named(spans, "flow outer").end >= nodes["Summary"].end)
        assert [] == hook_failures(run)


class TestRecycledChildren:
    """worker_max_tasks_per_child: a child exits after its task, and its spans still arrive."""

    def test_every_span_arrives(self, trace_run, otlp):
        """With one task per child and the batch processor's 5 s delay, all attempts' spans are exported."""
        run = trace_run("recycle")
        start_worker(run, otlp, FLOWTRACE_IT_MAX_TASKS="1")
        produce(run, otlp, "many", FLOWTRACE_IT_COUNT="4")
        spans = otlp.wait(lambda spans: len(attempts(spans, "tr.first")) == 4, timeout=60)
        root = named(spans, "checkout")
        check_one_trace(spans, root)
        pids = {r["pid"] for r in run.events.refresh() if r["event"] == "TASK_START"}
        assert (4, 4) == (len(attempts(spans, "tr.first")), len(pids))


class TestCeleryInstrumentor:
    """OpenTelemetry's CeleryInstrumentor in the producer and the worker, beside flowtrace: still one trace."""

    def test_one_trace_no_conflicting_parents(self, trace_run, otlp):
        """Its spans and flowtrace's form one tree: publish span, run span, then flowtrace's attempt span."""
        run = trace_run("instrumentor")
        start_worker(run, otlp, FLOWTRACE_IT_INSTRUMENTOR="1")
        sent = produce(run, otlp, "canvas", FLOWTRACE_IT_INSTRUMENTOR="1")
        spans = otlp.wait(lambda spans: len(attempts(spans, "tr.collect")) == 1 and len(
            attempts(spans, "tr.spawned")) == 1 and any(s.name == "checkout" for s in spans))
        root = named(spans, "checkout")
        check_one_trace(spans, root)
        tree = parents(spans)
        # The producer's publish span is the parent the message names; the
        # worker's run span its child, and flowtrace's attempt the run span's child.
        assert ("checkout", "apply_async/tr.first", "run/tr.first") == (
            tree["apply_async/tr.first"], tree["run/tr.first"], tree["tr.first#0"])
        assert ("run/tr.spawned", "spawn.work") == (tree["tr.spawned#0"],
                                                    tree["apply_async/tr.spawned"])
        # No duplicated headers: one traceparent per message, the same at both levels.
        headers = sent["headers"]
        assert [True] * len(headers) == [h["traceparent"] == h["headers"]["traceparent"] for h in headers]
        assert collections.Counter() == collections.Counter(
            key for h in headers for key in h if key.lower() in ("traceparent", "tracestate") and key != key.lower())
