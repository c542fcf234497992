"""Tests for flowtrace.cli: the ``flowtrace`` command."""

import json
import os
import re
import subprocess
import sys
from importlib.metadata import distribution
from pathlib import Path

from flowtrace import __version__, cli, events

ROOT = Path(__file__).resolve().parent.parent

#: Selinon's constants and their values, from the seed's table (shared/seeds/004_*.txt).
SEED_VALUES = {
    "DISPATCHER_WAKEUP": 0,
    "FLOW_START": 1,
    "TASK_SCHEDULE": 2,
    "TASK_START": 3,
    "SUBFLOW_SCHEDULE": 4,
    "TASK_END": 5,
    "NODE_SUCCESSFUL": 6,
    "TASK_DISCARD_RESULT": 7,
    "TASK_FAILURE": 8,
    "TASK_RETRY": 9,
    "FLOW_FAILURE": 10,
    "DISPATCHER_FAILURE": 11,
    "NODE_FAILURE": 12,
    "FALLBACK_START": 13,
    "DISPATCHER_RETRY": 14,
    "FLOW_END": 15,
    "STORAGE_CONNECT": 16,
    "STORAGE_DISCONNECT": 17,
    "STORAGE_RETRIEVE": 18,
    "STORAGE_RETRIEVED": 19,
    "STORAGE_STORE": 20,
    "STORAGE_STORED": 21,
    "EDGE_COND_FALSE": 22,
    "FOREACH_RESULT": 23,
    "NODE_STATE_CACHE_GET": 24,
    "NODE_STATE_CACHE_ADD": 25,
    "NODE_STATE_CACHE_MISS": 26,
    "NODE_STATE_CACHE_HIT": 27,
    "TASK_RESULT_CACHE_GET": 28,
    "TASK_RESULT_CACHE_ADD": 29,
    "TASK_RESULT_CACHE_MISS": 30,
    "TASK_RESULT_CACHE_HIT": 31,
    "SELECTIVE_OMIT_EDGE": 32,
    "SELECTIVE_OMIT_NODE": 33,
    "SELECTIVE_RUN_FUNC": 34,
    "SELECTIVE_TASK_REUSE": 35,
    "STORAGE_STORE_ERROR": 36,
    "STORAGE_OMIT_STORE_ERROR": 37,
    "FALLBACK_COND_FALSE": 38,
    "FALLBACK_COND_TRUE": 39,
    "NODE_STATE_CACHE_ISSUE": 40,
    "TASK_RESULT_CACHE_ISSUE": 41,
    "STORAGE_ISSUE": 42,
    "RESULT_BACKEND_ISSUE": 43,
    "FLOW_RETRY": 44,
    "MIGRATION": 45,
    "MIGRATION_SKEW": 46,
    "MIGRATION_TAINTED_FLOW": 47,
    "MIGRATION_ERROR": 48,
    "EAGER_FAILURE": 49,
}


def run_main(capsys, *argv):
    """Run ``cli.main`` in-process and return (exit code, stdout, stderr)."""
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_module(*argv, **kwargs):
    """Run ``python -m flowtrace`` in a subprocess."""
    streams = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, **kwargs}
    return subprocess.run([sys.executable, "-m", "flowtrace", *argv], cwd=ROOT, timeout=120, **streams)


def table_cells(text):
    """Split an aligned table into rows of stripped cells, cutting at the header's column starts."""
    header, *rows = text.splitlines()
    starts = [0] + [match.start() for match in re.finditer(r"(?<=  )\S", header)]
    bounds = list(zip(starts, starts[1:] + [None]))
    return [[line[start:end].strip() for start, end in bounds] for line in [header] + rows]


class TestEventsJson:
    """``flowtrace events --json``."""

    def test_succeeds_quietly(self, capsys):
        """It exits 0 and writes nothing on stderr."""
        code, _, err = run_main(capsys, "events", "--json")
        assert (0, "") == (code, err)

    def test_prints_the_catalogue(self, capsys):
        """The output is exactly ``events.as_dicts()`` as JSON."""
        _, out, _ = run_main(capsys, "events", "--json")
        assert events.as_dicts() == json.loads(out)

    def test_lists_every_event_once_in_value_order(self, capsys):
        """Each catalogue row appears once, ordered by value from 0 without gaps."""
        _, out, _ = run_main(capsys, "events", "--json")
        rows = json.loads(out)
        assert [(row.value, row.name) for row in events.EVENTS] == [(row["value"], row["name"]) for row in rows]
        assert list(range(len(events.EVENTS))) == [row["value"] for row in rows]

    def test_seed_values_unchanged(self, capsys):
        """Selinon's 50 events keep the seed's names and values."""
        _, out, _ = run_main(capsys, "events", "--json")
        by_name = {row["name"]: row["value"] for row in json.loads(out)}
        assert SEED_VALUES == {name: by_name.get(name) for name in SEED_VALUES}

    def test_rows_have_every_field(self, capsys):
        """Every object has the seven catalogue fields, with keys as a list."""
        _, out, _ = run_main(capsys, "events", "--json")
        rows = json.loads(out)
        assert [["value", "name", "level", "emitter", "keys", "description", "selinon_value"]] * len(rows) == [
            list(r) for r in rows]
        assert [list(row.keys) for row in events.EVENTS] == [row["keys"] for row in rows]


