"""Drawing one tree of ``flowtrace view`` as aligned text rows: name, state, duration, offset, bar and note."""

from __future__ import annotations

from typing import IO, Dict, List, NamedTuple, Optional, Tuple, Union

from flowtrace.view._log import format_time, text
from flowtrace.view._state import Attempt
from flowtrace.view._tree import KIND_FLOW, Node, walk

_COLORS = {
    "SUCCESS": "32", "FAILURE": "31", "RETRY": "33", "IGNORED": "35", "REJECTED": "35", "REVOKED": "35",
    "UNKNOWN": "35",
}
_INCOMPLETE_COLOR = "36"
_DIM = "2"
_BOLD = "1"

_MAX_NAME = 60
_MAX_NOTE = 100
_MAX_INDENT = 24
_MAX_TRACE_IDS = 4
_UNICODE_TREE = ("├── ", "└── ", "│   ", "    ")
_ASCII_TREE = ("|-- ", "`-- ", "|   ", "    ")


class Style:
    """How to write on one stream: its encoding, the tree's characters and whether to colour.

    Args:
        out: the text stream drawn on.
        color: colour with ANSI escapes.
        ascii_only: draw the tree with ASCII characters; ``None`` for when
            ``out``'s encoding cannot show the box-drawing ones.
    """

    def __init__(self, out: IO, color: bool, ascii_only: Optional[bool]):
        self.color = color
        self.encoding = _encoding(out)
        if ascii_only is None:
            try:
                "".join(_UNICODE_TREE).encode(self.encoding or "utf-8")
                ascii_only = False
            except UnicodeEncodeError:
                ascii_only = True
        self.tree = _ASCII_TREE if ascii_only else _UNICODE_TREE

    def fit(self, value: str) -> str:
        """Return ``value`` with what the output's encoding cannot hold as backslash escapes, before layout."""
        if self.encoding is None:
            return value
        try:
            value.encode(self.encoding)
        except UnicodeEncodeError:
            return value.encode(self.encoding, "backslashreplace").decode(self.encoding)
        return value

    def paint(self, value: str, code: str) -> str:
        """Return ``value`` in the ANSI colour ``code`` when colouring, else unchanged."""
        if not self.color or not value:
            return value
        return "\x1b[%sm%s\x1b[0m" % (code, value)


def _encoding(out: IO) -> Optional[str]:
    encoding = getattr(out, "encoding", None)
    if not isinstance(encoding, str):
        return None
    try:
        "".encode(encoding)
    except LookupError:
        return None
    return encoding


def draw(root: Node, out: IO, style: Style, bar_width: int) -> None:
    """Write the tree under ``root`` on ``out``: a header line, then one row per node and attempt."""
    rows = [row._replace(name=style.fit(row.name), ident=style.fit(row.ident), note=style.fit(row.note))
            for row in _rows(root, bar_width, style.tree)]
    labels = [row.prefix + row.name + (" " + row.ident if row.ident else "") for row in rows]
    label_width = max(len(label) for label in labels)
    state_width = max(len(row.state) for row in rows)
    duration_width = max(len(row.duration) for row in rows)
    offset_width = max(len(row.offset) for row in rows)
    lines = [_header(root, style)]
    for row, plain_label in zip(rows, labels):
        label = row.prefix + row.name + (" " + style.paint(row.ident, _DIM) if row.ident else "")
        color = _COLORS.get(row.state, "") if row.complete else _INCOMPLETE_COLOR
        cells = [
            label + " " * (label_width - len(plain_label)),
            style.paint(row.state, color) + " " * (state_width - len(row.state)),
            row.duration.rjust(duration_width),
            style.paint(row.offset.rjust(offset_width), _DIM),
        ]
        if row.bar:
            cells.append(row.bar)
        if row.note:
            cells.append(style.paint(row.note, color) if row.state in ("FAILURE", "RETRY") else row.note)
        lines.append("  ".join(cells).rstrip())
    out.write("\n".join(lines) + "\n")


