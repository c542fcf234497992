"""Tests for flowtrace._serialize: any Python value to one line of JSON, never raising."""

import collections
import dataclasses
import datetime
import decimal
import enum
import json
import os
import uuid

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from flowtrace._serialize import TRUNCATED, dumps, dumps_capped

# A value orjson refuses, so that a line holding it takes the slow, rebuilding path.
_BIG = 2 ** 100
_BIG_JSON = b'"1267650600228229401496703205376"'


class Color(enum.Enum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


@dataclasses.dataclass
class Point:
    x: int
    y: str


class Opaque:
    def __repr__(self):
        return "<Opaque>"


class BadRepr:
    def __repr__(self):
        raise RuntimeError("no repr")


class BadStr(Exception):
    def __str__(self):
        raise RuntimeError("no str")


class UtcSubclass(datetime.datetime):
    """Like freezegun's FakeDatetime: a datetime subclass orjson does not take natively."""


Pair = collections.namedtuple("Pair", "left right")

_UTC = datetime.timezone.utc

# (id, value, its JSON) for values that must come out the same on orjson's path and on the fallback path.
LEAVES = [
    ("exception", ValueError("bad input"), b'{"type":"ValueError","message":"bad input"}'),
    ("exception-no-args", KeyError(), b'{"type":"KeyError","message":""}'),
    ("exception-bad-str", BadStr(), b'{"type":"BadStr","message":"<unprintable BadStr>"}'),
    ("bytes", b"ab\xff\x00", rb'"ab\\xff\u0000"'),
    ("bytearray", bytearray(b"\xc3\xa9t\xc3"), '"\u00e9t\\\\xc3"'.encode("utf-8")),
    ("memoryview", memoryview(b"abc"), b'"abc"'),
    ("set", {3, 1, 2}, b"[1,2,3]"),
    ("frozenset", frozenset({"pear", "apple"}), b'["apple","pear"]'),
    ("datetime-utc", datetime.datetime(2024, 1, 2, 3, 4, 5, 678, tzinfo=_UTC), b'"2024-01-02T03:04:05.000678Z"'),
    ("datetime-naive", datetime.datetime(2024, 1, 2), b'"2024-01-02T00:00:00"'),
    ("datetime-offset", datetime.datetime(2024, 1, 2, tzinfo=datetime.timezone(datetime.timedelta(hours=-2))),
     b'"2024-01-02T00:00:00-02:00"'),
    ("datetime-subclass", UtcSubclass(2024, 1, 2, tzinfo=_UTC), b'"2024-01-02T00:00:00Z"'),
    ("date", datetime.date(2024, 2, 29), b'"2024-02-29"'),
    ("time", datetime.time(13, 5, 0, 250000), b'"13:05:00.250000"'),
    ("timedelta", datetime.timedelta(minutes=1, milliseconds=500), b"60.5"),
    ("decimal", decimal.Decimal("1.10"), b'"1.10"'),
    ("decimal-nan", decimal.Decimal("NaN"), b'"NaN"'),
    ("enum", Color.RED, b'"red"'),
    ("int-enum", Level.HIGH, b"3"),
    ("uuid", uuid.UUID(int=1), b'"00000000-0000-0000-0000-000000000001"'),
    ("dataclass", Point(1, "a"), b'{"x":1,"y":"a"}'),
    ("namedtuple", Pair(1, 2), b'"Pair(left=1, right=2)"'),
    ("object", Opaque(), b'"<Opaque>"'),
    ("object-bad-repr", BadRepr(), b'"<unrepresentable BadRepr>"'),
    ("class", int, b'"builtins.int"'),
    ("nan", float("nan"), b"null"),
    ("infinity", float("-inf"), b"null"),
    ("lone-surrogate", "a\udcff", rb'"a\\udcff"'),
    ("surrogateescape", os.fsdecode(b"caf\xe9"), rb'"caf\\udce9"'),
    ("int-u64-max", 2 ** 64 - 1, b"18446744073709551615"),
    ("int-i64-min", -(2 ** 63), b"-9223372036854775808"),
    ("int-too-big", 2 ** 64, b'"18446744073709551616"'),
    ("int-too-small", -(2 ** 63) - 1, b'"-9223372036854775809"'),
    ("keys-non-str", {None: 1, True: 2, 1.5: 3, 7: 4}, b'{"null":1,"true":2,"1.5":3,"7":4}'),
    ("keys-tuple", {(1, "a"): 1}, b'{"(1, \'a\')":1}'),
    ("keys-date-uuid-enum", {datetime.date(2024, 1, 2): 1, uuid.UUID(int=2): 2, Color.RED: 3},
     b'{"2024-01-02":1,"00000000-0000-0000-0000-000000000002":2,"red":3}'),
    ("key-surrogate", {"k\udcff": 1}, rb'{"k\\udcff":1}'),
    ("key-huge-int", {2 ** 70: 1}, b'{"1180591620717411303424":1}'),
    ("nested", [{1, 2}, {"k": (Color.RED, b"x")}], b'[[1,2],{"k":["red","x"]}]'),
]


def _cyclic_dict():
    value = {"name": "loop"}
    value["self"] = value
    return value


def _nested_lists(depth):
    value = []
    for _ in range(depth):
        value = [value]
    return value


class TestDumps:
    @pytest.mark.parametrize("value, expected", [(v, e) for _, v, e in LEAVES], ids=[i for i, _, _ in LEAVES])
    def test_hostile_leaf(self, value, expected):
        """Each awkward value serialises to its exact, documented JSON."""
        assert b'{"v":' + expected + b"}" == dumps({"v": value})

    @pytest.mark.parametrize("value, expected", [(v, e) for _, v, e in LEAVES], ids=[i for i, _, _ in LEAVES])
    def test_same_output_on_the_fallback_path(self, value, expected):
        """A value is written the same when another value in the line forces the slow, rebuilding path."""
        assert b'{"v":' + expected + b',"big":' + _BIG_JSON + b"}" == dumps({"v": value, "big": _BIG})

    def test_plain_values(self):
        """Ordinary JSON values come out as compact JSON in insertion order."""
        value = {"b": [1, 2.5, "x"], "a": None, "c": True, "é": "ünïcode"}
        assert '{"b":[1,2.5,"x"],"a":null,"c":true,"é":"ünïcode"}'.encode("utf-8") == dumps(value)

    def test_cyclic_dict(self):
        """A dict that contains itself is written once, with the back reference marked."""
        assert b'{"name":"loop","self":"[cycle]"}' == dumps(_cyclic_dict())

    def test_cyclic_list(self):
        """A list that contains itself is written once, with the back reference marked."""
        value = [1]
        value.append(value)
        assert b'[1,"[cycle]"]' == dumps(value)

    def test_cycle_through_two_containers(self):
        """A cycle through a dict and a list is cut where it comes back to the outer dict."""
        outer = {"items": []}
        outer["items"].append({"parent": outer})
        assert b'{"items":[{"parent":"[cycle]"}]}' == dumps(outer)

    def test_shared_reference_is_not_a_cycle(self):
        """The same list reached twice, side by side, is written in full both times."""
        shared = [1, 2]
        value = {"a": shared, "b": shared, "loop": []}
        value["loop"].append(value["loop"])
        assert b'{"a":[1,2],"b":[1,2],"loop":["[cycle]"]}' == dumps(value)

    def test_deep_nesting(self):
        """Nesting deeper than orjson allows is cut at 64 levels with a marker."""
        assert b"[" * 64 + b'"[too deep]"' + b"]" * 64 == dumps(_nested_lists(1000))

    def test_unsortable_set(self):
        """A set whose members cannot be ordered is still written, as a list of all of them."""
        assert [1, "a"] == sorted(json.loads(dumps({1, "a"})), key=str)

    def test_long_bytes_are_cut(self):
        """Bytes are shown as at most 4096 characters followed by the truncation marker."""
        assert ('"' + "x" * 4096 + TRUNCATED + '"').encode() == dumps(b"x" * 10_000)

    def test_long_repr_is_cut(self):
        """An object's repr is shown as at most 4096 characters followed by the truncation marker."""

        class Wordy:
            def __repr__(self):
                return "w" * 5000

        assert ('"' + "w" * 4096 + TRUNCATED + '"').encode() == dumps(Wordy())

    def test_exception_with_non_utf8_message(self):
        """An exception whose message holds undecodable bytes keeps its type and an escaped message."""
        exc = OSError("cannot open " + os.fsdecode(b"/tmp/\xff"))
        assert rb'{"type":"OSError","message":"cannot open /tmp/\\udcff"}' == dumps(exc)

    def test_huge_string_is_not_cut(self):
        """dumps itself never cuts a string: capping is dumps_capped's job."""
        assert b'"' + b"s" * 1_000_000 + b'"' == dumps("s" * 1_000_000)


def _record(details, **extra):
    return {"event": "TASK_END", "event_id": 5, **extra, "details": details}


class TestDumpsCapped:
    def test_short_line_unchanged(self):
        """A line within the cap is exactly what dumps writes."""
        record = _record({"a": 1})
        assert dumps(record) == dumps_capped(record, 1024)

    def test_exactly_at_the_cap(self):
        """A line exactly max_bytes long is kept whole."""
        record = _record({"a": ""})
        size = len(dumps(record))
        record["details"]["a"] = "x" * (2000 - size)
        assert dumps(record) == dumps_capped(record, 2000)

    def test_one_megabyte_string(self):
        """A 1 MB string is cut to 1024 characters with the marker, and the line says it was truncated."""
        record = _record({"blob": "a" * 1_000_000, "n": 1})
        original = len(dumps(record))
        line = dumps_capped(record, 65535)
        expected = {
            "event": "TASK_END", "event_id": 5, "details": {"blob": "a" * 1024 + TRUNCATED, "n": 1},
            "truncated": True, "original_bytes": original,
        }
        assert (expected, True) == (json.loads(line), len(line) <= 65535)

    def test_many_long_strings_cut_harder(self):
        """When cutting strings to 1024 characters is not enough, they are cut to 128."""
        record = _record({"s%02d" % i: "y" * 2000 for i in range(40)})
        line = dumps_capped(record, 8192)
        expected_details = {"s%02d" % i: "y" * 128 + TRUNCATED for i in range(40)}
        assert (expected_details, True, True) == (
            json.loads(line)["details"], json.loads(line)["truncated"], len(line) <= 8192)

    def test_multibyte_text_is_measured_in_bytes(self):
        """Four-byte characters count four times toward the cap."""
        record = _record({"emoji": "\U0001f600" * 1_000_000})
        line = dumps_capped(record, 4095)
        assert ("\U0001f600" * 128 + TRUNCATED, True) == (json.loads(line)["details"]["emoji"], len(line) <= 4095)

    def test_hostile_mix(self):
        """An exception, bytes, a cyclic dict, a 1 MB string and non-UTF-8 text all survive the cut to 4 KiB."""
        details = {
            "exc": ValueError("boom"), "raw": b"\xff" * 10, "cycle": _cyclic_dict(),
            "big": "x" * 1_000_000, "bad": os.fsdecode(b"caf\xe9"),
        }
        line = dumps_capped(_record(details), 4095)
        expected = {
            "exc": {"type": "ValueError", "message": "boom"}, "raw": "\\xff" * 10,
            "cycle": {"name": "loop", "self": "[cycle]"}, "big": "x" * 1024 + TRUNCATED, "bad": "caf\\udce9",
        }
        assert (expected, True, True) == (json.loads(line)["details"], json.loads(line)["truncated"],
                                          len(line) <= 4095)

    def test_many_small_values_become_a_preview(self):
        """Details too large even with short strings are replaced by a preview of their JSON."""
        numbers = list(range(10_000))
        record = _record({"numbers": numbers})
        line = dumps_capped(record, 2048)
        parsed = json.loads(line)
        preview = parsed["details"]["preview"]
        shown = preview[:-len(TRUNCATED)]
        whole = json.dumps({"numbers": numbers}, separators=(",", ":"))
        assert ({"event": "TASK_END", "event_id": 5, "truncated": True, "original_bytes": len(dumps(record))},
                ["preview"], TRUNCATED, whole[:len(shown)], True) == (
            {k: v for k, v in parsed.items() if k != "details"}, list(parsed["details"]),
            preview[-len(TRUNCATED):], shown, len(line) <= 2048)

    def test_preview_of_text_that_escapes_long(self):
        """A preview of quote-heavy JSON, which grows when escaped again, still fits the cap."""
        record = _record({'"%d"' % i: '"\\' for i in range(3000)})
        line = dumps_capped(record, 1500)
        parsed = json.loads(line)
        shown = parsed["details"]["preview"][:-len(TRUNCATED)]
        assert (dumps(record["details"]).decode()[:len(shown)], True) == (shown, len(line) <= 1500)

    def test_only_the_envelope_fits(self):
        """When the envelope alone nearly fills the cap, the details are emptied."""
        record = _record({"numbers": list(range(100))}, node="n" * 900)
        line = dumps_capped(record, 1000)
        expected = {"event": "TASK_END", "event_id": 5, "node": "n" * 900, "details": {},
                    "truncated": True, "original_bytes": len(dumps(record))}
        assert (expected, True) == (json.loads(line), len(line) <= 1000)

    def test_huge_envelope_is_cut_too(self):
        """A huge string outside the details, where only a caller's mistake can put one, is cut as a last resort."""
        record = {"event": "E" * 100_000, "event_id": 1, "details": {"a": 1}}
        line = dumps_capped(record, 1000)
        expected = {"event": "E" * 64 + TRUNCATED, "event_id": 1, "details": {}, "truncated": True,
                    "original_bytes": len(dumps(record))}
        assert (expected, True) == (json.loads(line), len(line) <= 1000)

    @settings(max_examples=200, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        details=st.recursive(
            st.none() | st.booleans() | st.integers(min_value=-(2 ** 80), max_value=2 ** 80) | st.floats()
            | st.text(max_size=3000) | st.binary(max_size=3000),
            lambda children: st.lists(children, max_size=8)
            | st.dictionaries(st.text(max_size=20) | st.integers() | st.tuples(st.integers()), children, max_size=8),
            max_leaves=60,
        ),
        max_bytes=st.integers(min_value=600, max_value=6000),
    )
    def test_any_value_fits_and_parses(self, details, max_bytes):
        """Whatever the details, the line is valid JSON of at most max_bytes and keeps its envelope."""
        line = dumps_capped(_record(details), max_bytes)
        parsed = json.loads(line)
        assert ("TASK_END", 5, True) == (parsed["event"], parsed["event_id"], len(line) <= max_bytes)
