"""Tests for ``flowtrace check`` and ``flowtrace plot`` (flowtrace/flow/_cli.py)."""

import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

from flowtrace import cli

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parent / "data"

BROKEN = """\
tasks:
  - name: fetch
    import: tests.flow.sample
    classname: FetchOrder
    max_retyr: 3
flows: [main]
flow-definitions:
  - name: main
    edges:
      - from: fetch
        to: fetch
"""

WARNED = """\
tasks:
  - {name: fetch, import: tests.flow.sample, classname: FetchOrder}
  - {name: spare, import: tests.flow.sample, classname: Refund}
flows: [main]
flow-definitions: [{name: main, edges: [{from: , to: spare, to: fetch}]}]
"""


def run(*args):
    """Run the command as a user would, from the repository root; return (exit code, stdout, stderr)."""
    process = subprocess.run([sys.executable, "-m", "flowtrace", *args], cwd=ROOT, capture_output=True, text=True,
                             timeout=120)
    return process.returncode, process.stdout, process.stderr


class TestCheck:
    def test_valid(self, capsys):
        """Valid files print one ok line with the counts and exit 0."""
        assert 0 == cli.main(["check", str(DATA)])
        assert ("ok: 7 tasks, 2 flows, 1 storage in 3 files\n", "") == capsys.readouterr()

    def test_problems(self, tmp_path, capsys):
        """Every problem is one file:line: message line on stdout, then a count; the exit code is 1."""
        path = tmp_path / "broken.yml"
        path.write_text(BROKEN)
        assert 1 == cli.main(["check", str(path)])
        assert ("%(p)s:5: task 'fetch': unknown key 'max_retyr'; did you mean 'max_retry'?\n"
                "%(p)s:8: flow 'main': no starting edge: one edge must have an empty 'from' (from:)\n"
                "flowtrace check: 2 errors, 0 warnings in 1 file\n" % {"p": path}, "") == capsys.readouterr()

    def test_warnings(self, tmp_path, capsys):
        """Warnings print as file:line: warning: message, in line order with the errors; alone they exit 0."""
        path = tmp_path / "warned.yml"
        path.write_text(WARNED)
        assert 0 == cli.main(["check", str(path)])
        assert ("%(p)s:3: warning: task 'spare' is not used by any flow\n"
                "%(p)s:5: warning: the key 'to' is written twice in one mapping (first at line 5); the last value "
                "is used\n"
                "ok: 2 tasks, 1 flow, 0 storages in 1 file (2 warnings)\n" % {"p": path}, "") == capsys.readouterr()

    def test_strict(self, tmp_path, capsys):
        """--strict makes warnings errors: printed as errors, counted as errors, exit code 1."""
        path = tmp_path / "warned.yml"
        path.write_text(WARNED)
        assert 1 == cli.main(["check", "--strict", str(path)])
        assert ("%(p)s:3: task 'spare' is not used by any flow\n"
                "%(p)s:5: the key 'to' is written twice in one mapping (first at line 5); the last value is used\n"
                "flowtrace check: 2 errors, 0 warnings in 1 file\n" % {"p": path}, "") == capsys.readouterr()

    def test_errors_and_warnings(self, tmp_path, capsys):
        """The summary counts errors, warnings and the files read."""
        broken, warned = tmp_path / "broken.yml", tmp_path / "warned.yml"
        broken.write_text("tasks: [\n")
        warned.write_text(WARNED)
        assert 1 == cli.main(["check", str(broken), str(warned)])
        assert "flowtrace check: 1 error, 2 warnings in 2 files\n" == capsys.readouterr().out.splitlines(True)[-1]

    def test_syntax_error_subprocess(self, tmp_path):
        """Malformed YAML exits non-zero with file:line: what is wrong, and no traceback, from a real process."""
        path = tmp_path / "bad.yml"
        path.write_text("tasks:\n  - name: a\n    import: [x\n")
        assert (1, "%s:4: invalid YAML: expected ',' or ']', but got '<stream end>' (while parsing a flow sequence "
                   "at line 3)\nflowtrace check: 1 error, 0 warnings in 1 file\n" % path, "") == run("check", str(path))

    def test_python_tag_subprocess(self, tmp_path):
        """A !!python/object tag is refused with file:line, from a real process, and nothing runs."""
        marker = tmp_path / "ran"
        path = tmp_path / "evil.yml"
        path.write_text("tasks:\n  - !!python/object/apply:os.system [\"touch %s\"]\n" % marker)
        code, out, err = run("check", str(path))
        assert (1, "%s:2: the tag !!python/object/apply:os.system is not allowed: flow configuration is plain YAML "
                   "(mappings, lists, strings, numbers, booleans, null)\n"
                   "flowtrace check: 1 error, 0 warnings in 1 file\n" % path,
                "", False) == (code, out, err, marker.exists())

    def test_modules_from_the_current_directory(self, tmp_path):
        """Modules named in the YAML are imported from the current directory, as a worker started there would."""
        (tmp_path / "myapp.py").write_text("class Hello:\n    def __init__(self, *args):\n        pass\n\n"
                                           "    def run(self, node_args):\n        pass\n")
        (tmp_path / "flows.yml").write_text(textwrap.dedent("""\
            tasks: [{name: hello, import: myapp, classname: Hello}]
            flows: [main]
            flow-definitions: [{name: main, edges: [{from: , to: hello}]}]
        """))
        process = subprocess.run([os.path.join(os.path.dirname(sys.executable), "flowtrace"), "check", "flows.yml"],
                                 cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert (0, "ok: 1 task, 1 flow, 0 storages in 1 file\n", "") == (process.returncode, process.stdout,
                                                                         process.stderr)

    def test_no_path(self, capsys):
        """A path is required: a usage error, exit code 2."""
        assert 2 == cli.main(["check"])
        assert "the following arguments are required: PATH" in capsys.readouterr().err


class TestPlot:
    def test_writes_graphs(self, tmp_path, capsys, monkeypatch):
        """plot checks the files, then prints each file written; without dot it says so on stderr."""
        monkeypatch.setenv("PATH", str(tmp_path))  # no dot here
        out = tmp_path / "graphs"
        assert 0 == cli.main(["plot", str(DATA), "-o", str(out)])
        assert ("%s\n%s\n" % (out / "order_flow.dot", out / "shipping_flow.dot"),
                "flowtrace plot: Graphviz's dot is not installed, so only DOT files were written; install Graphviz "
                "for SVG\n") == capsys.readouterr()

    def test_svg_with_dot(self, tmp_path, capsys, monkeypatch):
        """With dot on PATH, the SVG files are written too; --no-svg writes DOT only and says nothing."""
        dot = tmp_path / "bin" / "dot"
        dot.parent.mkdir()
        dot.write_text('#!/bin/sh\necho "<svg/>" > "$3"\n')
        dot.chmod(dot.stat().st_mode | stat.S_IEXEC)
        monkeypatch.setenv("PATH", str(dot.parent))
        out = tmp_path / "graphs"
        assert 0 == cli.main(["plot", str(DATA), "-o", str(out)])
        assert ("%s\n%s\n%s\n%s\n" % (out / "order_flow.dot", out / "order_flow.svg", out / "shipping_flow.dot",
                                      out / "shipping_flow.svg"), "") == capsys.readouterr()
        assert 0 == cli.main(["plot", str(DATA), "-o", str(tmp_path / "dot-only"), "--no-svg"])
        assert ("%s\n%s\n" % (tmp_path / "dot-only" / "order_flow.dot", tmp_path / "dot-only" / "shipping_flow.dot"),
                "") == capsys.readouterr()

    def test_problems(self, tmp_path, capsys):
        """Invalid files are reported as by check, and nothing is drawn."""
        path = tmp_path / "broken.yml"
        path.write_text(BROKEN)
        assert 1 == cli.main(["plot", str(path), "-o", str(tmp_path / "graphs")])
        assert ("flowtrace plot: 2 errors, 0 warnings in 1 file\n", False) == (capsys.readouterr().out.splitlines(True)[-1],
                                                                    (tmp_path / "graphs").exists())

    def test_dot_fails(self, tmp_path, capsys, monkeypatch):
        """A failing dot is one error line on stderr and exit code 1."""
        dot = tmp_path / "bin" / "dot"
        dot.parent.mkdir()
        dot.write_text('#!/bin/sh\necho "Error: something broke" >&2\nexit 3\n')
        dot.chmod(dot.stat().st_mode | stat.S_IEXEC)
        monkeypatch.setenv("PATH", str(dot.parent))
        assert 1 == cli.main(["plot", str(DATA), "-o", str(tmp_path / "graphs")])
        assert ("", "flowtrace plot: error: dot failed on %s: Error: something broke\n"
                % (tmp_path / "graphs" / "order_flow.dot")) == capsys.readouterr()
