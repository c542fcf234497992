"""Tests for flowtrace/view/_log.py: which lines of a log are events, and reading its lines."""

import io
import json

from flowtrace import view
from tests.view.logs import ORDER, draw, task


class TestInvalidLines:
    def test_garbage_is_counted_and_the_rest_drawn(self):
        """Non-JSON, truncated JSON, arrays, wrong types and a 1 MB line are counted; valid events are drawn."""
        good = task("orders.process", ORDER, 0, 10, 130)
        record = json.loads(good[0])
        wrong = []
        for key, value in (("event_id", "3"), ("event_id", True), ("time", "yesterday"), ("time", 17),
                           ("details", []), ("trace_id", 12), ("event", ""), ("pid", "4242"),
                           ("time", "2026-13-01T00:00:00Z")):
            wrong.append(json.dumps(dict(record, **{key: value})))
        missing = dict(record)
        del missing["span_id"]
        garbage = [
            "[2026-11-21 10:05:24,000: INFO/MainProcess] Task orders.process received",
            good[0][:40],
            "[1, 2, 3]",
            '"just a string"',
            "null",
            json.dumps(missing),
            "x" * (1024 * 1024),
            "[" * 100000,
        ] + wrong
        lines = [good[0], ""] + garbage + good[1:]
        text, stats = draw(lines)
        expected = (
            "2026-11-21T10:05:24.506658Z  trace 4bf92f3577b34da6a3ce929d0e0e4736\n"
            "orders.process [5e1b3c1a]  SUCCESS  0.130s  +0.000s  [..============================]\n"
        )
        assert expected == text
        assert view.ViewStats(lines=22, events=4, invalid=17, first_invalid=3, trees=1, tasks=1, flows=0,
                              unattached=0) == stats

    def test_bytes_lines_must_be_utf8(self):
        """A bytes line that is not UTF-8 is invalid; a UTF-8 one with a byte order mark is read."""
        good = [item.encode() for item in task("orders.process", ORDER, 0, 10, 130)]
        lines = [b"\xef\xbb\xbf" + good[0], good[1].replace(b"celery", b"\xff\xfe"), good[2], good[3]]
        text, stats = draw(lines, bar_width=0)
        assert "orders.process [5e1b3c1a]  SUCCESS  0.130s  +0.000s\n" == text.splitlines(True)[1]
        assert (3, 1, 2) == (stats.events, stats.invalid, stats.first_invalid)

    def test_time_offsets_are_normalised_to_utc(self):
        """Times with a UTC offset or without Z are read as the same instants."""
        lines = task("orders.process", ORDER, 0, 10, 130)
        record = json.loads(lines[3])
        record["time"] = "2026-11-21T11:05:24.636658+01:00"
        lines[3] = json.dumps(record)
        text, _ = draw(lines, bar_width=0)
        assert "orders.process [5e1b3c1a]  SUCCESS  0.130s  +0.000s\n" == text.splitlines(True)[1]


class TestReadLines:
    def test_splits_on_newline_only(self):
        """Lines end at \\n only, so a U+2028 or \\r inside a line does not split it."""
        stream = io.BytesIO("a\u2028b\rc\nd\n\ne".encode())
        assert ["a\u2028b\rc\n".encode(), b"d\n", b"\n", b"e"] == list(view.read_lines(stream))

    def test_over_long_line_is_none(self):
        """A line longer than max_line is yielded as None and the next line is read whole."""
        stream = io.BytesIO(b"short\n" + b"y" * 50 + b"\nafter\n" + b"z" * 11)
        assert [b"short\n", None, b"after\n", None] == list(view.read_lines(stream, max_line=10))

    def test_text_stream(self):
        """A text stream yields str lines."""
        assert ["one\n", "two"] == list(view.read_lines(io.StringIO("one\ntwo")))
