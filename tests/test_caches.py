"""Tests for flowtrace.caches: Selinon's cache interface and its five classes."""

import pytest

from flowtrace import caches
from flowtrace.caches import FIFO, LIFO, LRU, MRU, RR, Cache, CacheMissError
from flowtrace.errors import CacheMissError as ErrorsCacheMissError


def filled(cls, **options):
    """A cache of size 3 given a, b, c in turn, then asked for a."""
    cache = cls(max_cache_size=3, **options)
    for name in "abc":
        cache.add(name, name.upper())
    cache.get("a")
    return cache


class TestCaches:
    """FIFO, LIFO, LRU, MRU and RR."""

    @pytest.mark.parametrize("cls, kept", [
        (FIFO, ["b", "c", "d"]),
        (LIFO, ["a", "b", "d"]),
        (LRU, ["c", "a", "d"]),
        (MRU, ["b", "c", "d"]),
    ])
    def test_which_item_goes(self, cls, kept):
        """Adding a fourth item to a full cache drops the item the policy names."""
        cache = filled(cls)
        cache.add("d", "D")
        assert (kept, 3) == (_order(cache), cache.current_cache_size)

    def test_random_replacement_with_a_seed(self):
        """RR drops one of the items held, the same one for the same seed."""
        first, second = filled(RR, seed=7), filled(RR, seed=7)
        first.add("d", "D")
        second.add("d", "D")
        assert (3, True, _order(first)) == (len(first), "d" in first, _order(second))

    @pytest.mark.parametrize("cls", [FIFO, LIFO, LRU, MRU, RR])
    def test_interface(self, cls):
        """get() returns what add() kept; a second add() of an id changes nothing; remove() forgets; a miss raises."""
        cache = cls(max_cache_size=2)
        cache.add("t1", {"n": 1}, task_name="charge", flow_name="orders")
        cache.add("t1", {"n": 2})
        found = cache.get("t1", task_name="charge", flow_name="orders")
        cache.remove("t1")
        with pytest.raises(CacheMissError) as caught:
            cache.get("t1")
        assert ({"n": 1}, "%s holds no item 't1'" % cls.__name__, True) == (
            found, str(caught.value), isinstance(cache, Cache))

    def test_size_zero_keeps_nothing(self):
        """max_cache_size 0 keeps nothing, as in Selinon."""
        cache = LRU(0)
        cache.add("t1", 1)
        assert 0 == len(cache)

    @pytest.mark.parametrize("size", [-1, 1.5, True, "3"])
    def test_bad_size(self, size):
        """A size that is not an integer >= 0 raises ValueError naming it."""
        with pytest.raises(ValueError) as caught:
            LRU(size)
        assert "LRU max_cache_size must be an integer >= 0, got %r" % (size,) == str(caught.value)

    def test_names(self):
        """The module offers Selinon's names, and its CacheMissError is flowtrace.errors' one, a LookupError."""
        assert (["Cache", "CacheMissError", "FIFO", "LIFO", "LRU", "MRU", "RR", "make_cache", "is_miss"], ErrorsCacheMissError, True) == (
            caches.__all__, CacheMissError, issubclass(CacheMissError, LookupError))


def _order(cache):
    """The ids a cache holds, oldest first."""
    return list(cache._items)
