"""Tests for flowtrace/celery/_instrument.py: instrument(), uninstrument(), what they connect, and pool children."""

import pickle
import subprocess
import sys
import time
import weakref

import billiard
import pytest
from celery import Celery, signals
from celery.worker.consumer.consumer import Consumer
from celery.worker.request import Request

import flowtrace
from flowtrace.celery import _instrument, _main, _patches, _registry, instrument, is_instrumented, uninstrument
from flowtrace.celery._instrument import _RECEIVERS
from flowtrace.testing import capture_events
from tests.celery.test_main import FakeConsumer, FakeRequest


def snapshot():
    """What instrument() changes: every signal's receivers, the two wrapped methods, the registry."""
    return ([list(signal.receivers) for signal, _, _ in _RECEIVERS],
            Consumer.__dict__["on_decode_error"], Request.__dict__["on_failure"], dict(_registry.apps))


class TestInstrument:
    """instrument() and uninstrument()."""

    def test_twice_changes_nothing(self, app):
        """A second call for the same app leaves receivers, patches and registry exactly as the first left them."""
        instrument(app)
        first = snapshot()
        instrument(app)
        assert first == snapshot()

    def test_connects_each_receiver_once_strongly(self, app):
        """Each signal gets one strong (weak=False) receiver under flowtrace's dispatch_uid."""
        instrument(app)
        for signal, receiver, name in _RECEIVERS:
            ours = [(key, r) for key, r in signal.receivers if key[0] == "flowtrace.celery." + name]
            assert [receiver] == [r for _, r in ours]
            assert not isinstance(ours[0][1], weakref.ReferenceType)

    def test_uninstrument_restores_everything(self, app):
        """After uninstrument() the signals and wrapped methods are as they were before instrument()."""
        before = snapshot()
        instrument(app)
        assert before != snapshot()
        assert True is uninstrument(app)
        assert before == snapshot()
        assert False is uninstrument(app)

    def test_other_options_raise(self, app):
        """Instrumenting an app again with different options is an error, not a silent change."""
        instrument(app)
        with pytest.raises(ValueError, match="already instrumented with include_args=False"):
            instrument(app, include_args=True)

    def test_rejects_non_apps(self):
        """Anything but a Celery app (or a proxy to one) is a ValueError naming it."""
        with pytest.raises(ValueError, match="needs a celery.Celery app, got 'app'"):
            instrument("app")

    def test_rejects_non_bool_include_args(self, app):
        """include_args must be a bool."""
        with pytest.raises(ValueError, match="include_args must be True or False, got 'yes'"):
            instrument(app, include_args="yes")

    def test_accepts_current_app_proxy(self, app):
        """celery.current_app is resolved to the app it stands for."""
        from celery import current_app

        app.set_current()
        instrument(current_app)
        assert (True, True) == (is_instrumented(app), is_instrumented(current_app))

    def test_two_apps_share_the_receivers(self, app):
        """Uninstrumenting one of two apps keeps the hooks for the other, and only for it."""
        other = Celery("other", broker="memory://", backend="cache+memory://", set_as_current=False)

        @other.task(shared=False, name="other.ok")
        def other_task():
            return None

        instrument(app)
        instrument(other)
        uninstrument(app)
        with capture_events() as captured:
            app.tasks["unit.ok"].apply()
            other_task.apply()
        assert ["TASK_START", "TASK_END"] == captured.names()
        assert {"other.ok"} == {msg["task_name"] for _, msg in captured}
        assert 1 == sum(1 for key, _ in signals.task_prerun.receivers if key[0] == "flowtrace.celery.prerun")
        other.close()

    def test_wrapped_methods_call_celery_first(self, app):
        """The wrapped Consumer and Request methods are flowtrace's while instrumented, Celery's after."""
        original = (Consumer.__dict__["on_decode_error"], Request.__dict__["on_failure"])
        instrument(app)
        wrapped = (Consumer.__dict__["on_decode_error"], Request.__dict__["on_failure"])
        uninstrument(app)
        assert (original, original) == (tuple(hook.flowtrace_original for hook in wrapped),
                                         (Consumer.__dict__["on_decode_error"], Request.__dict__["on_failure"]))

    def test_a_wrapper_added_after_us_survives_uninstrument(self, app):
        """When another library wraps Request.on_failure after flowtrace, uninstrument leaves our hook inert, and
        instrumenting again switches it back on instead of wrapping twice."""
        original = Request.__dict__["on_failure"]
        instrument(app)
        ours = Request.__dict__["on_failure"]
        calls = []

        def theirs(self, exc_info, *args, **kwargs):
            calls.append("theirs")
            return ours(self, exc_info, *args, **kwargs)

        Request.on_failure = theirs
        try:
            uninstrument(app)
            still_there = Request.__dict__["on_failure"]
            instrument(app)
            again = Request.__dict__["on_failure"]
            uninstrument(app)
        finally:
            Request.on_failure = original
            _patches._INSTALLED.pop("on_failure", None)
        assert (theirs, theirs, original) == (still_there, again, ours.flowtrace_original)


