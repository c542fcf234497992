"""Migrations: what lets dispatcher messages queued under one flow YAML run under the next.

A flow's dispatcher carries its state in its own message. When a flow's
edges change while such messages wait in the queue, the state refers to the
old graph. As in Selinon, ``flowtrace migrate`` (:func:`create_migration`)
compares the old and the new configuration and writes the next numbered
migration file (``1.json``, ``2.json``, ...) in Selinon's format into
``global: migration_dir``; each dispatcher message carries the version it
was last run with, and a dispatcher that wakes applies the migrations from
it to the newest (``flowtrace.flow.migrations._dispatch``). A flow in which
the change matters (one that ran an edge now gone, or one in which a new
edge would have fired already) is *tainted*, and the migration's
tainted-flow strategy says what happens to it: ``IGNORE`` (it goes on),
``RETRY`` (it starts over) or ``FAIL`` (it fails).

Inside: ``_diff`` compares configurations, ``_files`` reads and writes the
migration folder, ``_apply`` finds tainted flows, ``_dispatch`` is the
dispatcher's hook and ``_cli`` the command.
"""

from __future__ import annotations

import os
from typing import Optional, Sequence, Union

from flowtrace.errors import MigrationNotNeeded
from flowtrace.flow.migrations import _diff, _files

__all__ = ["create_migration", "latest_version", "TAINTED_FLOW_STRATEGIES", "DEFAULT_TAINTED_FLOW_STRATEGY"]

#: Selinon's tainted-flow strategies, ``IGNORE``, ``RETRY`` and ``FAIL``.
#:
#: .. versionadded:: 0.1.0
TAINTED_FLOW_STRATEGIES = _files.STRATEGIES
#: The strategy of a migration that names none, ``IGNORE`` as in Selinon.
#:
#: .. versionadded:: 0.1.0
DEFAULT_TAINTED_FLOW_STRATEGY = _files.DEFAULT_STRATEGY

_Path = Union[str, "os.PathLike[str]"]


def create_migration(old: Sequence[_Path], new: Sequence[_Path], migration_dir: Optional[_Path] = None,
                     tainted_flow_strategy: str = DEFAULT_TAINTED_FLOW_STRATEGY, meta: bool = True) -> str:
    """Compare two configurations and write the next migration file, in Selinon's format.

    Args:
        old: the files and folders of the configuration the queued messages were sent under.
        new: those of the configuration the workers will run.
        migration_dir: the folder to write into (created if needed); by
            default the new configuration's ``global: migration_dir``.
        tainted_flow_strategy: ``IGNORE``, ``RETRY`` or ``FAIL``: what a
            worker does with a flow the change taints.
        meta: write ``_meta`` (time, host, user, flowtrace version).

    Returns:
        The path of the file written, ``N.json`` with ``N`` one more than the newest migration there.

    Raises:
        MigrationNotNeeded: when no flow's edges changed.
        MigrationError: for a file that cannot be read, or a folder that cannot be written, as ``file:line: message``.
        ValueError: for an unknown strategy, or no folder given nor configured.

    .. versionadded:: 0.1.0
    """
    strategy = str(tainted_flow_strategy).upper()
    if strategy not in _files.STRATEGIES:
        raise ValueError("tainted_flow_strategy must be one of %s, not %r"
                         % (", ".join(_files.STRATEGIES), tainted_flow_strategy))
    old_config, new_config = _diff.Configuration(old), _diff.Configuration(new)
    folder = os.fspath(migration_dir) if migration_dir is not None else new_config.migration_dir
    if folder is None:
        raise ValueError("no migration folder: give one, or set global: migration_dir in the new configuration")
    migration = _diff.compute(old_config, new_config)
    if not migration:
        raise MigrationNotNeeded("no flow's edges changed: queued dispatcher messages need no migration")
    content = {"migration": migration, "tainted_flow_strategy": strategy}
    if meta:
        content["_meta"] = _files.metadata()
    return _files.write(folder, content)


def latest_version(migration_dir: _Path) -> int:
    """The newest migration version of a folder: the largest ``N`` of its ``N.json`` files, 0 for none.

    Args:
        migration_dir: the migration folder.

    Returns:
        The version a dispatcher running with this folder brings its flows to.

    Raises:
        MigrationError: for a ``.json`` file not named by a number, or a folder that cannot be read.

    .. versionadded:: 0.1.0
    """
    return _files.latest_version(os.fspath(migration_dir))


