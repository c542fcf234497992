"""The ``flowtrace`` command line.

Each subcommand is two small functions, registered in :data:`COMMANDS`:

- ``add_arguments(parser)`` declares its options on an :mod:`argparse` parser;
- ``run(args) -> int`` does the work, writes to ``sys.stdout`` and returns the
  exit code. It raises :class:`~flowtrace.errors.CliError` for a problem the user can fix.

To add a subcommand, write those two functions and add one row to
:data:`COMMANDS`. Import heavy modules (Celery, the dispatcher) inside ``run``
so that ``flowtrace events`` stays quick.

:func:`main` turns every error into one line on stderr and an exit code, never
a traceback: 2 for a bad command line (argparse's convention), 1 for a failure
while running, 130 after Ctrl-C (:mod:`flowtrace.errors` names them). ``--traceback``
shows the traceback too.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import traceback
from typing import Callable, NamedTuple, Optional, Sequence

from flowtrace import __version__, events, view
from flowtrace.errors import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_USAGE, CliError
from flowtrace.flow import _cli as flow_cli
from flowtrace.flow import _execute_cli as execute_cli
from flowtrace.flow.migrations import _cli as migrate_cli

__all__ = ["main", "CliError", "Command", "COMMANDS", "format_table", "format_rst"]


class Command(NamedTuple):
    """One subcommand: its name, its one-line help and its two functions.

    .. versionadded:: 0.1.0
    """

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


# --- flowtrace events ---------------------------------------------------------

_TABLE_GAP = "  "


def format_table(rows: Sequence[events.Event], keys: bool = False) -> str:
    """Return the catalogue as an aligned text table, one line per event after a header.

    Columns are value, name, level, emitter and description, then the message
    keys when ``keys`` is true. Values are right-aligned; the last column is
    not padded, so no line ends in spaces.

    Args:
        rows: the events, in the order listed.
        keys: add a column of their message keys.

    Returns:
        The table, each line ending in a newline.

    .. versionadded:: 0.1.0
    """
    header = ["VALUE", "NAME", "LEVEL", "EMITTER", "DESCRIPTION"]
    if keys:
        header.append("KEYS")
    lines = [header]
    for row in rows:
        cells = [str(row.value), row.name, row.level, row.emitter, row.description]
        if keys:
            cells.append(", ".join(row.keys))
        lines.append(cells)
    widths = [max(len(line[column]) for line in lines) for column in range(len(header))]
    out = []
    for line in lines:
        cells = [line[0].rjust(widths[0])]
        cells += [cell.ljust(width) for cell, width in zip(line[1:-1], widths[1:-1])]
        cells.append(line[-1])
        out.append(_TABLE_GAP.join(cells).rstrip())
    return "\n".join(out) + "\n"


# Words that read as code: snake_case or UPPER_CASE names and calls such as
# connect(). They are shown as literals, event names as links to the event.
_CODE_WORD = re.compile(r"\b[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)+(?:\(\))?|\b[A-Za-z_][A-Za-z0-9_]*\(\)")
_RST_SPECIAL = re.compile(r"([\\`*|_])")


def _rst_text(text: str) -> str:
    """Render catalogue prose as inline reStructuredText, escaping markup characters."""
    out = []
    position = 0
    for match in _CODE_WORD.finditer(text):
        out.append(_RST_SPECIAL.sub(r"\\\1", text[position:match.start()]))
        word = match.group(0)
        if word in events.BY_NAME:
            out.append(":attr:`~Trace.%s`" % word)
        else:
            out.append("``%s``" % word)
        position = match.end()
    out.append(_RST_SPECIAL.sub(r"\\\1", text[position:]))
    return "".join(out)


_RST_HEAD = """\
.. This page is generated from flowtrace/events.py; do not edit it by hand.
   Regenerate it with:  python -m flowtrace events --rst > docs/events.rst

Event reference
===============

Every event flowtrace can emit, in value order. The constants live on
:class:`~flowtrace.Trace`, so an emitter writes ``Trace.log(Trace.TASK_START,
msg_dict)`` and a sink compares ``event == Trace.TASK_START``. Values 0 to 49
are Selinon 1.0's, and never change; later events are numbered from 50 upward
and never renumbered.

Selinon 1.1 inserted ``FLOW_SCHEDULE`` at 1, so in Selinon 1.1 to 1.4 every
event from ``FLOW_START`` to ``EAGER_FAILURE`` is one higher than here; only
``DISPATCHER_WAKEUP`` (0), ``STORAGE_DELETE`` (51) and ``STORAGE_DELETED`` (52)
agree with Selinon 1.4. The *Selinon 1.4* column gives Selinon 1.4's value of
each event it defines, and :func:`flowtrace.events.from_selinon` maps an event
id stored by Selinon 1.4 to flowtrace's.

The *level* decides how the logging, structlog and Sentry sinks report an
event and what the ``min_level`` filter lets through. The *keys* are those
the emitter puts in the message dict; a sink should accept extra keys and
missing ones alike.

The same table is printed by ``flowtrace events`` (``--json`` for scripts).

.. py:currentmodule:: flowtrace

Summary
-------

.. list-table::
   :header-rows: 1

   * - Value
     - Selinon 1.4
     - Event
     - Level
     - Emitter