class TestEventsTable:
    """``flowtrace events`` without options: the aligned text table."""

    def test_one_row_per_event(self, capsys):
        """The table is a header line and then one line per event."""
        code, out, err = run_main(capsys, "events")
        assert (0, "", len(events.EVENTS) + 1) == (code, err, len(out.splitlines()))

    def test_columns_hold_the_catalogue(self, capsys):
        """Cut at the header's column starts, every row reads value, name, level, emitter, description."""
        _, out, _ = run_main(capsys, "events")
        expected = [["VALUE", "NAME", "LEVEL", "EMITTER", "DESCRIPTION"]] + [
            [str(row.value), row.name, row.level, row.emitter, row.description] for row in events.EVENTS
        ]
        assert expected == table_cells(out)

    def test_values_right_aligned(self, capsys):
        """The value column is right-aligned under VALUE."""
        _, out, _ = run_main(capsys, "events")
        assert ["VALUE"] + [str(row.value).rjust(5) for row in events.EVENTS] == [line[:5] for line in out.splitlines()]

    def test_keys_column(self, capsys):
        """With --keys a last column lists each event's message keys."""
        _, out, _ = run_main(capsys, "events", "--keys")
        expected = [["VALUE", "NAME", "LEVEL", "EMITTER", "DESCRIPTION", "KEYS"]] + [
            [str(row.value), row.name, row.level, row.emitter, row.description, ", ".join(row.keys)]
            for row in events.EVENTS
        ]
        assert expected == table_cells(out)

    def test_no_trailing_spaces(self, capsys):
        """No line of the table ends in a space."""
        _, out, _ = run_main(capsys, "events", "--keys")
        assert [] == [line for line in out.splitlines() if line != line.rstrip()]


class TestEventsRst:
    """``flowtrace events --rst``: the event reference page."""

    def test_prints_format_rst(self, capsys):
        """The output is ``format_rst`` of the whole catalogue."""
        code, out, err = run_main(capsys, "events", "--rst")
        assert (0, "", cli.format_rst(events.EVENTS)) == (code, err, out)

    def test_one_attribute_per_event(self, capsys):
        """Every event gets one ``py:attribute`` entry with its value, in value order."""
        _, out, _ = run_main(capsys, "events", "--rst")
        found = re.findall(r"^\.\. py:attribute:: Trace\.(\w+)\n   :value: (\d+)$", out, re.MULTILINE)
        assert [(row.name, str(row.value)) for row in events.EVENTS] == found


class TestFormatRst:
    """``cli.format_rst`` for a single made-up row."""

    def test_entry_escapes_and_links(self):
        """Code words become literals, event names links, and markup characters are escaped."""
        row = events.Event(0, "DEMO_EVENT", "warning", "dispatcher/task", ("flow_name", "task_id"),
                           "Call run_flow() after FLOW_START; a|b is *not* markup.")
        entry = cli.format_rst([row]).split("Events\n------\n", 1)[1]
        assert (
            "\n"
            ".. py:attribute:: Trace.DEMO_EVENT\n"
            "   :value: 0\n"
            "\n"
            "   Call ``run_flow()`` after :attr:`~Trace.FLOW_START`; a\\|b is \\*not\\* markup.\n"
            "\n"
            "   :Level: warning\n"
            "   :Emitter: dispatcher/task\n"
            "   :Selinon 1.4: none (flowtrace's own)\n"
            "   :Keys: ``flow_name``, ``task_id``\n"
        ) == entry

    def test_entry_gives_selinon_value(self):
        """An event Selinon defines shows Selinon 1.4's value beside flowtrace's, in the summary and its entry."""
        row = events.BY_NAME["FLOW_START"]
        page = cli.format_rst([row])
        assert ("   * - 1\n     - 2\n     - :attr:`~Trace.FLOW_START`\n     - info\n     - dispatcher\n",
                "   :Selinon 1.4: 2\n") == (page.split("     - Emitter\n", 1)[1].split("\nEvents", 1)[0],
                                         page.splitlines(keepends=True)[-2])

    def test_event_without_keys(self):
        """An event with no message keys says so."""
        row = events.Event(0, "DEMO_EVENT", "info", "task", (), "Nothing to add.")
        assert "   :Keys: none\n" == cli.format_rst([row]).splitlines(keepends=True)[-1]


