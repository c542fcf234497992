"""Tests for flowtrace/flow/_registration.py: register() puts a configuration on a Celery app."""

from pathlib import Path

import pytest
from celery import Celery

import flowtrace
from flowtrace import Trace
from flowtrace.celery import _registry, is_instrumented
from flowtrace.flow import APP_SETTING, register
from flowtrace.flow.model import FrozenMap
from flowtrace.sinks.logging import LoggingSink

DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture
def app():
    """A new app; uninstrumented afterwards, as load_flows(app=) instruments it."""
    app = Celery("flows", set_as_current=False)
    yield app
    flowtrace.uninstrument(app)


class TestRegister:
    def test_with_app(self, app):
        """load_flows(app=) applies global: trace and stores the configuration on the app."""
        config = flowtrace.load_flows(str(DATA), app=app)
        assert (config, [LoggingSink]) == (app.conf[APP_SETTING], [type(sink) for sink in Trace.sinks()])

    def test_idempotent(self, app):
        """Registering the same configuration again changes nothing."""
        config = flowtrace.load_flows(str(DATA), app=app)
        register(app, flowtrace.load_flows(str(DATA)))
        assert (config, 1) == (app.conf[APP_SETTING], len(Trace.sinks()))

    def test_another_configuration(self, app):
        """An app with flows refuses a different configuration."""
        flowtrace.load_flows(str(DATA), app=app)
        other = flowtrace.load_flows(str(DATA / "flows"), str(DATA / "nodes.yml"))
        other = type(other)(other.tasks, FrozenMap(), other.storages, other.settings, other.files)
        with pytest.raises(ValueError):
            register(app, other)


class TestInstrument:
    def test_load_flows_instruments_the_app(self, app):
        """load_flows(app=) instruments the app with instrument()'s defaults, marked as its own doing."""
        flowtrace.load_flows(str(DATA), app=app)
        assert (True, _registry.Options(include_args=False, implicit=True)) == (
            is_instrumented(app), _registry.options_for(app))

    def test_a_later_instrument_call_sets_the_options(self, app):
        """instrument() after load_flows(app=) does not raise: its options replace the defaults; twice is a no-op."""
        flowtrace.load_flows(str(DATA), app=app)
        flowtrace.instrument(app, include_args=True)
        flowtrace.instrument(app, include_args=True)
        assert _registry.Options(include_args=True) == _registry.options_for(app)
        with pytest.raises(ValueError):
            flowtrace.instrument(app)  # the user's own options are kept, as before

    def test_an_earlier_instrument_call_is_kept(self, app):
        """load_flows(app=) after instrument() leaves the user's options as they are."""
        flowtrace.instrument(app, include_args=True)
        flowtrace.load_flows(str(DATA), app=app)
        assert _registry.Options(include_args=True) == _registry.options_for(app)

    def test_registering_again_changes_nothing(self, app):
        """A second register() of the same configuration leaves the instrumentation as it was."""
        config = flowtrace.load_flows(str(DATA), app=app)
        before = dict(_registry.apps)
        register(app, config)
        assert before == _registry.apps

    def test_opt_out(self, app):
        """app.conf.flowtrace_instrument = False leaves the app uninstrumented."""
        app.conf.flowtrace_instrument = False
        config = flowtrace.load_flows(str(DATA), app=app)
        assert (False, config) == (is_instrumented(app), app.conf[APP_SETTING])


class TestTraceStorage:
    def test_a_trace_storage_becomes_a_named_sink(self, app, tmp_path):
        """global: trace: storage registers a StorageSink named storage:NAME.METHOD whose adapter gets the events."""
        from flowtrace.sinks.storage import StorageSink

        path = tmp_path / "flows.yml"
        path.write_text("""\
tasks: [{name: a, import: tests.flow.sample, classname: FetchOrder}]
storages: [{name: traced, import: tests.flow.sample, classname: TracingStorage}]
flows: [f]
flow-definitions: [{name: f, edges: [{from: [], to: a}]}]
global: {trace: [{storage: {name: traced}}]}
""", encoding="utf-8")
        flowtrace.load_flows(str(path), app=app)
        [sink] = Trace.sinks()
        Trace.log(Trace.TASK_START, task_name="a")
        assert (StorageSink, "storage:traced.trace", [(Trace.TASK_START, {"task_name": "a"})]) == (
            type(sink), sink.name, sink._connected().results["trace"])
