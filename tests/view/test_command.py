"""Tests for flowtrace/view/_command.py: ``flowtrace view`` run with its own arguments."""

import io

from tests.view.logs import ORDER, line, run_view, task


class TestRun:
    def test_reads_a_file(self, tmp_path, capsys):
        """run draws the trees of a log file on stdout and exits 0 with nothing on stderr."""
        log = tmp_path / "trace.jsonl"
        log.write_text("\n".join(task("orders.process", ORDER, 0, 10, 130)) + "\n")
        assert 0 == run_view([str(log), "--bar-width", "0"])
        assert ("2026-11-21T10:05:24.506658Z  trace 4bf92f3577b34da6a3ce929d0e0e4736\n"
                "orders.process [5e1b3c1a]  SUCCESS  0.130s  +0.000s\n", "") == capsys.readouterr()

    def test_binary_garbage_is_skipped_and_reported(self, tmp_path, capsys):
        """Non-UTF-8 bytes, worker log text and a 1 MB line are skipped and counted on stderr; the exit is 0."""
        good = [item.encode() for item in task("orders.process", ORDER, 0, 10, 130)]
        log = tmp_path / "trace.jsonl"
        log.write_bytes(b"\n".join([good[0], b"\xff\xfe\x00garbage", b"worker: ready", good[1], b"{" * 1048576,
                                    good[2], b'{"event": "TASK_END", "event_id": 5, "time": "2026-11-21T10:05:2',
                                    good[3]]) + b"\n")
        assert 0 == run_view([str(log), "--bar-width", "0", "--no-color"])
        out, err = capsys.readouterr()
        assert "orders.process [5e1b3c1a]  SUCCESS  0.130s  +0.000s\n" == out.splitlines(True)[1]
        assert "flowtrace view: skipped 4 invalid lines (first at line 2)\n" == err

    def test_reads_stdin(self, monkeypatch, capsys):
        """Without LOG, or with -, the log is read from standard input."""
        data = ("\n".join(task("orders.process", ORDER, 0, 10, 130)) + "\n").encode()
        for argv in ([], ["-"]):
            monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data)))
            assert 0 == run_view(argv + ["--bar-width", "0"])
            assert ("2026-11-21T10:05:24.506658Z  trace 4bf92f3577b34da6a3ce929d0e0e4736\n"
                    "orders.process [5e1b3c1a]  SUCCESS  0.130s  +0.000s\n", "") == capsys.readouterr()

    def test_terminal_stdin_gets_a_hint(self, monkeypatch, capsys):
        """Reading from a terminal says so on stderr, so that a forgotten LOG does not look like a hang."""
        monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"")))
        monkeypatch.setattr("sys.stdin.isatty", lambda: True)
        assert 0 == run_view([])
        assert ("", "flowtrace view: reading the log from standard input; end it with Ctrl-D\n"
                    "flowtrace view: no trace events in standard input\n") == capsys.readouterr()

    def test_empty_input_says_so(self, tmp_path, capsys):
        """An empty log prints a clear message on stderr, nothing on stdout, and exits 0."""
        log = tmp_path / "empty.jsonl"
        log.write_bytes(b"")
        assert 0 == run_view([str(log)])
        assert ("", "flowtrace view: no trace events in %s\n" % log) == capsys.readouterr()

    def test_only_garbage_says_both(self, tmp_path, capsys):
        """A log with no valid line reports the skipped lines and that there are no events."""
        log = tmp_path / "worker.log"
        log.write_text("starting worker\nready\n")
        assert 0 == run_view([str(log)])
        assert ("", "flowtrace view: skipped 2 invalid lines (first at line 1)\n"
                    "flowtrace view: no trace events in %s\n" % log) == capsys.readouterr()

    def test_events_without_ids_say_so(self, tmp_path, capsys):
        """A log whose events name no task and no dispatcher says that nothing could be drawn."""
        log = tmp_path / "trace.jsonl"
        log.write_text(line("STORAGE_CONNECT", 0, storage_name="redis") + "\n")
        assert 0 == run_view([str(log)])
        assert ("", "flowtrace view: no event in %s names a task or a flow\n" % log) == capsys.readouterr()

    def test_missing_file_is_an_error(self, tmp_path, capsys):
        """A missing LOG is one error line on stderr, no traceback, and exit code 1."""
        missing = tmp_path / "nope.jsonl"
        assert 1 == run_view([str(missing)])
        assert ("", "flowtrace view: error: cannot read %s: No such file or directory\n" % missing) == (
            capsys.readouterr())

    def test_directory_is_an_error(self, tmp_path, capsys):
        """A directory given as LOG is an error with exit code 1."""
        assert 1 == run_view([str(tmp_path)])
        assert ("", "flowtrace view: error: cannot read %s: Is a directory\n" % tmp_path) == capsys.readouterr()

    def test_filter_matching_nothing_says_so(self, tmp_path, capsys):
        """A --trace that matches no tree is reported on stderr with exit code 0."""
        log = tmp_path / "trace.jsonl"
        log.write_text("\n".join(task("orders.process", ORDER, 0, 10, 130)) + "\n")
        assert 0 == run_view([str(log), "--trace", "ffff"])
        assert ("", "flowtrace view: no tree matches --trace ffff\n") == capsys.readouterr()

    def test_bad_now_is_an_error(self, tmp_path, capsys):
        """A --now that is not an ISO-8601 time is an error with exit code 1."""
        log = tmp_path / "trace.jsonl"
        log.write_text("")
        assert 1 == run_view([str(log), "--now", "later"])
        assert ("", "flowtrace view: error: --now must be 'now' or an ISO-8601 time such as "
                    "2026-11-21T10:05:24Z, got 'later'\n") == capsys.readouterr()

    def test_now_option(self, tmp_path, capsys):
        """--now TIME measures an unfinished task up to TIME."""
        log = tmp_path / "trace.jsonl"
        log.write_text("\n".join(task("t", ORDER, 0, 10, None)) + "\n")
        assert 0 == run_view(["--now", "2026-11-21T10:05:26.506658Z", str(log), "--bar-width", "0"])
        assert "t [5e1b3c1a]  RUNNING?  >2.000s  +0.000s\n" == capsys.readouterr().out.splitlines(True)[1]

    def test_color_option(self, tmp_path, capsys):
        """--color forces colour, even before LOG; by default there is none when stdout is not a terminal."""
        log = tmp_path / "trace.jsonl"
        log.write_text("\n".join(task("t", ORDER, 0, 10, 20)) + "\n")
        run_view([str(log), "--bar-width", "0"])
        plain = capsys.readouterr().out
        run_view(["--color", str(log), "--bar-width", "0"])
        painted = capsys.readouterr().out
        assert "t [5e1b3c1a]  SUCCESS  0.020s  +0.000s\n" == plain.splitlines(True)[1]
        assert "t \x1b[2m[5e1b3c1a]\x1b[0m  \x1b[32mSUCCESS\x1b[0m  0.020s  \x1b[2m+0.000s\x1b[0m\n" == (
            painted.splitlines(True)[1])

    def test_no_color_environment_wins_over_a_terminal(self, tmp_path, monkeypatch, capsys):
        """On a terminal colour is on by default, and NO_COLOR or --no-color turn it off."""
        log = tmp_path / "trace.jsonl"
        log.write_text("\n".join(task("t", ORDER, 0, 10, 20)) + "\n")
        monkeypatch.delenv("NO_COLOR", raising=False)
        monkeypatch.setenv("TERM", "xterm")
        monkeypatch.setattr("sys.stdout.isatty", lambda: True)
        run_view([str(log), "--bar-width", "0"])
        on_terminal = capsys.readouterr().out.splitlines(True)[1]
        monkeypatch.setenv("NO_COLOR", "1")
        run_view([str(log), "--bar-width", "0"])
        no_color = capsys.readouterr().out.splitlines(True)[1]
        run_view([str(log), "--bar-width", "0", "--no-color"])
        assert (["t \x1b[2m[5e1b3c1a]\x1b[0m  \x1b[32mSUCCESS\x1b[0m  0.020s  \x1b[2m+0.000s\x1b[0m\n"]
                + ["t [5e1b3c1a]  SUCCESS  0.020s  +0.000s\n"] * 2) == [
            on_terminal, no_color, capsys.readouterr().out.splitlines(True)[1]]
