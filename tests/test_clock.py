"""Tests for flowtrace._clock: fixed-width ISO-8601 UTC timestamps."""

import datetime
import random
import re
import sys
import threading
import time

import pytest

from flowtrace import _clock
from flowtrace._clock import utc_iso

_SHAPE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")


def _reference(now):
    """The timestamp the standard library gives for ``now``, in utc_iso's shape."""
    return datetime.datetime.fromtimestamp(now, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@pytest.fixture(autouse=True)
def _cold_cache(monkeypatch):
    # Each test starts with an empty cache, so no test depends on the one before.
    monkeypatch.setattr(_clock, "_cache", {})


class TestUtcIso:
    def test_known_epoch_time(self):
        """A given epoch time is written as its UTC date and time with microseconds and a Z."""
        assert "2023-11-14T22:13:20.123456Z" == utc_iso(1700000000.123456)

    def test_epoch_zero(self):
        """Time zero is midnight of 1 January 1970, with six zero digits of fraction."""
        assert "1970-01-01T00:00:00.000000Z" == utc_iso(0)

    def test_integer_seconds_keep_the_fraction(self):
        """A whole second still carries ``.000000`` so that the width never changes."""
        assert "2001-09-09T01:46:40.000000Z" == utc_iso(1_000_000_000)

    def test_fixed_width(self):
        """Every timestamp, whatever its fraction, is 27 characters in the same shape."""
        times = [0, 0.5, 59.999999, 86399.0000001, 951782400.25, 1700000000.000001, 1700000000.999999, 4102444799.5]
        shapes = [(len(utc_iso(t)), bool(_SHAPE.fullmatch(utc_iso(t)))) for t in times]
        assert [(27, True)] * len(times) == shapes

    def test_rounds_to_the_nearest_microsecond(self):
        """A fraction a float cannot hold exactly is rounded, not truncated one microsecond early."""
        # 1700000000.000001 is stored as 1700000000.00000095..., which truncation wrote as .000000.
        assert ["2023-11-14T22:13:20.000001Z", "2023-11-14T22:13:20.123457Z"] == [
            utc_iso(1700000000.000001), utc_iso(1700000000.123457)]

    def test_rounding_up_carries_into_the_next_second(self):
        """A fraction that rounds to a whole second moves to the next second instead of writing seven digits."""
        assert ["2023-11-14T22:13:21.000000Z", "1970-01-01T00:00:02.000000Z"] == [
            utc_iso(1700000000.9999997), utc_iso(1.9999999999999998)]

    def test_carry_across_midnight_and_year_end(self):
        """The carry into the next second also moves the date when the second was the last of a year."""
        assert "2024-01-01T00:00:00.000000Z" == utc_iso(1704067199.9999998)

    def test_matches_the_standard_library(self):
        """For many times, including exact half microseconds, the result equals datetime's own rounding."""
        rng = random.Random(20240601)
        times = [rng.uniform(0, 4e9) for _ in range(20000)]
        times += [rng.randrange(0, 2 ** 32 * 128) / 128 for _ in range(5000)]  # ties at half a microsecond
        mismatches = [(t, utc_iso(t), _reference(t)) for t in times if utc_iso(t) != _reference(t)]
        assert [] == mismatches

    def test_current_time(self):
        """Without an argument the result is the current time, between readings taken around the call."""
        before = time.time()
        stamp = utc_iso()
        after = time.time()
        parsed = datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
        # Rounding to the microsecond may move the stamp up to half a microsecond outside the readings.
        low = datetime.datetime.fromtimestamp(before - 1e-6, datetime.timezone.utc)
        high = datetime.datetime.fromtimestamp(after + 1e-6, datetime.timezone.utc)
        assert (27, True, True) == (len(stamp), low <= parsed, parsed <= high)

    def test_cache_follows_time_back_and_forth(self):
        """The cached date part is replaced whenever the second changes, even when time goes backwards."""
        results = [utc_iso(t) for t in (100.5, 101.25, 100.75, 3600.0, 100.125)]
        assert [
            "1970-01-01T00:01:40.500000Z",
            "1970-01-01T00:01:41.250000Z",
            "1970-01-01T00:01:40.750000Z",
            "1970-01-01T01:00:00.000000Z",
            "1970-01-01T00:01:40.125000Z",
        ] == results

    def test_thread_safe_across_a_second_boundary(self):
        """Threads stamping times on both sides of a second boundary each get their own, correct, timestamp."""
        boundary = 1700000000
        # Each thread alternates between the two seconds so that the shared cache flips constantly.
        per_thread = [
            [boundary - 1 + (k % 2) + ((i * 1000 + k) % 997) / 1000 + 0.0000001 for k in range(4000)]
            for i in range(8)
        ]
        expected = [[_reference(t) for t in times] for times in per_thread]
        results = [None] * len(per_thread)
        start = threading.Barrier(len(per_thread))

        def stamp(index):
            start.wait()
            results[index] = [utc_iso(t) for t in per_thread[index]]

        interval = sys.getswitchinterval()
        sys.setswitchinterval(1e-6)  # switch threads as often as possible to provoke races
        try:
            threads = [threading.Thread(target=stamp, args=(i,)) for i in range(len(per_thread))]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        finally:
            sys.setswitchinterval(interval)
        assert expected == results


class TestCurrentTimeRounding:
    @pytest.mark.parametrize("ns, expected", [
        (1_700_000_000_123_456_499, "2023-11-14T22:13:20.123456Z"),
        (1_700_000_000_123_456_500, "2023-11-14T22:13:20.123457Z"),
        (1_700_000_000_999_999_500, "2023-11-14T22:13:21.000000Z"),
        (1_704_067_199_999_999_700, "2024-01-01T00:00:00.000000Z"),
        (0, "1970-01-01T00:00:00.000000Z"),
    ])
    def test_clock_nanoseconds_round_to_the_nearest_microsecond(self, monkeypatch, ns, expected):
        """The clock's nanoseconds round half up to a microsecond, carrying into the next second and year."""
        monkeypatch.setattr(_clock, "_time_ns", lambda: ns)
        assert expected == utc_iso()