"""


def format_rst(rows: Sequence[events.Event]) -> str:
    """Return the reStructuredText event reference (``docs/events.rst``) for ``rows``.

    Args:
        rows: the events, in the order listed.

    Returns:
        The page, with a summary table, then one ``py:attribute`` entry per event.

    .. versionadded:: 0.1.0
    """
    parts = [_RST_HEAD]
    for row in rows:
        parts.append("   * - %d\n     - %s\n     - :attr:`~Trace.%s`\n     - %s\n     - %s\n"
                     % (row.value, _selinon(row), row.name, row.level, _rst_text(row.emitter)))
    parts.append("\nEvents\n------\n")
    for row in rows:
        keys = ", ".join("``%s``" % key for key in row.keys) if row.keys else "none"
        parts.append(
            "\n.. py:attribute:: Trace.%s\n"
            "   :value: %d\n"
            "\n"
            "   %s\n"
            "\n"
            "   :Level: %s\n"
            "   :Emitter: %s\n"
            "   :Selinon 1.4: %s\n"
            "   :Keys: %s\n"
            % (row.name, row.value, _rst_text(row.description), row.level, _rst_text(row.emitter), _selinon(row),
               keys)
        )
    return "".join(parts)


def _selinon(row: events.Event) -> str:
    return "%d" % row.selinon_value if row.selinon_value is not None else "none (flowtrace's own)"


def _events_arguments(parser: argparse.ArgumentParser) -> None:
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true",
                        help="print the catalogue as a JSON list of objects, for scripts")
    output.add_argument("--rst", action="store_true",
                        help="print the reStructuredText event reference (docs/events.rst)")
    parser.add_argument("--keys", action="store_true",
                        help="add the message keys to the text table (--json and --rst always have them)")


def _events(args: argparse.Namespace) -> int:
    if args.json:
        text = json.dumps(events.as_dicts(), indent=2) + "\n"
    elif args.rst:
        text = format_rst(events.EVENTS)
    else:
        text = format_table(events.EVENTS, keys=args.keys)
    sys.stdout.write(text)
    return 0


# --- flowtrace demo -----------------------------------------------------------


#: The demos ``flowtrace demo`` runs, as in :data:`flowtrace.demo.DEMOS`; kept here so that
#: building the parser does not import the demo (and through it Celery).
_DEMOS = ("flow", "outcomes")


def _demo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("which", nargs="?", choices=_DEMOS, default=_DEMOS[0], metavar="DEMO",
                        help="flow (the default): a Selinon-style flow with a foreach, sub-flows, conditions and "
                             "a fallback; outcomes: one task for each outcome a Celery task can have")
    parser.add_argument("--keep", metavar="DIR",
                        help="run in DIR (new or empty) and keep it afterwards: the broker and result folders, "
                             "events.jsonl and the worker's log")


def _demo(args: argparse.Namespace) -> int:
    from flowtrace import demo  # starts processes and imports Celery: only when asked to

    return demo.run(args)


# --- the registry -------------------------------------------------------------

#: Every subcommand, in the order ``flowtrace --help`` lists them.
COMMANDS = (
    Command("check", "check flow YAML files and print every problem as file:line: message",
            flow_cli.check_arguments, flow_cli.check),
    Command("demo", "run a flow (or every outcome of a task) through a real Celery worker and trace it",
            _demo_arguments, _demo),
    Command("events", "list every event flowtrace can emit", _events_arguments, _events),
    Command("execute", execute_cli.HELP, execute_cli.arguments, execute_cli.run),
    Command("migrate", "compare two flow configurations and write the migration queued dispatcher messages need",
            migrate_cli.migrate_arguments, migrate_cli.migrate),
    Command("plot", "draw each flow of flow YAML files as a Graphviz graph (DOT, and SVG with dot)",
            flow_cli.plot_arguments, flow_cli.plot),
    Command("view", "draw a JSON trace log as timeline trees", view.add_arguments, view.run),
)


def build_parser() -> argparse.ArgumentParser:
    """Return the parser for the whole command, with one subparser per :data:`COMMANDS` row.

    .. versionadded:: 0.1.0
    """
    parser = argparse.ArgumentParser(
        prog="flowtrace",
        description="Flow-event tracing for Celery.",
    )
    parser.add_argument("--version", action="version", version="flowtrace %s" % __version__)
    parser.add_argument("--traceback", action="store_true",
                        help="on an unexpected error, show the Python traceback as well")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    subparsers.required = True
    for command in COMMANDS:
        sub = subparsers.add_parser(command.name, help=command.help, description=command.help[:1].upper()
                                    + command.help[1:] + ".")
        command.add_arguments(sub)
        sub.set_defaults(_run=command.run)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the ``flowtrace`` command and return its exit code.

    Args:
        argv: the arguments after the program name; ``sys.argv[1:]`` by default.

    Returns:
        0 on success, 1 when the command failed, 2 for a bad command line,
        130 when interrupted.

    .. versionadded:: 0.1.0
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse has printed usage or help already
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    label = "flowtrace %s" % args.command
    try:
        code = args._run(args)
        sys.stdout.flush()  # a closed pipe must surface here, not at interpreter exit
        return code
    except BrokenPipeError:
        # The reader went away (flowtrace events | head); that is not an error to report.
        _silence_stdout()
        return EXIT_FAILURE
    except KeyboardInterrupt:
        sys.stderr.write("\n%s: interrupted\n" % label)
        return EXIT_INTERRUPTED
    except CliError as exc:
        sys.stderr.write("%s: error: %s\n" % (label, exc))
        return exc.exit_code
    except Exception as exc:
        if args.traceback:
            traceback.print_exc()
        sys.stderr.write("%s: error: %s: %s\n" % (label, type(exc).__name__, exc))
        if not args.traceback:
            sys.stderr.write("%s: for the traceback, run: flowtrace --traceback %s ...\n" % (label, args.command))
        return EXIT_FAILURE


def _silence_stdout() -> None:
    # Point the real stdout at /dev/null so that the interpreter's final flush
    # does not raise a second BrokenPipeError; leave a test's stand-in alone.
    real = sys.__stdout__
    if real is None or sys.stdout is not real:
        return
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, real.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