def failing_command(error):
    """Return a Command named ``fail`` whose run raises ``error``."""

    def run(args):
        raise error

    return cli.Command("fail", "always fails", lambda parser: None, run)


class TestMain:
    """``cli.main``: parsing, exit codes and error reporting."""

    def test_unknown_subcommand(self, capsys):
        """An unknown subcommand exits 2 with argparse's message and no traceback."""
        code, out, err = run_main(capsys, "bogus")
        assert (2, "", True, False) == (
            code, out, "flowtrace: error: argument COMMAND: invalid choice: 'bogus'" in err, "Traceback" in err)

    def test_missing_subcommand(self, capsys):
        """No subcommand exits 2 and says one is required."""
        code, _, err = run_main(capsys)
        assert (2, "flowtrace: error: the following arguments are required: COMMAND") == (code, err.splitlines()[-1])

    def test_json_and_rst_conflict(self, capsys):
        """--json and --rst together exit 2."""
        code, out, err = run_main(capsys, "events", "--json", "--rst")
        assert (2, "", "flowtrace events: error: argument --rst: not allowed with argument --json") == (
            code, out, err.splitlines()[-1])

    def test_unknown_option(self, capsys):
        """An option the subcommand does not know exits 2."""
        code, _, err = run_main(capsys, "events", "--yaml")
        assert (2, "flowtrace: error: unrecognized arguments: --yaml") == (code, err.splitlines()[-1])

    def test_help(self, capsys):
        """--help exits 0 and prints the usage on stdout."""
        code, out, err = run_main(capsys, "--help")
        assert (0, "", "usage: flowtrace [-h] [--version] [--traceback] COMMAND ...") == (
            code, err, out.splitlines()[0])

    def test_version(self, capsys):
        """--version prints the package version."""
        code, out, _ = run_main(capsys, "--version")
        assert (0, "flowtrace %s\n" % __version__) == (code, out)

    def test_unexpected_error(self, capsys, monkeypatch):
        """An unexpected exception becomes one error line and a hint, exit 1, no traceback."""
        def broken():
            raise RuntimeError("catalogue unreadable")

        monkeypatch.setattr(events, "as_dicts", broken)
        code, out, err = run_main(capsys, "events", "--json")
        assert (1, "", "flowtrace events: error: RuntimeError: catalogue unreadable\n"
                       "flowtrace events: for the traceback, run: flowtrace --traceback events ...\n") == (code, out, err)

    def test_traceback_option(self, capsys, monkeypatch):
        """With --traceback the traceback is printed before the error line."""
        def broken():
            raise RuntimeError("catalogue unreadable")

        monkeypatch.setattr(events, "as_dicts", broken)
        code, _, err = run_main(capsys, "--traceback", "events", "--json")
        lines = err.splitlines()
        assert (1, "Traceback (most recent call last):", "flowtrace events: error: RuntimeError: catalogue unreadable") == (
            code, lines[0], lines[-1])

    def test_cli_error(self, capsys, monkeypatch):
        """A CliError prints its message alone and exits with its code."""
        monkeypatch.setattr(cli, "COMMANDS", cli.COMMANDS + (failing_command(cli.CliError("no flows found", 3)),))
        assert (3, "", "flowtrace fail: error: no flows found\n") == run_main(capsys, "fail")

    def test_keyboard_interrupt(self, capsys, monkeypatch):
        """Ctrl-C exits 130 without a traceback."""
        monkeypatch.setattr(cli, "COMMANDS", cli.COMMANDS + (failing_command(KeyboardInterrupt()),))
        assert (130, "", "\nflowtrace fail: interrupted\n") == run_main(capsys, "fail")

    def test_broken_pipe(self, capsys, monkeypatch):
        """A reader that goes away makes the command exit 1 silently."""
        class ClosedPipe:
            def write(self, text):
                raise BrokenPipeError(32, "Broken pipe")

            def flush(self):
                raise BrokenPipeError(32, "Broken pipe")

        monkeypatch.setattr(sys, "stdout", ClosedPipe())
        code = cli.main(["events"])
        monkeypatch.undo()
        assert (1, "") == (code, capsys.readouterr().err)

    def test_registered_commands(self, capsys):
        """Every row of COMMANDS is a subcommand that answers --help."""
        codes = [cli.main([command.name, "--help"]) for command in cli.COMMANDS]
        usages = [line for line in capsys.readouterr().out.splitlines() if line.startswith("usage: ")]
        assert ([0] * len(cli.COMMANDS), [command.name for command in cli.COMMANDS]) == (
            codes, [usage.split()[2] for usage in usages])


TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def trace_line(event, clock, **details):
    """Return one line of a JSON trace log: ``event`` at ``clock`` (``HH:MM:SS.ffffff``) on 2026-11-21, UTC."""
    return json.dumps({
        "event": event, "event_id": SEED_VALUES[event], "time": "2026-11-21T%sZ" % clock, "node": "worker-1",
        "pid": 4242, "trace_id": TRACE, "span_id": "00f067aa0ba902b7", "details": details,
    }) + "\n"


class TestView:
    """``flowtrace view`` run through ``cli.main``."""

    def test_draws_a_log(self, capsys, tmp_path):
        """A parent task and its child are drawn as one tree on stdout; the exit code is 0 and stderr is empty."""
        parent = dict(task_name="orders.process", task_id="5e1b3c1a-0d1f-4c55-9a43-2f6f7a1e0b01", retries=0)
        child = dict(task_name="orders.email", task_id="a7c2d4e6-1b3f-4a5c-8e7d-9f0a1b2c3d02",
                     parent_id=parent["task_id"], retries=0)
        log = tmp_path / "trace.jsonl"
        log.write_text(
            trace_line("TASK_START", "10:05:24.000000", **parent)
            + trace_line("TASK_SCHEDULE", "10:05:24.100000", **child)
            + trace_line("TASK_START", "10:05:24.200000", **child)
            + trace_line("TASK_END", "10:05:24.300000", runtime=0.25, **parent)
            + trace_line("TASK_FAILURE", "10:05:24.400000", runtime=0.2, exc_type="SMTPError",
                         exc_message="421 try later", **child)
        )
        expected = (
            "2026-11-21T10:05:24.000000Z  trace %s\n"
            "orders.process [5e1b3c1a]    SUCCESS  0.300s  +0.000s  [=======================       ]\n"
            "└── orders.email [a7c2d4e6]  FAILURE  0.300s  +0.100s  [       .......================]"
            "  SMTPError: 421 try later\n" % TRACE
        )
        assert (0, expected, "") == run_main(capsys, "view", str(log))

    def test_missing_file(self, capsys, tmp_path):
        """A missing LOG exits 1 with one error line on stderr, no traceback and nothing on stdout."""
        missing = tmp_path / "missing.jsonl"
        assert (1, "", "flowtrace view: error: cannot read %s: No such file or directory\n" % missing) == run_main(
            capsys, "view", str(missing))


class TestCommandLine:
    """The installed command and ``python -m flowtrace``, run as real processes."""

    def test_module_lists_events(self):
        """``python -m flowtrace events --json`` prints the catalogue and exits 0."""
        result = run_module("events", "--json")
        assert (0, b"", events.as_dicts()) == (result.returncode, result.stderr, json.loads(result.stdout))

    def test_module_unknown_subcommand(self):
        """``python -m flowtrace bogus`` exits 2 with a usage message and no traceback."""
        result = run_module("bogus")
        stderr = result.stderr.decode()
        assert (2, b"", True, False) == (
            result.returncode, result.stdout, stderr.startswith("usage: flowtrace "), "Traceback" in stderr)

    def test_closed_pipe(self):
        """Writing into a pipe nobody reads exits 1 with nothing on stderr."""
        read_end, write_end = os.pipe()
        os.close(read_end)
        try:
            result = run_module("events", "--rst", stdout=write_end)
        finally:
            os.close(write_end)
        assert (1, b"") == (result.returncode, result.stderr)

    def test_console_script(self):
        """The installed ``flowtrace`` entry point is ``flowtrace.cli:main``."""
        (script,) = [ep for ep in distribution("flowtrace").entry_points
                     if (ep.group, ep.name) == ("console_scripts", "flowtrace")]
        assert ("flowtrace.cli:main", cli.main) == (script.value, script.load())
