"""Tests for flowtrace.flow._nudge: claiming a dispatcher's timer entry, and nudges that come early."""

import threading

from kombu.asynchronous.timer import Timer

from flowtrace.flow import _nudge


class Request:
    """Stands for celery.worker.request.Request: the timer entry's first argument."""

    def __init__(self, task_id):
        self.id = task_id


class Threaded:
    """Like celery.utils.timer2.Timer: a schedule, a ``queue`` view of it and the ``mutex`` its thread pops under."""

    def __init__(self):
        self.schedule = Timer()
        self.mutex = threading.Lock()

    @property
    def queue(self):
        return self.schedule.queue


class TestWake:
    """wake(): the entry is claimed once, under the timer's lock, and run at once."""

    def test_runs_the_entry_now(self):
        """The dispatcher's entry runs now and is cancelled, so the timer never runs it again."""
        timer, ran = Timer(), []
        other = timer.call_after(60, ran.append, (Request("other"),))
        entry = timer.call_after(60, ran.append, (Request("d1"),))
        assert True is _nudge.wake(timer, "d1")
        assert (["d1"], True, False) == ([r.id for r in ran], entry.canceled, other.canceled)

    def test_twice(self):
        """A second nudge finds the entry cancelled: it does not run twice."""
        timer, ran = Timer(), []
        timer.call_after(60, ran.append, (Request("d1"),))
        assert (True, False, 1) == (_nudge.wake(timer, "d1"), _nudge.wake(timer, "d1"), len(ran))

    def test_not_here(self):
        """A timer without the dispatcher's entry says so."""
        assert False is _nudge.wake(Timer(), "d1")

    def test_thread_based_timer(self):
        """With a timer2-style timer the claim takes its mutex, and leaves it free afterwards."""
        timer, ran = Threaded(), []
        timer.schedule.call_after(60, ran.append, (Request("d1"),))
        assert True is _nudge.wake(timer, "d1")
        assert (1, False) == (len(ran), timer.mutex.locked())


class TestEarly:
    """Nudges that arrive before the dispatcher's message."""

    def test_remembered_once(self):
        """A remembered nudge is taken once."""
        _nudge._remember("d2")
        assert (True, False) == (_nudge.take_early("d2"), _nudge.take_early("d2"))

    def test_expires(self, monkeypatch):
        """A nudge older than EARLY_TTL is forgotten."""
        _nudge._remember("d3")
        clock = _nudge.time.monotonic() + _nudge.EARLY_TTL + 1
        monkeypatch.setattr(_nudge.time, "monotonic", lambda: clock)
        assert False is _nudge.take_early("d3")

    def test_command_remembers_what_it_cannot_place(self):
        """The remote-control command runs a held entry, and remembers a nudge for a message not yet here."""

        class State:
            class consumer:
                timer = Timer()

        ran = []
        State.consumer.timer.call_after(60, ran.append, (Request("held"),))
        _nudge.flowtrace_wakeup(State, dispatcher_id="held")
        _nudge.flowtrace_wakeup(State, dispatcher_id="later")
        assert (1, False, True) == (len(ran), _nudge.take_early("held"), _nudge.take_early("later"))
