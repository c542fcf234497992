"""Tests for flowtrace/flow/plot.py: flows as Graphviz DOT and SVG."""

import dataclasses
import os
import shutil
import stat
import subprocess
import textwrap
from pathlib import Path

import pytest

import flowtrace
from flowtrace.flow import plot
from flowtrace.flow.model import FrozenMap

SMALL = """\
storages: [{name: db, import: tests.flow.sample, classname: MemoryStorage}]
tasks:
  - {name: fetch, import: tests.flow.sample, classname: FetchOrder, storage: db}
  - {name: mail, import: tests.flow.sample, classname: SendEmail}
  - {name: undo, import: tests.flow.sample, classname: Refund}
flows: [main, sub]
flow-definitions:
  - name: main
    edges:
      - {from: , to: fetch}
      - from: fetch
        to: [mail, sub]
        condition: {name: fieldEqual, args: {key: say, value: "a \\"quote\\""}}
    failures:
      - {nodes: fetch, fallback: undo, propagate_failure: true}
      - {nodes: sub, fallback: true}
    nowait: mail
  - {name: sub, edges: [{from: , to: mail, foreach: {import: tests.flow.sample, function: each_parcel}}]}
"""

MAIN_DOT = r'''digraph "main" {
  graph [label="flow main", labelloc="t", fontname="Helvetica", rankdir="TB"];
  node [shape="box", style="rounded", fontname="Helvetica", fontsize="11"];
  edge [fontname="Helvetica", fontsize="9"];
  "node:fetch" [label="fetch", style="rounded"];
  "node:mail" [label="mail", style="rounded,dashed"];
  "node:sub" [label="flow\nsub", style="rounded,bold"];
  "node:undo" [label="undo", style="rounded"];
  "storage:db" [label="db", shape="cylinder", style=""];
  "node:fetch" -> "storage:db" [style="dotted", arrowhead="none"];
  start [label="", shape="circle", style="filled", fillcolor="black", width="0.15", fixedsize="true"];
  "edge:0" [label="", shape="point", style=""];
  start -> "edge:0" [arrowhead="none"];
  "edge:0" -> "node:fetch";
  "edge:1" [label="fieldEqual(fetch, key='say', value='a \"quote\"')", shape="note", style="", fontsize="9"];
  "node:fetch" -> "edge:1" [arrowhead="none"];
  "edge:1" -> "node:mail";
  "edge:1" -> "node:sub";
  "failure:0" [label="on failure\n(propagate_failure)", shape="box", style="dashed", color="red", fontcolor="red", fontsize="9"];
  "node:fetch" -> "failure:0" [style="dashed", color="red", arrowhead="none"];
  "failure:0" -> "node:undo" [style="dashed", color="red"];
  "failure:1" [label="on failure", shape="box", style="dashed", color="red", fontcolor="red", fontsize="9"];
  "node:sub" -> "failure:1" [style="dashed", color="red", arrowhead="none"];
  "failure:1:true" [label="true", shape="plaintext", style="", fontcolor="red"];
  "failure:1" -> "failure:1:true" [style="dashed", color="red"];
}
'''


@pytest.fixture
def small(tmp_path):
    path = tmp_path / "small.yml"
    path.write_text(SMALL)
    return flowtrace.load_flows(str(path))


def fake_dot(tmp_path):
    """A stand-in for Graphviz's dot that records its arguments and writes the output file."""
    script = tmp_path / "bin" / "dot"
    script.parent.mkdir()
    script.write_text(textwrap.dedent("""\
        #!/bin/sh
        echo "$@" >> "$(dirname "$0")/calls"
        if [ "$(basename "$4")" = "fail.dot" ]; then echo "Error: syntax error in line 1" >&2; exit 1; fi
        echo "<svg/>" > "$3"
    """))
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


class TestToDot:
    def test_flow(self, small):
        """A flow's DOT shows its nodes, storages, edges with conditions, failures and nowait nodes."""
        assert MAIN_DOT == plot.to_dot(small, small.flows["main"])

    def test_foreach(self, small):
        """A foreach edge is labelled with its function."""
        assert '  "edge:0" [label="foreach tests.flow.sample.each_parcel", shape="note", style="", fontsize="9"];' \
            in plot.to_dot(small, small.flows["sub"]).splitlines()


class TestWrite:
    def test_dot_only(self, small, tmp_path):
        """Without dot, one .dot file per flow is written, in flow order."""
        out = tmp_path / "out" / "graphs"
        assert [str(out / "main.dot"), str(out / "sub.dot")] == plot.write(small, str(out))
        assert MAIN_DOT == (out / "main.dot").read_text()

    def test_with_dot(self, small, tmp_path):
        """With dot, each .dot file is rendered to .svg by running dot -Tsvg."""
        dot = fake_dot(tmp_path)
        out = tmp_path / "out"
        assert [str(out / "main.dot"), str(out / "main.svg"), str(out / "sub.dot"), str(out / "sub.svg")] \
            == plot.write(small, str(out), dot=dot)
        calls = ["-Tsvg -o %s %s" % (out / svg, out / svg.replace(".svg", ".dot")) for svg in ("main.svg", "sub.svg")]
        assert calls == (tmp_path / "bin" / "calls").read_text().splitlines()
        assert (MAIN_DOT, "<svg/>\n") == ((out / "main.dot").read_text(), (out / "main.svg").read_text())

    @pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
    def test_real_dot(self, small, tmp_path):
        """Graphviz accepts the DOT text and draws an SVG."""
        plot.write(small, str(tmp_path), dot=shutil.which("dot"))
        assert "<svg" in (tmp_path / "main.svg").read_text()

    def test_find_dot(self, tmp_path, monkeypatch):
        """find_dot() looks dot up on PATH."""
        dot = fake_dot(tmp_path)
        monkeypatch.setenv("PATH", str(Path(dot).parent))
        assert dot == plot.find_dot()
        monkeypatch.setenv("PATH", str(tmp_path))
        assert None is plot.find_dot()

    def test_dot_fails(self, small, tmp_path):
        """A failing dot raises CalledProcessError with its error output."""
        dot = fake_dot(tmp_path)
        failing = dataclasses.replace(small.flows["main"], name="fail")
        flows = dataclasses.replace(small, flows=FrozenMap(fail=failing))
        with pytest.raises(subprocess.CalledProcessError) as info:
            plot.write(flows, str(tmp_path / "out"), dot=dot)
        assert b"Error: syntax error in line 1\n" == info.value.stderr
        assert os.path.exists(tmp_path / "out" / "fail.dot")
