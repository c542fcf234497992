"""Tests for flowtrace/view/_render.py: render, the whole log drawn and what was read."""

import pytest

from flowtrace import view
from tests.view.logs import draw


class TestRender:
    def test_empty_input_draws_nothing(self):
        """No lines at all give no output and zero counts."""
        assert ("", view.ViewStats(0, 0, 0, None, 0, 0, 0, 0)) == draw([])

    def test_now_must_be_a_time(self):
        """A now that is not a time is a ValueError naming it."""
        with pytest.raises(ValueError, match="'soon'"):
            draw([], now="soon")
