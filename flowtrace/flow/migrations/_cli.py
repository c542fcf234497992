"""``flowtrace migrate``: the two functions of the command, for :data:`flowtrace.cli.COMMANDS`."""

from __future__ import annotations

import argparse
import sys

from flowtrace.flow.migrations import _files


def migrate_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the arguments of ``flowtrace migrate``."""
    paths = "a flow YAML file, or a folder: its .yml and .yaml files and those of its sub-folders"
    parser.add_argument("--old", nargs="+", metavar="PATH", required=True,
                        help="the configuration the queued dispatcher messages were sent under: " + paths)
    parser.add_argument("--new", nargs="+", metavar="PATH", required=True,
                        help="the configuration the workers will run: " + paths)
    parser.add_argument("-o", "--output", metavar="DIR",
                        help="the migration folder to write N.json into (created if needed); "
                             "default: the new configuration's global: migration_dir")
    parser.add_argument("-t", "--tainted-flows", choices=_files.STRATEGIES, default=_files.DEFAULT_STRATEGY,
                        help="what a worker does with a flow the change taints (default: %(default)s)")
    parser.add_argument("--no-meta", action="store_true",
                        help="leave out _meta (time, host, user, flowtrace version) for a reproducible file")


def migrate(args: argparse.Namespace) -> int:
    """Run ``flowtrace migrate``: write the next migration file and print its path."""
    from flowtrace.errors import CliError, MigrationError, MigrationNotNeeded
    from flowtrace.flow.migrations import create_migration

    try:
        path = create_migration(args.old, args.new, args.output, args.tainted_flows, meta=not args.no_meta)
    except (MigrationError, MigrationNotNeeded, ValueError) as exc:
        raise CliError(str(exc)) from None
    sys.stdout.write(path + "\n")
    return 0
