"""The ``flowtrace view`` command: its options, reading the log from a file or standard input, and its diagnostics."""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import IO

from flowtrace.view._log import load, parse_time, read_lines
from flowtrace.view._render import BAR_WIDTH, render_log

_PROG = "flowtrace view"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options of ``flowtrace view`` on ``parser``.

    Args:
        parser: the subcommand's parser.

    .. versionadded:: 0.1.0
    """
    parser.add_argument("log", nargs="?", default="-", metavar="LOG",
                        help="the JSON trace log to read; - or nothing for standard input")
    parser.add_argument("--trace", metavar="TRACE_ID",
                        help="draw only the trees with an event of this trace id (a prefix is enough)")
    parser.add_argument("--root", metavar="ID",
                        help="draw only the subtree of this task id or dispatcher id (a prefix is enough)")
    # Two flags rather than --color[=WHEN]: an optional value would swallow a LOG written after it.
    parser.add_argument("--color", dest="color", action="store_const", const="always", default="auto",
                        help="colour the output with ANSI escapes (by default only when standard output is a "
                             "terminal and NO_COLOR is unset)")
    parser.add_argument("--no-color", dest="color", action="store_const", const="never",
                        help="never colour the output")
    parser.add_argument("--bar-width", type=_width, default=BAR_WIDTH, metavar="N",
                        help="the width of the timeline bar, 0 for none (default %d)" % BAR_WIDTH)
    parser.add_argument("--now", metavar="TIME",
                        help="measure unfinished tasks up to TIME, an ISO-8601 time or 'now' for the current "
                             "time (by default up to their last event, so the output depends on the log alone)")
    parser.add_argument("--ascii", action="store_true", help="draw the tree with ASCII characters only")


def _width(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a whole number, got %r" % text) from None
    if not 0 <= value <= 1000:
        raise argparse.ArgumentTypeError("expected a width from 0 to 1000, got %d" % value)
    return value


def want_color(choice: str, out: IO) -> bool:
    """Whether to colour what is written on ``out``, for a ``--color`` / ``--no-color`` choice.

    Internal to the package: ``flowtrace demo`` draws its trees with the same rule.

    Args:
        choice: ``"always"``, ``"never"`` or ``"auto"``: only when ``out`` is
            a terminal, ``NO_COLOR`` is unset and ``TERM`` is not ``dumb``.
        out: the stream written on.

    Returns:
        Whether to colour.

    .. versionadded:: 0.1.0
    """
    if choice == "always":
        return True
    if choice == "never":
        return False
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return _isatty(out)


def _isatty(stream) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except (OSError, ValueError):
        return False


def run(args: argparse.Namespace) -> int:
    """Run ``flowtrace view`` with parsed arguments, writing the trees to standard output.

    Diagnostics go to standard error, prefixed ``flowtrace view:``: how many
    lines were skipped as invalid, that the log holds no events, or that no
    tree matched a filter. A log that cannot be opened or read is an error.

    Args:
        args: the namespace from a parser set up by :func:`add_arguments`.

    Returns:
        0 when the log was read (even with invalid lines, or none valid), 1
        when it could not be opened or read, or when ``--now`` is not a time.

    .. versionadded:: 0.1.0
    """
    path = args.log or "-"
    now = args.now
    if now == "now":
        now = time.time()
    elif now is not None and parse_time(now) is None:
        return _error("--now must be 'now' or an ISO-8601 time such as 2026-11-21T10:05:24Z, got %r" % now)
    name = "standard input" if path == "-" else path
    try:
        if path == "-":
            if _isatty(sys.stdin):
                _note("reading the log from standard input; end it with Ctrl-D")
            log = load(read_lines(getattr(sys.stdin, "buffer", sys.stdin)))
        else:
            with open(path, "rb") as stream:
                log = load(read_lines(stream))
    except OSError as exc:
        return _error("cannot read %s: %s" % (name, exc.strerror or exc))
    out = sys.stdout
    stats = render_log(log, out, color=want_color(args.color, out), now=now, trace=args.trace, root=args.root,
                    bar_width=args.bar_width, ascii_only=True if args.ascii else None)
    if stats.invalid and stats.first_invalid is not None:  # one is set with the other
        _note("skipped %d invalid line%s (first at line %d)"
              % (stats.invalid, "" if stats.invalid == 1 else "s", stats.first_invalid))
    if not stats.events:
        _note("no trace events in %s" % name)
    elif not stats.trees:
        filters = " ".join("--%s %s" % (option, value) for option, value in
                           (("trace", args.trace), ("root", args.root)) if value is not None)
        _note("no tree matches %s" % filters if filters else "no event in %s names a task or a flow" % name)
    return 0


def _note(message: str) -> None:
    sys.stderr.write("%s: %s\n" % (_PROG, message))


def _error(message: str) -> int:
    sys.stderr.write("%s: error: %s\n" % (_PROG, message))
    return 1
