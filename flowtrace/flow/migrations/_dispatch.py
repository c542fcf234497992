"""The dispatcher's migration step: run first in every wake-up, before the state is used.

The dispatcher's message carries ``migration_version``: the newest migration
of the worker that last ran it. A flow's first wake-up takes the newest
version of its worker's ``global: migration_dir``; a later one on a worker
with newer migrations applies each between the two
(``flowtrace.flow.migrations._apply``), then:

- no taint, or taints under ``IGNORE``: ``MIGRATION`` (``tainted`` says
  which), and the wake-up goes on, the new version in its message;
- a taint under ``RETRY``: ``MIGRATION_TAINTED_FLOW``, and the flow starts
  over under the new configuration, its ``retried_count`` unchanged;
- a taint under ``FAIL``: ``MIGRATION_TAINTED_FLOW``, ``FLOW_FAILURE`` and
  the flow fails (:exc:`~flowtrace.errors.FlowError`), whatever its ``max_retry``;
- a message newer than the newest migration, one whose migration is
  missing, or one with a version on a worker without a migration folder:
  ``MIGRATION_SKEW``, and the dispatcher retries with the state unchanged,
  for a worker that has the migrations;
- a migration file that cannot be read: ``MIGRATION_ERROR``, and the
  dispatcher retries with the state unchanged, for the file to be fixed.

A message without a version but with a state was sent before migrations
were set up: it is at version 0, as in Selinon.
"""

from __future__ import annotations

import os
import threading
import time
import traceback
from typing import Dict, Optional, Tuple

from flowtrace.errors import FlowError, MigrationSkew
from flowtrace.flow import _msg
from flowtrace.flow._flowstate import FlowState
from flowtrace.flow.migrations import _apply, _files
from flowtrace.trace import Trace


def on_wakeup(task, config, flow, info: dict, call: dict, state, version: Optional[int]) -> Optional[int]:
    """Migrate the wake-up's state; return the version its messages carry from now on (None: no migrations).

    ``task`` is the dispatcher, ``info`` the ``DISPATCHER_WAKEUP`` message and
    ``call`` the keyword arguments of its next message.

    Raises:
        celery.exceptions.Retry: for a skew, an error, or a flow ``RETRY`` restarts.
        FlowError: for a flow ``FAIL`` fails.
    """
    folder = config.settings.migration_dir
    base = dict(info, migration_version=version)
    if folder is None:
        if version:
            Trace.log(Trace.MIGRATION_SKEW, base, available_migration_version=None)
            raise _again(task, info, call, state, version)
        return version
    try:
        latest = _latest(folder)
        if state is None:
            return latest  # a flow that starts runs under this worker's configuration
        version = base["migration_version"] = version or 0
        if version == latest:
            return version
        if version > latest:
            raise MigrationSkew("the message's migration %d is newer than the newest here, %d" % (version, latest),
                                available_migration_version=latest)
        migrations = [(number, _files.load(folder, number)) for number in range(version + 1, latest + 1)]
        taints, stop = _apply.apply(migrations, info["flow_name"], FlowState.from_dict(state))
    except MigrationSkew as exc:
        Trace.log(Trace.MIGRATION_SKEW, base, available_migration_version=exc.available_migration_version)
        raise _again(task, info, call, state, version) from None
    except Exception:
        Trace.log(Trace.MIGRATION_ERROR, base, what=traceback.format_exc())
        raise _again(task, info, call, state, version) from None
    for taint in taints:
        Trace.log(Trace.MIGRATION_TAINTED_FLOW, base, migration_version=taint.migration_version,
                  latest_migration_version=latest, tainting_nodes=taint.tainting_nodes,
                  tainted_edge=taint.tainted_edge, tainted_flow_strategy=taint.tainted_flow_strategy)
    if stop is not None and stop.tainted_flow_strategy == "RETRY":
        raise task._retry(dict(call, state=None, countdown=None, polled_at=None, migration_version=latest),
                          flow.retry_countdown, flow.queue)
    if stop is not None:
        data = FlowState.from_dict(state).to_dict()
        final = {key: data[key] for key in ("finished_nodes", "failed_nodes", "active_nodes")}
        flow_msg = _msg.flow(info["flow_name"], info["dispatcher_id"], info["node_args"], info["queue"])
        Trace.log(Trace.FLOW_FAILURE, flow_msg, state=final, will_retry=False)
        raise FlowError(final)
    Trace.log(Trace.MIGRATION, base, new_migration_version=latest, old_migration_version=version,
              tainted=bool(taints))
    return latest


# folder -> (its mtime in ns, its latest version): a wake-up lists the folder again only when a file
# was added, removed or renamed there, which changes the folder's own mtime. A folder changed in the
# last second is not cached: file systems stamp times coarsely, and a change in the same tick as the
# listing would leave the mtime as it was.
_LATEST: Dict[str, Tuple[int, int]] = {}
_latest_lock = threading.Lock()


def _latest(folder: str) -> int:
    """:func:`_files.latest_version` of ``folder``, read again only when the folder changed."""
    try:
        mtime = os.stat(folder).st_mtime_ns
    except OSError:
        return _files.latest_version(folder)  # raises the MigrationError that names the folder
    held = _LATEST.get(folder)
    if held is not None and held[0] == mtime:
        return held[1]
    latest = _files.latest_version(folder)
    if time.time_ns() - mtime > 1_000_000_000:
        with _latest_lock:
            _LATEST[folder] = (mtime, latest)
    return latest


def _again(task, info, call, state, version):
    """The dispatcher's retry with the state and version unchanged, after its own back-off."""
    kwargs = dict(call, state=state)
    if version is not None:
        kwargs["migration_version"] = version
    return task._retry(kwargs, task._backoff(info, changed=False), info["queue"])
