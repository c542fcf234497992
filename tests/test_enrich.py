"""Tests for flowtrace._enrich: the time and trace ids made once per event for the sinks that ask for them."""

import os

import pytest

from flowtrace import Trace
from flowtrace.context import reset_ids, set_ids

TRACE, SPAN = "a" * 32, "b" * 16


class Enriched:
    """A sink that asks for an enrichment and keeps what it is called with."""

    def __init__(self, *parts):
        self.wants_enrichment = parts
        self.calls = []

    def __call__(self, event, msg, enrichment=None):
        self.calls.append((event, msg, enrichment))


class TestStamps:
    def test_one_stamp_per_event_for_every_sink_that_asks(self):
        """Two sinks asking for an enrichment get the same one; a sink that does not is called with two arguments."""
        first, second, plain = Enriched("time", "ids"), Enriched("ids"), []
        Trace.add_sink(first)
        Trace.add_sink(lambda event, msg: plain.append((event, msg)))
        Trace.add_sink(second)
        Trace.log(Trace.TASK_START, n=1)
        (_, _, enrichment), = first.calls
        assert (True, [(Trace.TASK_START, {"n": 1})], (None, None)) == (
            enrichment is second.calls[0][2], plain, enrichment[1])

    def test_the_parts_asked_for(self):
        """The time is there only when a sink of the event asks for it; the ids are the current ones."""
        sink = Enriched("ids")
        Trace.add_sink(sink)
        token = set_ids(TRACE, SPAN)
        try:
            Trace.log(Trace.TASK_START)
        finally:
            reset_ids(token)
        assert (None, (TRACE, SPAN)) == sink.calls[0][2]

    def test_the_msg_dicts_ids_win(self):
        """An event whose msg dict has a trace_id is enriched with its ids, not the current ones."""
        sink = Enriched("time", "ids")
        Trace.add_sink(sink)
        token = set_ids(TRACE, SPAN)
        try:
            Trace.log(Trace.TASK_START, trace_id="c" * 32, span_id="d" * 16)
        finally:
            reset_ids(token)
        time, ids = sink.calls[0][2]
        assert (27, ("c" * 32, "d" * 16)) == (len(time), ids)

    def test_no_stamp_without_a_sink_that_asks(self):
        """A filter that keeps the enriched sink from an event leaves that event not enriched."""
        sink, plain = Enriched("time"), []
        Trace.add_sink(sink, events=["FLOW_START"])
        Trace.add_sink(lambda event, msg: plain.append(event))
        Trace.log(Trace.TASK_START)
        Trace.log(Trace.FLOW_START)
        assert ([Trace.FLOW_START], [Trace.TASK_START, Trace.FLOW_START]) == ([c[0] for c in sink.calls], plain)

    @pytest.mark.parametrize("parts", [("clock",), "time"])
    def test_unknown_parts_are_refused(self, parts):
        """A sink whose wants_enrichment names something else is refused when it is added."""
        sink = Enriched()
        sink.wants_enrichment = parts
        with pytest.raises(ValueError, match="wants_enrichment names parts among time, ids"):
            Trace.add_sink(sink)
        assert [] == Trace.sinks()

    def test_json_and_sentry_sinks_ask(self):
        """The built-in sinks that write the time or the ids ask for them."""
        from flowtrace.sinks.json import JsonSink
        from flowtrace.sinks.sentry import SentrySink

        assert (("time", "ids"), ("ids",)) == (JsonSink.wants_enrichment, SentrySink.wants_enrichment)

    def test_json_sink_called_directly_stamps_itself(self, tmp_path):
        """A JSON sink called without an enrichment, outside Trace.log, still writes the time and the ids."""
        import json

        from flowtrace.sinks.json import JsonSink

        path = tmp_path / "e.jsonl"
        sink = JsonSink(os.fspath(path))
        token = set_ids(TRACE, SPAN)
        try:
            sink(Trace.TASK_START, {})
        finally:
            reset_ids(token)
            sink.close()
        line = json.loads(path.read_text())
        assert (27, TRACE, SPAN) == (len(line["time"]), line["trace_id"], line["span_id"])