def _header(root: Node, style: Style) -> str:
    first_seen: Dict[str, float] = {}
    for node in walk([root]):
        for event in node.events:
            if event.trace_id is not None and event.time < first_seen.get(event.trace_id, event.time + 1):
                first_seen[event.trace_id] = event.time
    trace_ids = [_cut(text(trace_id), 64)
                 for trace_id, _ in sorted(first_seen.items(), key=lambda item: (item[1], item[0]))]
    if not trace_ids:
        trace = "no trace id"
    elif len(trace_ids) == 1:
        trace = "trace " + trace_ids[0]
    else:
        # More than one trace id in a tree means the context was lost on the way: list them, earliest first.
        shown = ", ".join(trace_ids[:_MAX_TRACE_IDS])
        if len(trace_ids) > _MAX_TRACE_IDS:
            shown += " and %d more" % (len(trace_ids) - _MAX_TRACE_IDS)
        trace = "%d trace ids: %s" % (len(trace_ids), shown)
    return style.paint(style.fit("%s  %s" % (format_time(root.sub_start), trace)), _BOLD)


class _Row(NamedTuple):
    prefix: str
    name: str
    ident: str
    state: str
    complete: bool
    duration: str
    offset: str
    bar: str
    note: str


def _rows(root: Node, bar_width: int, tree: tuple) -> List[_Row]:
    origin = root.sub_start
    span = root.sub_end - origin
    branch, last_branch, pipe, blank = tree
    rows = []
    stack: List[Tuple[Union[Node, Attempt], str, str, int]] = [(root, "", "", 0)]
    while stack:
        item, prefix, child_prefix, depth = stack.pop()
        if depth > _MAX_INDENT:
            prefix = "%s[depth %d] " % (prefix, depth)
        if isinstance(item, Attempt):
            runtime = item.runtime()
            runs = [(item.started, item.end)] if item.started is not None else []
            rows.append(_Row(prefix, "attempt %d" % (item.key + 1), "", item.state, item.terminal is not None,
                             _duration(runtime) if runtime is not None else "-",
                             "+" + _duration(item.start - origin),
                             _bar(item.start, item.end, runs, origin, span, bar_width), _cut(item.note, _MAX_NOTE)))
            continue
        node = item
        note = node.note
        if node.parent_missing is not None:
            note = "; ".join(filter(None, [note, "parent %s not in log" % _short(node.parent_missing)]))
        name = _cut(node.name, _MAX_NAME)
        rows.append(_Row(prefix, ("flow " if node.kind == KIND_FLOW else "") + name, "[%s]" % _short(node.id),
                         node.state, node.complete,
                         ("" if node.complete else ">") + _duration(node.end - node.start),
                         "+" + _duration(node.start - origin),
                         _bar(node.start, node.end, node.runs, origin, span, bar_width), _cut(note, _MAX_NOTE)))
        below = (node.attempts if len(node.attempts) > 1 else []) + node.children
        if depth >= _MAX_INDENT:  # a long chain would otherwise push every column off the screen
            for child in reversed(below):
                stack.append((child, child_prefix, child_prefix, depth + 1))
            continue
        for index in range(len(below) - 1, -1, -1):
            last = index == len(below) - 1
            stack.append((below[index], child_prefix + (last_branch if last else branch),
                          child_prefix + (blank if last else pipe), depth + 1))
    return rows


def _duration(micros: int) -> str:
    sign = "-" if micros < 0 else ""
    millis = (abs(micros) + 500) // 1000
    seconds, millis = divmod(millis, 1000)
    if seconds < 60:
        return "%s%d.%03ds" % (sign, seconds, millis)
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return "%s%dm%02d.%03ds" % (sign, minutes, seconds, millis)
    hours, minutes = divmod(minutes, 60)
    return "%s%dh%02dm%02d.%03ds" % (sign, hours, minutes, seconds, millis)


def _short(node_id: str) -> str:
    return text(node_id if len(node_id) <= 12 else node_id[:8], "?")


def _cut(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[:limit - 3] + "..."


def _bar(start: int, end: int, runs: list, origin: int, span: int, width: int) -> str:
    if width <= 0:
        return ""
    if span <= 0:
        first, last = 0, width
    else:
        first = min((start - origin) * width // span, width - 1)
        last = max(-(-(end - origin) * width // span), first + 1)
    cells = []
    for cell in range(width):
        if cell < first or cell >= last:
            cells.append(" ")
            continue
        if span <= 0:
            running = bool(runs)
        else:
            # Cell ``cell`` covers origin + [cell, cell + 1] * span / width; compare scaled by width, ends included
            # so that an instant (a start with nothing after it yet) still shows.
            low, high = origin * width + cell * span, origin * width + (cell + 1) * span
            running = any(run_start * width <= high and run_end * width >= low for run_start, run_end in runs)
        cells.append("=" if running else ".")
    return "[%s]" % "".join(cells)
