"""Tests that the documentation in docs/ keeps up with the code.

The Sphinx build itself (warnings as errors) runs in ``make docs``, which
``make test`` and CI call; these tests catch drift that a build cannot see.
"""

import re
from pathlib import Path

import flowtrace
from flowtrace import cli

DOCS = Path(__file__).resolve().parent.parent / "docs"


class TestEventsPage:
    """docs/events.rst, generated from the catalogue."""

    def test_matches_the_catalogue(self, capsys):
        """The committed page is exactly what ``flowtrace events --rst`` prints now."""
        assert 0 == cli.main(["events", "--rst"])
        generated = capsys.readouterr().out
        committed = (DOCS / "events.rst").read_text(encoding="utf-8")
        assert generated == committed, (
            "docs/events.rst is out of date with flowtrace/events.py; regenerate it with\n"
            "    python -m flowtrace events --rst > docs/events.rst\n"
            "and commit the result."
        )


class TestApiPage:
    """docs/api.rst, the API reference."""

    def test_documents_every_public_name(self):
        """Every name in ``flowtrace.__all__`` has a directive of its own in docs/api.rst."""
        text = (DOCS / "api.rst").read_text(encoding="utf-8")
        documented = set(re.findall(r"^\.\. (?:auto\w+|py:\w+):: flowtrace\.(\w+)\s*$", text, re.MULTILINE))
        missing = [name for name in flowtrace.__all__ if name not in documented]
        assert [] == missing, (
            "docs/api.rst does not document %s; add an autodoc directive (e.g. '.. autofunction:: flowtrace.NAME')"
            % ", ".join(missing)
        )


class TestCommandLinePage:
    """docs/cli.rst, the ``flowtrace`` command."""

    def test_documents_every_subcommand(self):
        """Every subcommand in ``cli.COMMANDS`` has a section titled ``flowtrace NAME`` in docs/cli.rst."""
        text = (DOCS / "cli.rst").read_text(encoding="utf-8")
        sections = set(re.findall(r"^``flowtrace (\w+)``\n-+$", text, re.MULTILINE))
        missing = [command.name for command in cli.COMMANDS if command.name not in sections]
        assert [] == missing, (
            "docs/cli.rst has no section for %s; add one titled ``flowtrace NAME`` describing its options"
            % ", ".join(missing)
        )
