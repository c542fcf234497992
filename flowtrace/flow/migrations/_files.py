"""The migration folder: Selinon's file names (``1.json``, ``2.json``, ...), reading one file and writing the next.

A migration file is JSON with Selinon's keys::

    {"migration": {FLOW: {"translation": {OLD_INDEX: NEW_INDEX or null},
                          "tainted_edges": {OLD_INDEX: {"from": [...], "to": [...], "condition_str": {...}}},
                          "tainting_nodes": {NEW_INDEX: [FROM NODE, ...]}}},
     "tainted_flow_strategy": "IGNORE" | "RETRY" | "FAIL",
     "_meta": {...}}

:func:`load` checks that shape and reports the first thing wrong as a
:class:`~flowtrace.errors.MigrationError` (``file:line: message``).
"""

from __future__ import annotations

import datetime
import getpass
import json
import os
import platform
from typing import Any, Dict, Optional

from flowtrace._version import __version__
from flowtrace.errors import MigrationError, MigrationSkew

#: Selinon's tainted-flow strategies, in its order of precedence.
STRATEGIES = ("IGNORE", "RETRY", "FAIL")
#: The strategy when none is asked for, as in Selinon.
DEFAULT_STRATEGY = "IGNORE"
#: The largest migration file read; a real one is a few kilobytes.
MAX_BYTES = 16 * 1024 * 1024


def file_name(version: int) -> str:
    """The file of migration ``version``: ``N.json``."""
    return "%d.json" % version


def latest_version(folder: str) -> int:
    """The newest migration version in ``folder``: the largest ``N`` of its ``N.json`` files, 0 for none.

    Hidden files and files not ending in ``.json`` are skipped, as Selinon skips them.

    Raises:
        MigrationError: for a ``.json`` file whose name is not a number, or a folder that cannot be read.
    """
    try:
        names = os.listdir(folder)
    except OSError as exc:
        raise MigrationError(folder, None, "cannot read the migration folder: %s" % (exc.strerror or exc)) from None
    latest = 0
    for name in names:
        path = os.path.join(folder, name)
        if name.startswith(".") or not name.endswith(".json") or not os.path.isfile(path):
            continue
        stem = name[:-len(".json")]
        if not stem.isdigit():
            raise MigrationError(path, None, "not a migration file name: migrations are named 1.json, 2.json, ...")
        latest = max(latest, int(stem))
    return latest


def load(folder: str, version: int) -> Dict[str, Any]:
    """Read and check migration ``version`` of ``folder``.

    Raises:
        MigrationSkew: when the file is missing.
        MigrationError: when it is not a migration file.
    """
    path = os.path.join(folder, file_name(version))
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise MigrationSkew("migration file %s is missing" % path, available_migration_version=version) from None
    except OSError as exc:
        raise MigrationError(path, None, "cannot read: %s" % (exc.strerror or exc)) from None
    if len(data) > MAX_BYTES:
        raise MigrationError(path, None, "larger than %d bytes" % MAX_BYTES)
    try:
        content = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise MigrationError(path, None, "not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise MigrationError(path, exc.lineno, "not JSON: %s" % exc.msg) from None
    except RecursionError:
        raise MigrationError(path, None, "nested too deeply") from None
    check(path, content)
    return content


def check(path: str, content: Any) -> None:
    """Raise :class:`~flowtrace.errors.MigrationError` for the first thing in ``content`` that is not Selinon's shape."""
    def fail(message):
        raise MigrationError(path, None, message)

    if not isinstance(content, dict):
        fail("a migration file is a JSON object")
    strategy = content.get("tainted_flow_strategy")
    if not isinstance(strategy, str) or strategy.upper() not in STRATEGIES:
        fail("tainted_flow_strategy must be one of %s, not %s" % (", ".join(STRATEGIES), json.dumps(strategy)))
    flows = content.get("migration")
    if not isinstance(flows, dict):
        fail("migration must be an object of flow names")
    for flow_name, entry in flows.items():
        where = "migration.%s" % flow_name
        if not isinstance(entry, dict):
            fail("%s must be an object" % where)
        for key in ("translation", "tainted_edges", "tainting_nodes"):
            if entry.get(key) == []:
                entry[key] = {}  # what Selinon before 1.0 wrote for none
            if not isinstance(entry.get(key, {}), dict):
                fail("%s.%s must be an object keyed by edge index" % (where, key))
        for index, edge in entry.get("tainted_edges", {}).items():
            if not isinstance(edge, dict) or not _names(edge.get("from")) or not _names(edge.get("to")):
                fail("%s.tainted_edges.%s must have from and to lists of node names" % (where, index))
        for index, nodes in entry.get("tainting_nodes", {}).items():
            if not _names(nodes):
                fail("%s.tainting_nodes.%s must be a list of node names" % (where, index))


def _names(value) -> bool:
    return isinstance(value, list) and all(isinstance(name, str) for name in value)


def metadata() -> Dict[str, Any]:
    """The ``_meta`` of a new file: who wrote it, where and when (Selinon's keys, flowtrace's version)."""
    try:
        user: Optional[str] = getpass.getuser()
    except Exception:  # no user name in some containers; Selinon also writes null then
        user = None
    return {"datetime": str(datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)),
            "host": platform.node(), "user": user, "flowtrace_version": __version__}


def dumps(content: Dict[str, Any]) -> str:
    """``content`` as Selinon writes its migration files: sorted keys, two-space indent."""
    return json.dumps(content, sort_keys=True, indent=2, separators=(",", ": "))


def write(folder: str, content: Dict[str, Any]) -> str:
    """Write ``content`` as the next migration of ``folder`` (created if needed); return the file's path.

    Raises:
        MigrationError: when the folder cannot be created or written, or holds a badly named file.
    """
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise MigrationError(folder, None, "cannot create the migration folder: %s" % (exc.strerror or exc)) from None
    path = os.path.join(folder, file_name(latest_version(folder) + 1))
    try:
        # "x": never overwrite a migration another run wrote meanwhile.
        with open(path, "x", encoding="utf-8") as handle:
            handle.write(dumps(content) + "\n")
    except OSError as exc:
        raise MigrationError(path, None, "cannot write: %s" % (exc.strerror or exc)) from None
    return path
