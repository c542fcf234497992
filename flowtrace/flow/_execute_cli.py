"""``flowtrace execute``: the two functions of the command, for :data:`flowtrace.cli.COMMANDS`."""

from __future__ import annotations

import argparse
import json
import os
import sys

HELP = ("run a flow in this process, without a broker, and draw its trace (for development: "
        "no proof of how it runs across processes)")

_EPILOG = """\
An engine for development and tests: the flow's real dispatcher and tasks run
here, with the events real workers emit, but no message leaves the process, so
nothing that needs a broker or several processes is exercised.
"""


def arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the arguments of ``flowtrace execute``."""
    parser.epilog = _EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("paths", nargs="*", metavar="PATH",
                        help="a flow YAML file or folder, as for flowtrace check")
    parser.add_argument("-n", "--nodes-definition", metavar="NODES.yml",
                        help="Selinon's nodes file (tasks, storages, flows)")
    parser.add_argument("-f", "--flow-definitions", metavar="FLOW.yml", action="append", default=[],
                        help="a flow definition file or folder; may be given more than once")
    parser.add_argument("--flow-name", required=True, metavar="FLOW", help="the flow to run")
    parser.add_argument("-a", "--node-args", metavar="JSON", help="the flow's arguments, as JSON")
    parser.add_argument("--node-args-file", metavar="FILE", help="a file holding the flow's arguments, as JSON")
    parser.add_argument("-c", "--concurrency", type=int, default=1, metavar="N",
                        help="how many messages run at the same time, in threads (default: 1)")
    parser.add_argument("-s", "--sleep-time", type=float, default=0.5, metavar="SECONDS",
                        help="the longest wait before looking at the queue again when the next message "
                             "is due later (default: 0.5)")
    parser.add_argument("--keep-going", action="store_true",
                        help="once the flow has its outcome, run what is still queued too (nowait nodes, "
                             "nodes a failure left running)")
    parser.add_argument("--selective-task-names", metavar="TASK1,TASK2",
                        help="run only the path to these tasks (a selective run)")
    parser.add_argument("--follow-subflows", "--selective-follow-subflows", action="store_true",
                        dest="follow_subflows", help="in a selective run, look for the tasks in sub-flows too")
    parser.add_argument("--run-subsequent", "--selective-run-subsequent", action="store_true",
                        dest="run_subsequent", help="in a selective run, run what follows the tasks too")
    parser.add_argument("--json", metavar="PATH", dest="json_path",
                        help="write the events as JSON lines to PATH ('-' for standard output)")
    parser.add_argument("--no-view", action="store_true", help="do not draw the trace tree at the end")


def _node_args(args):
    from flowtrace.errors import CliError

    if args.node_args is not None and args.node_args_file is not None:
        raise CliError("give the flow's arguments with --node-args or --node-args-file, not both")
    text, where = args.node_args, "--node-args"
    if args.node_args_file is not None:
        where = args.node_args_file
        try:
            with open(args.node_args_file, encoding="utf-8") as stream:
                text = stream.read()
        except OSError as exc:
            raise CliError("cannot read %s: %s" % (args.node_args_file, exc.strerror or exc))
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise CliError("%s is not JSON: %s" % (where, exc))


def _selective(args):
    from flowtrace.errors import CliError
    from flowtrace.flow.execute import Selective

    if not args.selective_task_names:
        for flag, given in (("--follow-subflows", args.follow_subflows), ("--run-subsequent", args.run_subsequent)):
            if given:
                raise CliError("%s needs --selective-task-names" % flag)
        return None
    names = tuple(name.strip() for name in args.selective_task_names.split(",") if name.strip())
    if not names:
        raise CliError("--selective-task-names names no task")
    return Selective(names, args.follow_subflows, args.run_subsequent)


def run(args: argparse.Namespace) -> int:
    """Run ``flowtrace execute``: 0 when the flow ended, 1 when it failed or could not run."""
    from flowtrace.errors import CliError
    from flowtrace.flow.load.check import check_paths

    paths = ([args.nodes_definition] if args.nodes_definition else []) + list(args.flow_definitions) + args.paths
    if not paths:
        raise CliError("name the flow YAML: PATH..., or --nodes-definition and --flow-definitions", exit_code=2)
    if args.concurrency < 1:
        raise CliError("--concurrency must be 1 or more, got %d" % args.concurrency, exit_code=2)
    if not args.sleep_time > 0:
        raise CliError("--sleep-time must be above 0, got %s" % args.sleep_time, exit_code=2)
    node_args = _node_args(args)
    selective = _selective(args)
    # The modules named in the YAML are imported as flowtrace check imports them: from here first.
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    result = check_paths(*paths)
    if result.problems or result.config is None:
        for problem in result.problems:
            sys.stdout.write("%s:%d: %s\n" % (problem.path, problem.line, problem.message))
        raise CliError("the flow YAML has %d error%s" % (len(result.problems), "" if len(result.problems) == 1 else "s"))
    config = result.config
    if args.flow_name not in config.flows:
        raise CliError("there is no flow %r; the flows are %s" % (args.flow_name, ", ".join(config.flows) or "none"))
    return _execute(args, config, node_args, selective)


def _execute(args, config, node_args, selective) -> int:
    from flowtrace.errors import CliError
    from flowtrace.flow.execute import ENDED, execute
    from flowtrace.view import render

    from flowtrace.trace import Trace

    sink = None
    if args.json_path and args.json_path != "-":
        try:  # live, so that a run that hangs can be followed with flowtrace view --follow
            sink = Trace.trace_by_json(args.json_path)
        except (OSError, ValueError) as exc:
            raise CliError("cannot write %s: %s" % (args.json_path, exc))
    try:
        execution = execute(config, args.flow_name, node_args, concurrency=args.concurrency,
                            sleep_time=args.sleep_time, keep_going=args.keep_going, selective=selective,
                            configure_trace=True)
    except NotImplementedError as exc:
        raise CliError(str(exc))
    finally:
        if sink is not None:
            Trace.remove_sink(sink)
    if args.json_path == "-":
        sys.stdout.write("".join(line + "\n" for line in execution.lines))
    out = sys.stdout
    if not args.no_view:
        render(execution.lines, out=out)
    out.write("flow %s %s (dispatcher %s)\n" % (execution.flow_name, execution.outcome, execution.dispatcher_id))
    if execution.left:
        sys.stderr.write("flowtrace execute: %d message%s left unrun once the flow had its outcome "
                         "(--keep-going runs them): %s\n"
                         % (len(execution.left), "" if len(execution.left) == 1 else "s",
                            ", ".join(name for name, _ in execution.left)))
    return 0 if execution.outcome == ENDED else 1

