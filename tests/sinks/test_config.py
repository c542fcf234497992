"""Tests for flowtrace/sinks/_config.py and the kinds table: Trace.configure and Selinon's global: trace: list."""

import logging
import sys

import pytest
import yaml

from flowtrace import Trace
from flowtrace.sinks.json import JsonSink
from flowtrace.sinks.logging import LoggingSink
from flowtrace.sinks.structlog import StructlogSink

# A function sink for the `function:` entry; referenced by module and name.
received = []


def collect(event, msg):
    received.append((event, msg))


class TestConfigure:
    def test_selinon_style_yaml(self, tmp_path):
        """A global: trace: list as Selinon writes it registers the logging, JSON, structlog and function sinks."""
        out = tmp_path / "events.jsonl"
        config = yaml.safe_load(f"""
global:
  trace:
    - logging: true
    - json:
        path: {out}
    - structlog: true
    - function:
        import: tests.sinks.test_config
        name: collect
    - sentry: false
""")
        received.clear()
        sinks = Trace.configure(config["global"])
        Trace.log(Trace.FLOW_START, flow_name="f")
        Trace.flush()
        assert ([LoggingSink, JsonSink, StructlogSink, type(collect)], [(Trace.FLOW_START, {"flow_name": "f"})], 1) == (
            [type(s) for s in sinks], received, len(out.read_text().splitlines()))

    def test_options_and_filters(self):
        """Sink options and the events/min_level filters are applied."""
        sinks = Trace.configure([{"logging": {"logger": "cfg.test", "min_level": "warning"}}])
        records = []

        class Keep(logging.Handler):
            def emit(self, record):
                records.append(record.event)

        log = logging.getLogger("cfg.test")
        log.propagate = False
        log.setLevel(logging.INFO)
        log.addHandler(Keep())
        Trace.log(Trace.TASK_START)
        Trace.log(Trace.TASK_FAILURE)
        assert ("cfg.test", ["TASK_FAILURE"]) == (sinks[0].logger.name, records)

    @pytest.mark.parametrize("config, message", [
        ("nope", "global.trace must be a list of sink entries, got str"),
        ([{"loging": True}], "global.trace entry 1: unknown sink 'loging'; expected one of logging, json, structlog, sentry, otel, function"),
        ([{"logging": True, "json": True}], "global.trace entry 1: expected a mapping with one key (one of logging, json, structlog, sentry, otel, function), got a mapping with 2 keys (json, logging)"),
        ([{"json": True}, {"json": {"paht": "x"}}], "global.trace entry 2 (json): unknown option 'paht'; expected path, max_line, events, min_level"),
        ([{"json": "yes"}], "global.trace entry 1 (json): expected true, false or a mapping of options, got a str"),
        ([{"function": {"import": "os"}}], "global.trace entry 1 (function): missing 'name'"),
        ([{"function": {"import": "no.such.module", "name": "f"}}], "global.trace entry 1 (function): cannot import module 'no.such.module' for the function sink: ModuleNotFoundError: No module named 'no'"),
        ([{"function": {"import": "os", "name": "sep"}}], "global.trace entry 1 (function): os.sep is not callable, so it cannot be a sink"),
        ([{"sentry": {"environment": "x"}}], "global.trace entry 1 (sentry): a 'dsn' is required"),
        ([{"logging": {"min_level": "loud"}}], "global.trace entry 1 (logging): unknown level 'loud'; expected one of info, warning, error"),
        ([{"logging": {"events": ["NOT_AN_EVENT"]}}], "global.trace entry 1 (logging): unknown flowtrace event name 'NOT_AN_EVENT'"),
    ])
    def test_bad_entries_name_the_entry(self, config, message):
        """A bad entry raises ValueError naming the entry and what is wrong, and registers nothing."""
        with pytest.raises(ValueError) as info:
            Trace.configure(config)
        assert (message, []) == (str(info.value), Trace.sinks())

    def test_a_bad_entry_registers_nothing(self, tmp_path, monkeypatch):
        """When a later entry is wrong, the earlier valid ones are not registered and their files are closed."""
        from flowtrace.sinks import json as json_sink

        closed = []
        original = json_sink.JsonSink.close
        monkeypatch.setattr(json_sink.JsonSink, "close", lambda self: closed.append(self.name) or original(self))
        with pytest.raises(ValueError):
            Trace.configure([{"json": {"path": str(tmp_path / "a.jsonl")}}, {"json": {"max_line": 10}}])
        assert ([], ["json:%s" % (tmp_path / "a.jsonl")]) == (Trace.sinks(), closed)

    def test_a_bad_entry_leaves_sentry_alone(self, monkeypatch):
        """A Sentry entry before a wrong one never initialises Sentry: the process keeps its client."""
        import sentry_sdk

        assert not sentry_sdk.get_client().is_active()
        with pytest.raises(ValueError) as info:
            Trace.configure([{"sentry": {"dsn": "http://key@127.0.0.1:9/1"}}, {"function": {"import": "no.such.module",
                                                                                       "name": "f"}}])
        assert ("global.trace entry 2 (function)", [], False) == (
            str(info.value).split(":")[0], Trace.sinks(), sentry_sdk.get_client().is_active())

    def test_sinks_keep_the_order_given(self, tmp_path):
        """Sinks are registered in the order of the entries, Sentry's included, though Sentry is built last."""
        import sentry_sdk

        try:
            sinks = Trace.configure([{"sentry": {"dsn": "http://key@127.0.0.1:9/1"}},
                                     {"json": {"path": str(tmp_path / "a.jsonl")}}, {"logging": True}])
            assert ["sentry", "json:%s" % (tmp_path / "a.jsonl"), "logging:flowtrace.trace"] == [s.name for s in sinks]
        finally:
            Trace.reset()
            sentry_sdk.get_global_scope().set_client(None)

    def test_other_global_keys_are_left_alone(self):
        """Selinon's whole global section can be passed; keys other than trace are for the flow loader."""
        sinks = Trace.configure({"trace": [{"logging": True}], "predicates_module": "myapp.predicates"})
        assert ["logging:flowtrace.trace"] == [s.name for s in sinks]

    def test_missing_extra_is_named(self, monkeypatch):
        """An entry whose package is missing says which extra to install."""
        monkeypatch.setitem(sys.modules, "structlog", None)
        with pytest.raises(ValueError) as info:
            Trace.configure([{"structlog": True}])
        assert ("global.trace entry 1 (structlog): trace_by_structlog needs the 'structlog' package, which is not "
                "installed; install it with: pip install 'flowtrace[structlog]'") == str(info.value)

    def test_a_misplaced_dsn_is_not_echoed(self):
        """A DSN written where options belong is named by its type, never shown."""
        with pytest.raises(ValueError) as info:
            Trace.configure([{"sentry": "https://secretkey@o1.ingest.example/2"}])
        assert "global.trace entry 1 (sentry): expected true, false or a mapping of options, got a str" == str(info.value)

    def test_empty_and_none(self):
        """An empty list, or a global section without trace, registers nothing."""
        assert ([], [], []) == (Trace.configure([]), Trace.configure({"trace": None}), Trace.sinks())
