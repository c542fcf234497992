"""``flowtrace check`` and ``flowtrace plot``: the two functions of each, for :data:`flowtrace.cli.COMMANDS`.

Both print the problems of the configuration on standard output, one
``file:line: message`` per line and then a count, and exit with 1; standard
error is left for failures of the command itself, as for every command.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys


def _paths_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH",
                        help="a flow YAML file, or a folder: its .yml and .yaml files and those of its sub-folders")


def _strict_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--strict", action="store_true",
                        help="make warnings errors: what Selinon accepts but warns of, such as a task no flow uses")


def _check_paths(args):
    from flowtrace.flow.load.check import check_paths

    # The modules named in the YAML are imported as a worker started here
    # would import them: from the current directory first.
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    return check_paths(*args.paths, strict=args.strict)


def _plural(count: int, word: str) -> str:
    if count == 1:
        return "1 " + word
    return "%d %s" % (count, word + ("es" if word.endswith("s") else "s"))


def _report(command: str, result) -> bool:
    """Print the errors and warnings of ``result``, in file and line order, and their count when there are errors.

    Returns whether there were no errors.
    """
    out = sys.stdout
    order = {path: index for index, path in enumerate(result.files)}
    lines = [(problem, "") for problem in result.problems] + [(problem, "warning: ") for problem in result.warnings]
    lines.sort(key=lambda found: (order.get(found[0].path, -1), found[0].path, found[0].line))
    for problem, label in lines:
        out.write("%s:%d: %s%s\n" % (problem.path, problem.line, label, problem.message))
    if result.problems:
        out.write("flowtrace %s: %s in %s\n" % (command, _counts(result), _plural(len(result.files), "file")))
    return not result.problems


def _counts(result) -> str:
    return "%s, %s" % (_plural(len(result.problems), "error"), _plural(len(result.warnings), "warning"))


def check_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the arguments of ``flowtrace check``."""
    _paths_argument(parser)
    _strict_argument(parser)


def check(args: argparse.Namespace) -> int:
    """Run ``flowtrace check``: 0 when the files are valid, warnings or not; 1 when there is any error."""
    result = _check_paths(args)
    if not _report("check", result):
        return 1
    config = result.config
    sys.stdout.write("ok: %s, %s, %s in %s%s\n" % (
        _plural(len(config.tasks), "task"), _plural(len(config.flows), "flow"),
        _plural(len(config.storages), "storage"), _plural(len(result.files), "file"),
        " (%s)" % _plural(len(result.warnings), "warning") if result.warnings else ""))
    return 0


def plot_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the arguments of ``flowtrace plot``."""
    _paths_argument(parser)
    _strict_argument(parser)
    parser.add_argument("-o", "--output", metavar="DIR", required=True,
                        help="the folder to write FLOW.dot (and FLOW.svg) into; created if needed")
    parser.add_argument("--no-svg", action="store_true",
                        help="write the DOT files only, even when Graphviz's dot is installed")


def plot(args: argparse.Namespace) -> int:
    """Run ``flowtrace plot``: check the files, then write each flow's graph."""
    from flowtrace.errors import CliError
    from flowtrace.flow import plot as plotting

    result = _check_paths(args)
    if not _report("plot", result):
        return 1
    dot = None if args.no_svg else plotting.find_dot()
    try:
        written = plotting.write(result.config, args.output, dot=dot)
    except subprocess.CalledProcessError as exc:
        detail = (exc.stderr or b"").decode("utf-8", "replace").strip().splitlines()
        reason = detail[-1] if detail else "exit code %d" % exc.returncode
        raise CliError("dot failed on %s: %s" % (exc.cmd[-1], reason))
    except (OSError, subprocess.SubprocessError) as exc:
        raise CliError("cannot write the graphs to %s: %s" % (args.output, exc))
    for path in written:
        sys.stdout.write(path + "\n")
    if dot is None and not args.no_svg:
        sys.stderr.write("flowtrace plot: Graphviz's dot is not installed, so only DOT files were written; "
                         "install Graphviz for SVG\n")
    return 0
