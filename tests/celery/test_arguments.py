"""Tests for flowtrace/celery/_msg.py arguments(): what a worker shows of a task's args and kwargs."""

from celery.utils.saferepr import saferepr

from flowtrace.celery import _msg


def _shown(args, kwargs, argsrepr, kwargsrepr, custom):
    return _msg.arguments({}, args, kwargs, argsrepr, kwargsrepr, custom)


class TestArguments:
    def test_values_when_the_producer_says_default(self):
        """With the producer's header saying the reprs are Celery's own, the values go in (redaction sees keys)."""
        assert {"args": [1, {"password": "p"}], "kwargs": {"token": "t"}} == _shown(
            (1, {"password": "p"}), {"token": "t"}, "(1, {...})", "{...}", [False, False])

    def test_custom_repr_when_the_producer_says_custom(self):
        """A repr the instrumented producer saw the caller give is shown as given."""
        assert {"args": "('***',)", "kwargs": {"a": 1}} == _shown(("dsn://u:pw@h",), {"a": 1}, "('***',)", "{'a': 1}",
                                                                  [True, False])

    def test_uninstrumented_producer_custom_repr_hides_values(self):
        """Without the header, a repr that is not Celery's default hides that part: the caller meant to hide it (review #1)."""
        args = ("postgresql://app:hunter2@db/prod",)
        assert {"args": _msg.NOT_SHOWN, "kwargs": {"n": 1}} == _shown(
            args, {"n": 1}, "('***',)", saferepr({"n": 1}, 1024), None)

    def test_uninstrumented_producer_default_repr_gives_values(self):
        """Without the header, Celery's default reprs (or none) mean the values go in."""
        args, kwargs = (1, "two"), {"password": "p"}
        assert [{"args": [1, "two"], "kwargs": {"password": "p"}}, {"args": [1, "two"], "kwargs": {"password": "p"}}] == [
            _shown(args, kwargs, saferepr(args, 1024), saferepr(kwargs, 1024), None),
            _shown(args, kwargs, None, None, None)]
