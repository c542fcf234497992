"""Tests for flowtrace.celery._activate: instrumenting pool children forked before instrument()."""

import pickle
import time

import billiard

from flowtrace.celery import _activate, _main, _registry, instrument, is_instrumented, uninstrument
from tests.celery.test_main import FakeConsumer, FakeRequest


def _sleep():
    time.sleep(30)


class TestActivation:
    """The token the main process puts in each request, and what unpickling it does."""

    def test_unpickling_instruments_the_current_app(self, app):
        """In a process with nothing instrumented, unpickling the token instruments the current app."""
        app.set_current()
        token = _activate.token(_registry.Options(include_args=True))
        assert True is pickle.loads(pickle.dumps(token))
        assert (True, _registry.Options(include_args=True)) == (is_instrumented(app), _registry.options_for(app))

    def test_no_op_once_instrumented(self, app):
        """Where something is instrumented already, the token changes nothing."""
        instrument(app)
        before = dict(_registry.apps)
        assert True is pickle.loads(pickle.dumps(_activate.token(_registry.Options(include_args=True))))
        assert before == _registry.apps

    def test_token_serialises_as_a_plain_header(self):
        """Outside pickle the token is the int 1, so a retry that copies it into headers still serialises."""
        from kombu.utils.json import dumps

        assert '{"flowtrace_activate": 1}' == dumps({"flowtrace_activate": _activate.token(_registry.Options(False))})

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
        assert (True, 1, False) == (_registry.late, request.request_dict[_activate.KEY],
                                    request.request_dict[_activate.KEY].include_args)
        uninstrument(app)
        assert False is _registry.late

    def test_early_instrument_leaves_requests_alone(self, app):
        """Without pool children at instrument() time, requests carry no token: children inherit the hooks."""
        instrument(app)
        request = FakeRequest(app.tasks["unit.ok"], "t1")
        _main.on_received(sender=FakeConsumer(app), request=request)
        assert (False, False) == (_registry.late, _activate.KEY in request.request_dict)
