"""Drawing flows as Graphviz DOT, and as SVG when Graphviz's ``dot`` is installed.

Each flow becomes one directed graph:

- tasks are boxes, sub-flows are bold boxes marked ``flow``, storages are
  cylinders joined to the tasks that use them by a dotted line;
- every edge of the flow is a small junction: arrows come in from its ``from``
  nodes (or from the black start dot) and go out to its ``to`` nodes. An edge
  with a condition or a ``foreach`` shows them in a note-shaped box instead of
  a dot;
- each ``failures`` entry is a red dashed junction from the failed nodes to
  the fallback nodes (or to ``true``);
- ``nowait`` nodes are drawn dashed.

The DOT text depends on the configuration alone, so it can be committed and
compared.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import List, Optional

from flowtrace.flow.conditions import describe
from flowtrace.flow.model import ALWAYS_TRUE, Flow, FlowConfig

__all__ = ["to_dot", "write", "find_dot"]


def _quote(text: str) -> str:
    return '"%s"' % text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _attrs(**attrs) -> str:
    return "[%s]" % ", ".join("%s=%s" % (key, _quote(str(value))) for key, value in attrs.items())


def to_dot(config: FlowConfig, flow: Flow) -> str:
    """Return the DOT text of one flow.

    Args:
        config: the configuration the flow is part of.
        flow: the flow to draw.

    Returns:
        The text of one Graphviz ``digraph``.

    .. versionadded:: 0.1.0
    """
    lines = [
        "digraph %s {" % _quote(flow.name),
        "  graph %s;" % _attrs(label="flow " + flow.name, labelloc="t", fontname="Helvetica", rankdir="TB"),
        "  node %s;" % _attrs(shape="box", style="rounded", fontname="Helvetica", fontsize="11"),
        "  edge %s;" % _attrs(fontname="Helvetica", fontsize="9"),
    ]
    nowait = set(flow.nowait)
    storages = []
    for name in flow.node_names():
        style = "rounded,dashed" if name in nowait else "rounded"
        if config.is_flow(name):
            lines.append("  %s %s;" % (_quote("node:" + name), _attrs(label="flow\n" + name, style=style + ",bold")))
            continue
        lines.append("  %s %s;" % (_quote("node:" + name), _attrs(label=name, style=style)))
        task = config.tasks.get(name)
        if task is not None and task.storage:
            storages.append((name, task.storage))
    for storage in sorted({storage for _, storage in storages}):
        lines.append("  %s %s;" % (_quote("storage:" + storage), _attrs(label=storage, shape="cylinder", style="")))
    for name, storage in storages:
        lines.append("  %s -> %s %s;" % (_quote("node:" + name), _quote("storage:" + storage),
                                         _attrs(style="dotted", arrowhead="none")))
    if flow.starting_edges:
        lines.append("  start %s;" % _attrs(label="", shape="circle", style="filled", fillcolor="black",
                                            width="0.15", fixedsize="true"))
    for index, edge in enumerate(flow.edges):
        junction = _quote("edge:%d" % index)
        text = [] if edge.condition == ALWAYS_TRUE else [describe(edge.condition)]
        if edge.foreach is not None:
            text.append("foreach %s.%s%s" % (edge.foreach.import_path, edge.foreach.function,
                                             " (propagate_result)" if edge.foreach.propagate_result else ""))
        if text:
            lines.append("  %s %s;" % (junction, _attrs(label="\n".join(text), shape="note", style="", fontsize="9")))
        else:
            lines.append("  %s %s;" % (junction, _attrs(label="", shape="point", style="")))
        sources = ["node:" + name for name in edge.nodes_from] or ["start"]
        for source in sources:
            lines.append("  %s -> %s %s;" % (_quote(source) if source != "start" else "start", junction,
                                             _attrs(arrowhead="none")))
        for name in edge.nodes_to:
            lines.append("  %s -> %s;" % (junction, _quote("node:" + name)))
    for index, failure in enumerate(flow.failures):
        junction = _quote("failure:%d" % index)
        label = "on failure" + ("\n(propagate_failure)" if failure.propagate_failure else "")
        lines.append("  %s %s;" % (junction, _attrs(label=label, shape="box", style="dashed", color="red",
                                                    fontcolor="red", fontsize="9")))
        for name in failure.nodes:
            lines.append("  %s -> %s %s;" % (_quote("node:" + name), junction,
                                             _attrs(style="dashed", color="red", arrowhead="none")))
        if failure.fallback is True:
            target = _quote("failure:%d:true" % index)
            lines.append("  %s %s;" % (target, _attrs(label="true", shape="plaintext", style="", fontcolor="red")))
            lines.append("  %s -> %s %s;" % (junction, target, _attrs(style="dashed", color="red")))
        else:
            for name in failure.fallback:
                lines.append("  %s -> %s %s;" % (junction, _quote("node:" + name), _attrs(style="dashed", color="red")))
    lines.append("}")
    return "\n".join(lines) + "\n"


def find_dot() -> Optional[str]:
    """Return the path of Graphviz's ``dot`` command, or None when it is not installed.

    .. versionadded:: 0.1.0
    """
    return shutil.which("dot")


def write(config: FlowConfig, folder: str, dot: Optional[str] = None) -> List[str]:
    """Write ``FLOW.dot`` for every flow into ``folder``, and ``FLOW.svg`` when ``dot`` is given.

    Args:
        config: the loaded configuration.
        folder: the output folder, created if needed.
        dot: the path of Graphviz's ``dot`` command (see :func:`find_dot`),
            or None to write DOT files only.

    Returns:
        The paths written, in flow order.

    Raises:
        OSError: if a file cannot be written or ``dot`` cannot be run.
        subprocess.CalledProcessError: if ``dot`` fails; its ``stderr`` says why.

    .. versionadded:: 0.1.0
    """
    os.makedirs(folder, exist_ok=True)
    written = []
    for flow in config:
        base = os.path.join(folder, flow.name)
        with open(base + ".dot", "w", encoding="utf-8") as stream:
            stream.write(to_dot(config, flow))
        written.append(base + ".dot")
        if dot is not None:
            subprocess.run([dot, "-Tsvg", "-o", base + ".svg", base + ".dot"], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120)
            written.append(base + ".svg")
    return written
