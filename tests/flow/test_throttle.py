"""Tests for flowtrace.flow._throttle: starts of a throttled node are given slots one delay apart."""

import datetime
import multiprocessing
import os
import threading
import types

import pytest

from flowtrace.flow import _throttle

DELAY = 100.0  # long against the time the takes of a test need, so the slots' order is read by rounding


@pytest.fixture(autouse=True)
def fresh():
    _throttle.reset()
    yield
    _throttle.reset()


def in_slots(countdowns):
    """Which slot (0 for now, 1 for one delay later, ...) each countdown, sorted, is in."""
    return [round(c / DELAY) for c in sorted(countdowns)]


def _take_in_a_process(folder, queue):
    queue.put(_throttle.FileSlots(folder).take("task:A", DELAY))


class TestSlots:
    """Each store hands out slots one delay apart, to concurrent takers too."""

    def test_memory(self):
        """In memory, eight threads taking at once get eight consecutive slots."""
        slots, found = _throttle.Memory(), []
        threads = [threading.Thread(target=lambda: found.append(slots.take("task:A", DELAY))) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert list(range(8)) == in_slots(found)

    def test_keys_are_apart(self):
        """Two nodes do not share slots: the first start of each is at once."""
        slots = _throttle.Memory()
        assert [0.0, 0.0] == [slots.take("task:A", DELAY), slots.take("flow:A", DELAY)]

    def test_file_across_processes(self, tmp_path):
        """In a file, six processes taking at once get six consecutive slots."""
        context = multiprocessing.get_context("spawn")
        queue = context.Queue()
        processes = [context.Process(target=_take_in_a_process, args=(str(tmp_path), queue)) for _ in range(6)]
        for process in processes:
            process.start()
        found = [queue.get(timeout=60) for _ in processes]
        for process in processes:
            process.join(30)
        assert (list(range(6)), [0] * 6) == (in_slots(found), [p.exitcode for p in processes])

    def test_slot_after_the_delay(self):
        """A start after the delay has passed is at once, and the next is one delay after it."""
        slots = _throttle.Memory()
        slots._slots["task:A"] = 0.0  # long ago
        assert [0, 1] == in_slots([slots.take("task:A", DELAY), slots.take("task:A", DELAY)])


class TestCountdown:
    """countdown(): None for the first start and unthrottled nodes, the wait otherwise."""

    def test_unthrottled(self):
        """A node without throttling is never delayed."""
        assert None is _throttle.countdown(object(), "task", "A", None)

    def test_first_then_throttled(self):
        """The first start is at once; the second waits about the delay (in memory for an unknown backend)."""
        delay = datetime.timedelta(seconds=DELAY)
        first, second = (_throttle.countdown(object(), "task", "A", delay) for _ in range(2))
        assert (None, 1) == (first, round(second / DELAY))

    def test_file_backend(self, tmp_path):
        """Celery's file:// backend shares the slots in a file in its folder."""
        backend = types.SimpleNamespace(path=str(tmp_path).encode())
        assert isinstance(_throttle.slots_of(backend), _throttle.FileSlots)
        _throttle.countdown(backend, "flow", "F", datetime.timedelta(seconds=DELAY))
        assert [".flowtrace-throttle.json"] == os.listdir(tmp_path)

    def test_failing_store(self, caplog):
        """A shared store that fails falls back to this process's memory, logged."""
        class Broken:
            def take(self, key, delay):
                raise ConnectionError("down")

        backend = object()
        _throttle._BY_BACKEND[id(backend)] = (backend, Broken())
        delay = datetime.timedelta(seconds=DELAY)
        found = [_throttle.countdown(backend, "task", "A", delay) for _ in range(2)]
        assert ([None, 1], True) == ([found[0], round(found[1] / DELAY)],
                                     any("shared slots failed" in r.getMessage() for r in caplog.records))


@pytest.mark.integration
class TestRedis:
    """In Redis, on the server's clock, for every process that shares the backend."""

    def test_redis_backend(self):
        """Celery's Redis backend gets RedisSlots, and six takes at once get six consecutive slots."""
        celery = pytest.importorskip("celery")
        app = celery.Celery(backend="redis://127.0.0.1:6379/15")
        slots = _throttle.slots_of(app.backend)
        key = "task:it-%s" % os.getpid()
        try:
            found = [slots.take(key, DELAY) for _ in range(6)]
        finally:
            app.backend.client.delete("flowtrace-throttle:" + key)
        assert (_throttle.RedisSlots, list(range(6))) == (type(slots), in_slots(found))
