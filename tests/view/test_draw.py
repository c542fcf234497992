"""Tests for flowtrace/view/_draw.py: one tree drawn as aligned rows, on a given stream."""

import io

from flowtrace import view
from tests.view.logs import EMAIL, ORDER, OTHER_TRACE, draw, line, order_with_children, task


class TestDraw:
    def test_tree_with_two_trace_ids_lists_both(self):
        """A tree whose events carry different trace ids (lost propagation) names them all, earliest first."""
        lines = task("orders.process", ORDER, 0, 10, 100)
        lines += task("orders.email", EMAIL, 20, 30, 40, parent_id=ORDER, trace_id=OTHER_TRACE)
        text, _ = draw(lines, bar_width=0)
        assert ("2026-11-21T10:05:24.506658Z  2 trace ids: 4bf92f3577b34da6a3ce929d0e0e4736, "
                "0af7651916cd43dd8448eb211c80319c\n") == text.splitlines(True)[0]

    def test_many_trace_ids_are_capped(self):
        """A header lists at most four trace ids and counts the rest."""
        lines = task("orders.process", ORDER, 0, 10, 100)
        for index in range(6):
            lines += [line("TASK_START", 20 + index, task_name="c", task_id="c%d" % index, parent_id=ORDER,
                           trace_id="%032x" % (index + 1))]
        text, _ = draw(lines, bar_width=0)
        assert ("2026-11-21T10:05:24.506658Z  7 trace ids: 4bf92f3577b34da6a3ce929d0e0e4736, "
                "00000000000000000000000000000001, 00000000000000000000000000000002, "
                "00000000000000000000000000000003 and 3 more\n") == text.splitlines(True)[0]

    def test_log_text_cannot_inject_terminal_codes(self):
        """Control characters in names and messages are shown escaped, never sent to the terminal."""
        text, _ = draw(task("evil\x1b[2J\nname", ORDER, 0, 10, 20, terminal="TASK_FAILURE", exc_type="E",
                            exc_message="line1\nline2\u202e"), bar_width=0)
        assert "evil\\x1b[2J\\nname [5e1b3c1a]  FAILURE  0.020s  +0.000s  E: line1\\nline2\\u202e\n" == (
            text.splitlines(True)[1])


class TestStyle:
    def test_color_paints_states_and_ids(self):
        """With color, the state is coloured by outcome and the id and offset are dimmed."""
        text, _ = draw(task("t", ORDER, 0, 10, 20, terminal="TASK_FAILURE", exc_type="E", exc_message="m"),
                       color=True, bar_width=0)
        expected = (
            "\x1b[1m2026-11-21T10:05:24.506658Z  trace 4bf92f3577b34da6a3ce929d0e0e4736\x1b[0m\n"
            "t \x1b[2m[5e1b3c1a]\x1b[0m  \x1b[31mFAILURE\x1b[0m  0.020s  \x1b[2m+0.000s\x1b[0m"
            "  \x1b[31mE: m\x1b[0m\n"
        )
        assert expected == text

    def test_ascii_tree(self):
        """ascii_only draws the branches with ASCII characters."""
        text, _ = draw(order_with_children(), ascii_only=True, bar_width=0)
        assert ["orders.process", "|--", "|", "|", "`--"] == [row.split()[0] for row in text.splitlines()[1:]]

    def test_narrow_encoding_falls_back_to_ascii(self):
        """On a stream that cannot encode box drawing, the tree is ASCII and other characters are escaped."""
        raw = io.BytesIO()
        out = io.TextIOWrapper(raw, encoding="ascii")
        lines = task("envoi.é", ORDER, 0, 10, 100) + task("b", EMAIL, 20, 30, 40, parent_id=ORDER)
        view.render(lines, out=out, bar_width=0)
        out.flush()
        assert (b"2026-11-21T10:05:24.506658Z  trace 4bf92f3577b34da6a3ce929d0e0e4736\n"
                b"envoi.\\xe9 [5e1b3c1a]  SUCCESS  0.100s  +0.000s\n"
                b"`-- b [a7c2d4e6]       SUCCESS  0.020s  +0.020s\n") == raw.getvalue()
