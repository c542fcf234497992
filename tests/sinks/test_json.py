"""Tests for flowtrace.sinks.json: the JSON lines sink."""

import collections
import errno
import io
import json
import logging
import multiprocessing
import os
import pathlib
import platform
import select

import pytest

from flowtrace import Trace, _host, _enrich
from flowtrace._serialize import TRUNCATED
from flowtrace.context import reset_ids, set_ids
from flowtrace.sinks import json as json_sink
from flowtrace.sinks.json import DEFAULT_MAX_LINE, JsonSink

_STAMP = "2023-11-14T22:13:20.123456Z"
_KEYS = ["event", "event_id", "time", "node", "pid", "trace_id", "span_id", "details"]


@pytest.fixture
def fixed_clock(monkeypatch):
    """Pin the time and pid the sink writes, so that a whole line can be compared."""
    monkeypatch.setattr(_enrich, "utc_iso", lambda: _STAMP)
    monkeypatch.setattr(_host, "pid", 4242)


def _line(event, event_id, details, trace_id=None, span_id=None):
    """The exact line the sink must write under ``fixed_clock``."""
    record = {"event": event, "event_id": event_id, "time": _STAMP, "node": platform.node(), "pid": 4242,
              "trace_id": trace_id, "span_id": span_id, "details": details}
    return (json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n").encode("utf-8")


class _Recorder:
    """A text stream that keeps every ``write`` call apart."""

    mode = "w"

    def __init__(self):
        self.writes = []
        self.flushes = 0

    def write(self, text):
        self.writes.append(text)

    def flush(self):
        self.flushes += 1


# --- several processes writing to one file or one pipe ---------------------------------------

_KINDS = ("exception", "bytes", "cyclic", "megabyte", "non-utf8", "all", "medium")
_ROUNDS = 20
_WORKERS = 4
_PIPE_MAX_LINE = 4096


def _hostile(seq):
    """The hostile value event ``seq`` carries."""
    kind = _KINDS[seq % len(_KINDS)]
    if kind == "exception":
        return ValueError("boom %d" % seq)
    if kind == "bytes":
        return b"\xff\x00raw%d" % seq
    if kind == "cyclic":
        value = {"seq": seq}
        value["self"] = value
        return value
    if kind == "megabyte":
        return "m" * 1_000_000
    if kind == "non-utf8":
        return os.fsdecode(b"caf\xe9-%d" % seq)
    if kind == "medium":
        return "z" * 30_000  # longer than PIPE_BUF, within the default max_line
    return [_hostile(seq - 5 + i) for i in range(5)]


def _expected(seq, max_line):
    """The details and truncation flag the line of event ``seq`` must carry."""
    kind = _KINDS[seq % len(_KINDS)]
    if kind == "exception":
        value = {"type": "ValueError", "message": "boom %d" % seq}
    elif kind == "bytes":
        value = "\\xff\x00raw%d" % seq
    elif kind == "cyclic":
        value = {"seq": seq, "self": "[cycle]"}
    elif kind == "megabyte":
        value = "m" * 1024 + TRUNCATED
    elif kind == "non-utf8":
        value = "caf\\udce9-%d" % seq
    elif kind == "medium":
        value = "z" * 30_000 if max_line > 40_000 else "z" * 1024 + TRUNCATED
    else:
        value = [_expected(seq - 5 + i, max_line)[0]["value"] for i in range(5)]
    truncated = kind in ("megabyte", "all") or (kind == "medium" and max_line <= 40_000)
    return {"seq": seq, "kind": kind, "value": value}, truncated


def _emit_events():
    for seq in range(_ROUNDS * len(_KINDS)):
        Trace.log(Trace.TASK_FAILURE, seq=seq, kind=_KINDS[seq % len(_KINDS)], value=_hostile(seq))


def _spawned_writer(path, start):
    """Run in a spawned process: open the file with a sink of its own and write every event."""
    Trace.trace_by_json(path)
    start.wait()
    _emit_events()
    Trace.reset()


def _forked_writer(start):
    """Run in a forked process: write every event through the sink inherited from the parent."""
    start.wait()
    _emit_events()


def _check_lines(data, pids, max_line):
    """Every line parses, fits max_line, carries the expected details, and each (pid, seq) appears once."""
    lines = data.split(b"\n")
    assert b"" == lines.pop()  # the data ends with a newline: no line was left unfinished
    too_long = [len(line) + 1 for line in lines if len(line) + 1 > max_line]
    records = [json.loads(line) for line in lines]
    wrong = [(r["pid"], r["details"]["seq"]) for r in records
             if (r["details"], r.get("truncated", False)) != _expected(r["details"]["seq"], max_line)]
    seen = collections.Counter((r["pid"], r["details"]["seq"]) for r in records)
    expected = collections.Counter((pid, seq) for pid in pids for seq in range(_ROUNDS * len(_KINDS)))
    assert ([], [], expected) == (too_long, wrong, seen)
    return [len(line) + 1 for line in lines]


class TestJsonSink:
    # --- where and what it writes

    def test_stdout_by_default(self, capfd, fixed_clock):
        """With no stream, each event is one line on file descriptor 1."""
        Trace.trace_by_json()
        Trace.log(Trace.TASK_START, {"task_name": "add"}, task_id="t-1")
        out, err = capfd.readouterr()
        assert (_line("TASK_START", 3, {"task_name": "add", "task_id": "t-1"}).decode(), "") == (out, err)

    def test_stdout_bypasses_sys_stdout(self, capfd, monkeypatch, fixed_clock):
        """The default sink writes to the descriptor, not through a replaced sys.stdout (Celery's redirection)."""
        replaced = io.StringIO()
        monkeypatch.setattr("sys.stdout", replaced)
        Trace.trace_by_json()
        Trace.log(Trace.FLOW_START, flow_name="f")
        assert (_line("FLOW_START", 1, {"flow_name": "f"}).decode(), "") == (capfd.readouterr().out, replaced.getvalue())

    def test_keys_in_order(self, capfd):
        """A line holds exactly the documented keys, in the documented order, with a 27-character time."""
        Trace.trace_by_json()
        Trace.log(Trace.TASK_END, runtime=0.5)
        parsed = json.loads(capfd.readouterr().out)
        assert (_KEYS, 27, "Z", os.getpid(), platform.node()) == (
            list(parsed), len(parsed["time"]), parsed["time"][-1], parsed["pid"], parsed["node"])

    def test_trace_ids(self, fixed_clock):
        """The current trace and span ids go into every line."""
        stream = io.BytesIO()
        Trace.trace_by_json(stream)
        token = set_ids("a" * 32, "b" * 16)
        try:
            Trace.log(Trace.TASK_START, task_name="add")
        finally:
            reset_ids(token)
        assert _line("TASK_START", 3, {"task_name": "add"}, "a" * 32, "b" * 16) == stream.getvalue()

    def test_msg_ids_win(self, fixed_clock):
        """An event whose msg dict names its trace and span ids is written with those, not the current ones."""
        stream = io.BytesIO()
        Trace.trace_by_json(stream)
        token = set_ids("a" * 32, "b" * 16)
        try:
            Trace.log(Trace.TASK_RECEIVED, task_name="add", trace_id="c" * 32, span_id="d" * 16)
            Trace.log(Trace.TASK_PUBLISH, task_name="add", trace_id=None, span_id=None)
        finally:
            reset_ids(token)
        assert (_line("TASK_RECEIVED", 54, {"task_name": "add", "trace_id": "c" * 32, "span_id": "d" * 16},
                      "c" * 32, "d" * 16)
                + _line("TASK_PUBLISH", 53, {"task_name": "add", "trace_id": None, "span_id": None})
                ) == stream.getvalue()

    def test_text_stream(self, fixed_clock):
        """A text stream receives str lines, one per event."""
        stream = io.StringIO()
        Trace.trace_by_json(stream)
        Trace.log(Trace.TASK_START, name="é")
        Trace.log(Trace.TASK_END, n=2)
        expected = _line("TASK_START", 3, {"name": "é"}) + _line("TASK_END", 5, {"n": 2})
        assert expected.decode("utf-8") == stream.getvalue()

    def test_binary_stream(self, fixed_clock):
        """A binary stream receives UTF-8 bytes, one line per event."""
        stream = io.BytesIO()
        Trace.trace_by_json(stream)
        Trace.log(Trace.TASK_START, name="é")
        assert _line("TASK_START", 3, {"name": "é"}) == stream.getvalue()

    def test_binary_file_opened_by_the_user(self, tmp_path, fixed_clock):
        """A file the user opened in binary mode is written as bytes and flushed after each line."""
        path = tmp_path / "events.jsonl"
        with open(path, "wb") as stream:
            Trace.trace_by_json(stream)
            Trace.log(Trace.TASK_START, n=1)
            assert _line("TASK_START", 3, {"n": 1}) == path.read_bytes()

    def test_path_appends(self, tmp_path, fixed_clock):
        """A path is opened for append: existing content stays and lines follow it."""
        path = tmp_path / "events.jsonl"
        path.write_bytes(b"existing\n")
        Trace.trace_by_json(str(path))
        Trace.log(Trace.TASK_START, n=1)
        Trace.log(Trace.TASK_END, n=2)
        assert b"existing\n" + _line("TASK_START", 3, {"n": 1}) + _line("TASK_END", 5, {"n": 2}) == path.read_bytes()

    def test_pathlike(self, tmp_path, fixed_clock):
        """A pathlib.Path is accepted as a path and named after it."""
        path = tmp_path / "events.jsonl"
        sink = Trace.trace_by_json(pathlib.Path(path))
        Trace.log(Trace.TASK_START, n=1)
        assert ("json:%s" % path, _line("TASK_START", 3, {"n": 1})) == (sink.name, path.read_bytes())

    def test_file_descriptor(self, fixed_clock):
        """A file descriptor is written to directly and left open by close()."""
        read_fd, write_fd = os.pipe()
        try:
            sink = Trace.trace_by_json(write_fd)
            Trace.log(Trace.TASK_START, n=1)
            Trace.reset()
            os.write(write_fd, b"still open")
            expected = _line("TASK_START", 3, {"n": 1}) + b"still open"
            assert ("json:fd%d" % write_fd, expected) == (sink.name, os.read(read_fd, 65536))
        finally:
            os.close(read_fd)
            os.close(write_fd)

    def test_close_closes_only_its_own_file(self, tmp_path):
        """close() releases the descriptor the sink opened for a path, and a second close() is harmless."""
        sink = JsonSink(tmp_path / "events.jsonl")
        fd = sink._owned_fd
        sink.close()
        sink.close()
        with pytest.raises(OSError) as info:
            os.fstat(fd)
        assert errno.EBADF == info.value.errno

    def test_unknown_event_value(self, fixed_clock):
        """An event value outside the catalogue is written with its number as the name."""
        stream = io.BytesIO()
        sink = JsonSink(stream)
        sink(9999, {"x": 1})
        assert _line("9999", 9999, {"x": 1}) == stream.getvalue()

    def test_stats_count_lines(self):
        """stats() counts the lines written and the write errors."""
        sink = Trace.trace_by_json(io.StringIO())
        for _ in range(3):
            Trace.log(Trace.TASK_START)
        assert {"lines": 3, "write_errors": 0} == sink.stats()

    # --- one write per line

    def test_descriptor_gets_one_write_per_line(self, tmp_path, monkeypatch):
        """Each event, even a 50 KB one, reaches the file in a single os.write of one whole line."""
        calls = []
        real_write = os.write

        def recording_write(fd, data):
            calls.append(bytes(data))
            return real_write(fd, data)

        sink = JsonSink(tmp_path / "events.jsonl")
        monkeypatch.setattr(os, "write", recording_write)
        sink(Trace.TASK_START, {"big": "x" * 50_000})
        sink(Trace.TASK_END, {"text": "two\nlines"})
        monkeypatch.undo()
        sink.close()
        shapes = [(call.count(b"\n"), call.endswith(b"\n")) for call in calls]
        assert ([(1, True), (1, True)], calls) == (shapes, (tmp_path / "events.jsonl").read_bytes().splitlines(True))

    def test_stream_gets_one_write_per_line(self):
        """A stream object gets one write call per line, each followed by a flush."""
        stream = _Recorder()
        sink = JsonSink(stream)
        sink(Trace.TASK_START, {"text": "a\nb\r\nc\u2028d"})
        sink(Trace.TASK_END, {})
        shapes = [(text.count("\n"), text.endswith("\n")) for text in stream.writes]
        assert ([(1, True), (1, True)], 2) == (shapes, stream.flushes)

    # --- hostile values

    def test_hostile_details(self, fixed_clock):
        """An exception, bytes, a set, a cyclic dict and non-UTF-8 text all land in one valid line."""
        stream = io.BytesIO()
        cyclic = {"name": "loop"}
        cyclic["self"] = cyclic
        Trace.trace_by_json(stream)
        Trace.log(Trace.TASK_FAILURE, what=ValueError("boom"), raw=b"\xff\x00", tags={"b", "a"}, state=cyclic,
                  path=os.fsdecode(b"/tmp/caf\xe9"), huge=2 ** 80, keys={(1, 2): "pair", None: "none"})
        expected = _line("TASK_FAILURE", 8, {
            "what": {"type": "ValueError", "message": "boom"}, "raw": "\\xff\u0000", "tags": ["a", "b"],
            "state": {"name": "loop", "self": "[cycle]"}, "path": "/tmp/caf\\udce9", "huge": str(2 ** 80),
            "keys": {"(1, 2)": "pair", "null": "none"},
        })
        assert expected == stream.getvalue()

    def test_one_megabyte_string_is_capped(self):
        """A 1 MB value is cut so that the line fits the default 64 KiB, and the line says so."""
        stream = io.BytesIO()
        Trace.trace_by_json(stream)
        Trace.log(Trace.TASK_END, result="r" * 1_000_000)
        line = stream.getvalue()
        parsed = json.loads(line)
        assert ({"result": "r" * 1024 + TRUNCATED}, True, 1, True) == (
            parsed["details"], parsed["truncated"], line.count(b"\n"), len(line) <= DEFAULT_MAX_LINE)

    def test_max_line_counts_the_newline(self):
        """With max_line=1024 every line, newline included, is at most 1024 bytes."""
        stream = io.BytesIO()
        sink = JsonSink(stream, max_line=1024)
        for size in range(600, 1400, 7):
            sink(Trace.TASK_END, {"result": "q" * size})
        lengths = [len(line) for line in stream.getvalue().splitlines(True)]
        assert (len(range(600, 1400, 7)), []) == (len(lengths), [n for n in lengths if n > 1024])

    def test_huge_event_value_still_fits(self):
        """Even a huge string passed as the event gives one line within max_line."""
        stream = io.BytesIO()
        JsonSink(stream, max_line=1024)("E" * 100_000, {"a": 1})
        line = stream.getvalue()
        parsed = json.loads(line)
        assert (["E" * 64 + TRUNCATED] * 2, {}, 1, True) == (
            [parsed["event"], parsed["event_id"]], parsed["details"], line.count(b"\n"), len(line) <= 1024)

    def test_invalid_event_does_not_raise(self):
        """Even an unhashable event value is counted as a failure instead of raising."""
        sink = JsonSink(io.StringIO())
        sink([1], {})
        assert {"lines": 0, "write_errors": 1} == sink.stats()

    # --- failures are counted, never raised

    def test_closed_text_stream(self, caplog):
        """Writing to a closed stream is counted in stats() and Trace.stats(), logged, and never raised."""
        stream = io.StringIO()
        sink = Trace.trace_by_json(stream)
        stream.close()
        with caplog.at_level(logging.WARNING, logger="flowtrace"):
            Trace.log(Trace.TASK_START, n=1)
            Trace.log(Trace.TASK_START, n=2)
        assert (
            {"lines": 0, "write_errors": 2},
            {"json:StringIO": {"errors": 2, "dropped": 0, "last_error": "ValueError: I/O operation on closed file",
                               "lines": 0, "write_errors": 2}},
            [("flowtrace", logging.WARNING)],
        ) == (sink.stats(), Trace.stats(), [(r.name, r.levelno) for r in caplog.records])

    def test_closed_binary_file(self, tmp_path):
        """A binary file closed under the sink is counted, not raised."""
        stream = open(tmp_path / "events.jsonl", "wb")
        sink = Trace.trace_by_json(stream)
        stream.close()
        Trace.log(Trace.TASK_START)
        assert {"lines": 0, "write_errors": 1} == sink.stats()

    def test_bad_file_descriptor(self):
        """A descriptor that is not open is counted as a write error, not raised."""
        sink = Trace.trace_by_json(999_999)
        Trace.log(Trace.TASK_START)
        assert {"lines": 0, "write_errors": 1} == sink.stats()

    def test_pipe_with_no_reader(self):
        """A pipe whose reader has gone is counted as a write error, not raised."""
        read_fd, write_fd = os.pipe()
        os.close(read_fd)
        try:
            sink = Trace.trace_by_json(write_fd)
            Trace.log(Trace.TASK_START)
        finally:
            os.close(write_fd)
        assert {"lines": 0, "write_errors": 1} == sink.stats()

    def test_write_after_close(self, tmp_path):
        """An event sent to a closed path sink is counted, not raised."""
        sink = JsonSink(tmp_path / "events.jsonl")
        sink.close()
        sink(Trace.TASK_START, {})
        assert {"lines": 0, "write_errors": 1} == sink.stats()

    def test_stream_whose_write_raises(self):
        """A stream that raises on write is counted and the next sink still receives the event."""

        class Broken:
            mode = "w"

            def write(self, text):
                raise RuntimeError("disk on fire")

        received = []
        sink = Trace.trace_by_json(Broken())
        Trace.trace_by_func(lambda event, msg: received.append((event, msg)))
        Trace.log(Trace.TASK_START, n=1)
        assert ({"lines": 0, "write_errors": 1}, [(Trace.TASK_START, {"n": 1})]) == (sink.stats(), received)

    # --- arguments

    @pytest.mark.parametrize("max_line", [1023, 0, -1, True, 4096.0, "4096", None])
    def test_bad_max_line(self, max_line):
        """A max_line that is not an int of at least 1024 is refused with a ValueError naming it."""
        with pytest.raises(ValueError) as info:
            JsonSink(io.StringIO(), max_line=max_line)
        assert "max_line must be an int of at least 1024 bytes, got %r" % (max_line,) == str(info.value)

    def test_bad_max_line_through_trace(self):
        """Trace.trace_by_json passes max_line on and registers nothing when it is refused."""
        with pytest.raises(ValueError):
            Trace.trace_by_json(io.StringIO(), max_line=100)
        assert [] == Trace.sinks()

    def test_negative_descriptor(self):
        """A negative file descriptor is refused with a ValueError naming it."""
        with pytest.raises(ValueError) as info:
            JsonSink(-1)
        assert "a file descriptor must not be negative, got -1" == str(info.value)

    @pytest.mark.parametrize("stream", [object(), 1.5, True, b"path"])
    def test_not_a_stream(self, stream):
        """Anything that is not None, a path, a descriptor or a writable object is refused."""
        with pytest.raises(ValueError) as info:
            JsonSink(stream)
        expected = "stream must be None, a path, a file descriptor or a writable object, got %r" % (stream,)
        assert expected == str(info.value)

    def test_mode_that_is_not_a_string(self):
        """A writable object whose ``mode`` is not a string is taken as a text stream instead of failing."""

        class Odd(_Recorder):
            mode = 2

        stream = Odd()
        JsonSink(stream)(Trace.TASK_START, {})
        assert (1, str) == (len(stream.writes), type(stream.writes[0]))

    # --- several processes at once (the done-when)

    @pytest.mark.timeout(120)
    @pytest.mark.parametrize("start_method", ["fork", "spawn"])
    def test_processes_append_to_one_file(self, tmp_path, start_method):
        """Four processes writing hostile events to one path produce only whole, valid lines, none lost."""
        path = str(tmp_path / "events.jsonl")
        context = multiprocessing.get_context(start_method)
        start = context.Barrier(_WORKERS, timeout=60)  # all four write at the same time
        if start_method == "fork":
            # As in a prefork pool: the parent opens the file, the children inherit the sink.
            Trace.trace_by_json(path)
            workers = [context.Process(target=_forked_writer, args=(start,)) for _ in range(_WORKERS)]
        else:
            workers = [context.Process(target=_spawned_writer, args=(path, start)) for _ in range(_WORKERS)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(100)
        assert [0] * _WORKERS == [worker.exitcode for worker in workers]
        with open(path, "rb") as stream:
            data = stream.read()
        lengths = _check_lines(data, [worker.pid for worker in workers], DEFAULT_MAX_LINE)
        # The "medium" events make lines longer than PIPE_BUF, which only O_APPEND keeps whole.
        assert _WORKERS * _ROUNDS == len([n for n in lengths if n > select.PIPE_BUF])

    @pytest.mark.timeout(120)
    def test_processes_share_one_pipe(self):
        """Four forked processes writing hostile events to one pipe give the reader only whole, valid lines."""
        read_fd, write_fd = os.pipe()
        stream = os.fdopen(write_fd, "wb")
        Trace.trace_by_json(stream, max_line=_PIPE_MAX_LINE)
        context = multiprocessing.get_context("fork")
        start = context.Barrier(_WORKERS, timeout=60)
        workers = [context.Process(target=_forked_writer, args=(start,)) for _ in range(_WORKERS)]
        try:
            for worker in workers:
                worker.start()
        finally:
            stream.close()  # the children hold the only write ends now, so EOF comes when they finish
        chunks = []
        with os.fdopen(read_fd, "rb", buffering=0) as reader:
            while True:
                ready, _, _ = select.select([reader], [], [], 100)
                chunk = reader.read(65536) if ready else b""
                if not chunk:
                    break
                chunks.append(chunk)
        for worker in workers:
            worker.join(100)
        assert [0] * _WORKERS == [worker.exitcode for worker in workers]
        _check_lines(b"".join(chunks), [worker.pid for worker in workers], _PIPE_MAX_LINE)

    # --- documentation

    def test_documents_pipe_atomicity(self):
        """The docstring warns that only lines up to PIPE_BUF are atomic on a pipe, unlike appended files."""
        doc = " ".join(JsonSink.__doc__.split())
        phrases = ["regular file opened for append", "PIPE_BUF", "max_line=4096"]
        assert phrases == [phrase for phrase in phrases if phrase in doc]
