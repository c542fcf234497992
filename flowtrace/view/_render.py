"""Drawing a whole log for ``flowtrace view``: its events grouped into trees, each tree drawn, and what was read.

How the events are grouped into nodes and the nodes linked into trees is
:mod:`flowtrace.view._tree`'s; how one tree is drawn, :mod:`flowtrace.view._draw`'s.
"""

from __future__ import annotations

from typing import IO, Iterable, NamedTuple, Optional, Union

from flowtrace.view._draw import Style, draw
from flowtrace.view._log import Log, load, to_micros
from flowtrace.view._tree import build, count, select

#: The default width of the timeline bar, in characters.
BAR_WIDTH = 30


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
    return render_log(load(lines), out, color=color, now=now, trace=trace, root=root, bar_width=bar_width,
                   ascii_only=ascii_only)


def render_log(log: Log, out: IO, *, color: bool, now, trace, root, bar_width: int, ascii_only) -> ViewStats:
    """:func:`render` for a log read already (by :func:`~flowtrace.view._log.load`).

    ``flowtrace view`` reads the whole log before drawing, so that only a
    failure to read it is reported as an unreadable log.
    """
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
