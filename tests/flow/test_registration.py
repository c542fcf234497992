"""Tests for flowtrace/flow/_registration.py: register() puts a configuration on a Celery app."""

from pathlib import Path

import pytest
from celery import Celery

import flowtrace
from flowtrace import Trace
from flowtrace.flow import APP_SETTING, register
from flowtrace.flow.model import FrozenMap
from flowtrace.sinks.logging import LoggingSink

DATA = Path(__file__).resolve().parent / "data"


class TestRegister:
    def test_with_app(self):
        """load_flows(app=) applies global: trace and stores the configuration on the app."""
        app = Celery("flows", set_as_current=False)
        config = flowtrace.load_flows(str(DATA), app=app)
        assert (config, [LoggingSink]) == (app.conf[APP_SETTING], [type(sink) for sink in Trace.sinks()])

    def test_idempotent(self):
        """Registering the same configuration again changes nothing."""
        app = Celery("flows", set_as_current=False)
        config = flowtrace.load_flows(str(DATA), app=app)
        register(app, flowtrace.load_flows(str(DATA)))
        assert (config, 1) == (app.conf[APP_SETTING], len(Trace.sinks()))

    def test_another_configuration(self):
        """An app with flows refuses a different configuration."""
        app = Celery("flows", set_as_current=False)
        flowtrace.load_flows(str(DATA), app=app)
        other = flowtrace.load_flows(str(DATA / "flows"), str(DATA / "nodes.yml"))
        other = type(other)(other.tasks, FrozenMap(), other.storages, other.settings, other.files)
        with pytest.raises(ValueError):
            register(app, other)