class TestPackage:
    """flowtrace's top-level exports of the integration."""

    def test_import_stays_cheap(self):
        """Importing flowtrace imports neither Celery nor the integration."""
        code = "import sys, flowtrace; print(sorted(m for m in ('celery', 'flowtrace.celery') if m in sys.modules))"
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        assert "[]\n" == out

    def test_exports_instrument(self):
        """flowtrace.instrument and flowtrace.uninstrument are the integration's functions."""
        assert (instrument, uninstrument) == (flowtrace.instrument, flowtrace.uninstrument)

    def test_unknown_attribute(self):
        """Other missing names still raise AttributeError."""
        with pytest.raises(AttributeError, match="has no attribute 'nothing_here'"):
            flowtrace.nothing_here


def _sleep():
    time.sleep(30)


class TestActivation:
    """The token the main process puts in each request, and what unpickling it does."""

    def test_unpickling_instruments_the_current_app(self, app):
        """In a process with nothing instrumented, unpickling the token instruments the current app."""
        app.set_current()
        token = _instrument.token(_registry.Options(include_args=True))
        assert True is pickle.loads(pickle.dumps(token))
        assert (True, _registry.Options(include_args=True)) == (is_instrumented(app), _registry.options_for(app))

    def test_no_op_once_instrumented(self, app):
        """Where something is instrumented already, the token changes nothing."""
        instrument(app)
        before = dict(_registry.apps)
        assert True is pickle.loads(pickle.dumps(_instrument.token(_registry.Options(include_args=True))))
        assert before == _registry.apps

    def test_token_serialises_as_a_plain_header(self):
        """Outside pickle the token is the int 1, so a retry that copies it into headers still serialises."""
        from kombu.utils.json import dumps

        assert '{"flowtrace_activate": 1}' == dumps({"flowtrace_activate": _instrument.token(_registry.Options(False))})

    def test_late_instrument_marks_requests(self, app):
        """instrument() in a process whose pool already forked makes task_received add the token."""
        child = billiard.Process(target=_sleep)
        child.start()
        try:
            instrument(app)
        finally:
            child.terminate()
            child.join()
        request = FakeRequest(app.tasks["unit.ok"], "t1")
        _main.on_received(sender=FakeConsumer(app), request=request)
        assert (True, 1, False) == (_registry.late, request.request_dict[_registry.ACTIVATE_KEY],
                                    request.request_dict[_registry.ACTIVATE_KEY].include_args)
        uninstrument(app)
        assert False is _registry.late

    def test_early_instrument_leaves_requests_alone(self, app):
        """Without pool children at instrument() time, requests carry no token: children inherit the hooks."""
        instrument(app)
        request = FakeRequest(app.tasks["unit.ok"], "t1")
        _main.on_received(sender=FakeConsumer(app), request=request)
        assert (False, False) == (_registry.late, _registry.ACTIVATE_KEY in request.request_dict)
