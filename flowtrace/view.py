"""``flowtrace view``: draw a JSON trace log as one timeline tree per root task or flow.

The log is what :class:`~flowtrace.sinks.json.JsonSink` writes, one event
object per line, possibly mixed with other text (worker logs). Lines that are
not event objects are counted and skipped, never fatal.

Events are grouped into nodes:

- a *task* node holds the events whose ``details.task_id`` is its id, the
  dispatcher's ``TASK_SCHEDULE`` of it included;
- a *flow* node holds the events whose ``details.dispatcher_id`` is its id
  and that name no task (dispatcher and flow events), the ``SUBFLOW_SCHEDULE``
  that started it (by ``child_dispatcher_id``), and the events of the
  dispatcher's own Celery task (whose ``task_id`` is the dispatcher id).

A node's parent is, in this order, the flow that scheduled it as a subflow,
its ``parent_dispatcher_id`` (for emitters that set one), a flow's string
``parent``, its ``parent_id``, then the flow named by a task's
``dispatcher_id``. The dispatcher itself writes no ``parent_dispatcher_id``:
a sub-flow is found by its parent's ``SUBFLOW_SCHEDULE``, or else by the
``parent_id`` Celery gives its dispatcher's first message, the parent
dispatcher's id. A node whose parents are all missing from the log is a
root. Children are drawn in start order, and a task's attempts (one per
``retries`` value) are drawn above its children.

The output depends on the log alone: wall-clock time is used only when the
caller passes ``now``, to measure nodes that have not finished. It looks like::

    2026-11-21T10:05:24.506658Z  trace 4bf92f3577b34da6a3ce929d0e0e4736
    orders.process [5e1b3c1a]    SUCCESS  0.300s  +0.000s  [=====                         ]
    ├── orders.email [a7c2d4e6]  SUCCESS  2.165s  +0.050s  [===..........................=]  2 attempts
    │   ├── attempt 1            RETRY    0.120s  +0.050s  [===                           ]  countdown 2, SMTPError: 421
    │   └── attempt 2            SUCCESS  0.030s  +0.180s  [  ...........................=]
    └── orders.stock [b8d3e5f7]  FAILURE  0.420s  +0.100s  [ =======                      ]  ValueError: out of stock
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import IO, Iterable, NamedTuple, Optional, Union

from flowtrace._viewdraw import Style, draw
from flowtrace._viewlog import MAX_LINE, Log, load, parse_time, read_lines, to_micros
from flowtrace._viewtree import build, count, select

__all__ = ["ViewStats", "render", "read_lines", "add_arguments", "run", "MAX_LINE", "BAR_WIDTH"]

#: The default width of the timeline bar, in characters.
BAR_WIDTH = 30

_PROG = "flowtrace view"


class ViewStats(NamedTuple):
    """What :func:`render` read and drew.

    Attributes:
        lines: lines read, blank ones included.
        events: valid event lines.
        invalid: lines that were not blank and not an event object.
        first_invalid: the number (from 1) of the first invalid line, or ``None``.
        trees: trees drawn.
        tasks: task nodes drawn.
        flows: flow nodes drawn.
        unattached: valid events that name no task and no dispatcher, so belong to no node.

    .. versionadded:: 0.1.0
    """

    lines: int
    events: int
    invalid: int
    first_invalid: Optional[int]
    trees: int
    tasks: int
    flows: int
    unattached: int


# --- rendering ----------------------------------------------------------------


def render(lines: Iterable[Union[str, bytes, None]], *, out: IO, color: bool = False, now=None,
           trace: Optional[str] = None, root: Optional[str] = None, bar_width: int = BAR_WIDTH,
           ascii_only: Optional[bool] = None) -> ViewStats:
    """Draw the trees of a JSON trace log on ``out`` and return what was read and drawn.

    Each tree starts with a line giving its start time and trace id, then one
    row per task, flow and retry attempt: the tree and name with a short id,
    the final state, the duration, the start offset from the tree's start, a
    timeline bar (``.`` queued or waiting, ``=`` running) and a note (the
    exception, the retry's countdown, the failed nodes of a flow and its
    fallbacks). Trees are separated by a blank line. Nothing is written when
    no tree is left.

    A task's duration runs from its first publish, receipt or start to its last
    terminal event; an attempt's is its ``runtime``. A node that has not
    finished shows its state with a ``?`` and its duration so far with ``>``.

    Args:
        lines: the log's lines, as ``str`` or ``bytes`` (bytes must be UTF-8);
            ``None`` stands for a line too long to read (see :func:`read_lines`).
        out: a text stream to write to.
        color: colour states and dim ids with ANSI escapes.
        now: the time unfinished nodes are measured up to (a ``datetime``,
            an ISO-8601 string or seconds since the epoch); by default, their
            last event, so that the output depends on the log alone.
        trace: draw only the trees holding an event whose trace id starts with this.
        root: draw only the subtrees whose task id or dispatcher id starts with this.
        bar_width: the width of the timeline bar; 0 leaves it out.
        ascii_only: draw the tree with ASCII characters; by default, when
            ``out``'s encoding cannot show the box-drawing ones.

    Returns:
        A :class:`ViewStats`.

    Raises:
        ValueError: if ``now`` is not a time.

    .. versionadded:: 0.1.0
    """
    return _render(load(lines), out, color=color, now=now, trace=trace, root=root, bar_width=bar_width,
                   ascii_only=ascii_only)


# run reads the whole log before drawing, so that only a failure to read it is reported as an unreadable log.
def _render(log: Log, out: IO, *, color: bool, now, trace, root, bar_width: int, ascii_only) -> ViewStats:
    roots, unattached = build(log.events, to_micros(now))
    roots = select(roots, trace, root)
    style = Style(out, color, ascii_only)
    for index, tree_root in enumerate(roots):
        if index:
            out.write("\n")
        draw(tree_root, out, style, bar_width)
    tasks, flows = count(roots)
    return ViewStats(log.lines, len(log.events), log.invalid, log.first_invalid, len(roots), tasks, flows,
                     unattached)


# --- the command --------------------------------------------------------------


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


def _want_color(choice: str, out: IO) -> bool:
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
    stats = _render(log, out, color=_want_color(args.color, out), now=now, trace=args.trace, root=args.root,
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
