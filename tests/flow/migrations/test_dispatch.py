"""The dispatcher's migration step (flowtrace.flow.migrations._dispatch and _apply), on Selinon's migration folders.

The folders are Selinon's ``test/data/migrations/migration_dirs``
(tests/data/selinon, see its ORIGIN.md). The dispatcher stands in as a fake
whose retry is recorded; what crosses a process is tests/integration/test_migrations.py's.
"""

import os
import shutil
import types
from pathlib import Path

import pytest

from flowtrace import Trace
from flowtrace.errors import FlowError
from flowtrace.flow.migrations import _dispatch
from flowtrace.testing import capture_events

DIRS = Path(__file__).resolve().parent.parent.parent / "data" / "selinon" / "test" / "data" / "migrations" / "migration_dirs"
INFO = {"flow_name": "flow1", "dispatcher_id": "D1", "node_args": None, "queue": "flows", "selective": False,
        "state": None, "retry": 2.0, "retried_count": 0, "parent": None}
CALL = {"flow_name": "flow1", "node_args": None, "parent": None, "retried_count": 0, "parent_dispatcher_id": None,
        "polled_at": 100.0}
FLOW = types.SimpleNamespace(retry_countdown=7, queue="flows")


class Retried(Exception):
    """What the fake dispatcher's _retry returns for the caller to raise."""


class FakeDispatcher:
    """Records the retries the step asks for."""

    def __init__(self):
        self.retries = []

    def _retry(self, kwargs, countdown, queue):
        self.retries.append((kwargs, countdown, queue))
        return Retried()

    def _backoff(self, info, changed):
        assert not changed
        return 4.0


def state(finished=(), active=()):
    return {"active_nodes": [[name, name.lower() + "-1"] for name in active],
            "finished_nodes": {name: [name.lower() + "-1"] for name in finished}, "failed_nodes": {}}


def run(folder, st, version):
    task = FakeDispatcher()
    config = types.SimpleNamespace(settings=types.SimpleNamespace(migration_dir=None if folder is None else str(folder)))
    with capture_events() as captured:
        try:
            outcome = _dispatch.on_wakeup(task, config, FLOW, dict(INFO, state=st), dict(CALL), st, version)
        except (Retried, FlowError) as exc:
            outcome = exc
    return outcome, task.retries, [(event, msg) for event, msg in captured]


def base(st, version):
    return dict(INFO, state=st, migration_version=version)


def folder_of(tmp_path, source, strategy=None):
    """A copy of a Selinon folder, its strategy replaced when given."""
    target = tmp_path / source
    shutil.copytree(DIRS / source, target)
    if strategy:
        for path in target.glob("*.json"):
            path.write_text(path.read_text().replace('"IGNORE"', '"%s"' % strategy))
    return target


class TestVersions:
    """Which version a message leaves with, and skews."""

    def test_new_flow_takes_latest(self):
        """A flow that starts takes the newest version without reading a migration (start_latest_migration)."""
        assert (1, [], []) == run(DIRS / "start_latest_migration", None, None)

    def test_up_to_date(self):
        """A message at the newest version passes through without an event."""
        assert (3, [], []) == run(DIRS / "migration_chaining", state(["Task1"]), 3)

    def test_no_folder_no_version(self):
        """Without migrations, nothing happens and no version travels."""
        assert (None, [], []) == run(None, state(["Task1"]), None)

    def test_no_folder_with_version(self):
        """A message with a version on a worker without migrations is a skew, retried as it is."""
        st = state(["Task1"])
        outcome, retries, events = run(None, st, 2)
        assert isinstance(outcome, Retried)
        assert [(dict(CALL, state=st, migration_version=2), 4.0, "flows")] == retries
        assert [(Trace.MIGRATION_SKEW, dict(base(st, 2), available_migration_version=None))] == events

    def test_newer_than_latest(self):
        """A message newer than the newest migration is a skew naming the newest (migration_skew)."""
        st = state(["Task1"])
        outcome, retries, events = run(DIRS / "migration_chaining", st, 4)
        assert [(dict(CALL, state=st, migration_version=4), 4.0, "flows")] == retries
        assert [(Trace.MIGRATION_SKEW, dict(base(st, 4), available_migration_version=3))] == events

    def test_missing_migration(self):
        """Version 0 needs 1.json, which migration_chaining lacks: a skew naming it."""
        st = state(["Task1"])
        outcome, retries, events = run(DIRS / "migration_chaining", st, None)
        assert [(dict(CALL, state=st, migration_version=0), 4.0, "flows")] == retries
        assert [(Trace.MIGRATION_SKEW, dict(base(st, 0), available_migration_version=1))] == events


class TestTaint:
    """Migrations applied in order, and each strategy."""

    def test_chaining_untainted(self):
        """Task1 finished, Task2 running: 2.json and 3.json apply and nothing is tainted (migration_chaining)."""
        st = state(["Task1"], ["Task2"])
        assert (3, [], [(Trace.MIGRATION, dict(base(st, 1), new_migration_version=3, old_migration_version=1,
                                                 tainted=False))]) == run(DIRS / "migration_chaining", st, 1)

    def test_ignore(self):
        """Task2 finished: 2.json's new edge from Task2 taints the flow, which goes on under IGNORE."""
        st = state(["Task1", "Task2"])
        outcome, retries, events = run(DIRS / "migration_chaining", st, 1)
        assert (3, []) == (outcome, retries)
        assert [Trace.MIGRATION_TAINTED_FLOW, Trace.MIGRATION] == [event for event, _ in events]
        assert dict(base(st, 2), latest_migration_version=3, tainting_nodes=["Task2"], tainted_edge=None,
                    tainted_flow_strategy="IGNORE") == events[0][1]
        assert dict(base(st, 1), new_migration_version=3, old_migration_version=1, tainted=True) == events[1][1]

    def test_removed_edge_that_ran(self):
        """3.json's removed edge Task2 -> Task3 taints a flow in which Task3 ran, under IGNORE."""
        st = state(["Task1", "Task2"], ["Task3"])
        _, _, events = run(DIRS / "migration_chaining", st, 2)
        assert [(Trace.MIGRATION_TAINTED_FLOW, dict(base(st, 3), latest_migration_version=3, tainting_nodes=None,
                                                    tainted_edge={"condition_str": {"name": "alwaysTrue"},
                                                                  "from": ["Task2"], "to": ["Task3"]},
                                                    tainted_flow_strategy="IGNORE")),
                (Trace.MIGRATION, dict(base(st, 2), new_migration_version=3, old_migration_version=2,
                                       tainted=True))] == events

    def test_retry(self, tmp_path):
        """Under RETRY the flow starts over at the newest version, its retried_count unchanged."""
        st = state(["Task1", "Task2"])
        outcome, retries, events = run(folder_of(tmp_path, "migration_chaining", "RETRY"), st, 1)
        assert isinstance(outcome, Retried)
        assert [(dict(CALL, state=None, countdown=None, polled_at=None, migration_version=3), 7, "flows")] == retries
        assert [(Trace.MIGRATION_TAINTED_FLOW, dict(base(st, 2), latest_migration_version=3,
                                                    tainting_nodes=["Task2"], tainted_edge=None,
                                                    tainted_flow_strategy="RETRY"))] == events

    def test_fail(self, tmp_path):
        """Under FAIL the flow fails with its state: MIGRATION_TAINTED_FLOW, then FLOW_FAILURE."""
        st = state(["Task1", "Task2"])
        outcome, retries, events = run(folder_of(tmp_path, "migration_chaining", "FAIL"), st, 1)
        assert isinstance(outcome, FlowError)
        assert (st, []) == (outcome.state, retries)
        assert [Trace.MIGRATION_TAINTED_FLOW, Trace.FLOW_FAILURE] == [event for event, _ in events]
        assert {"flow_name": "flow1", "dispatcher_id": "D1", "node_args": None, "queue": "flows",
                "selective": False, "state": st, "will_retry": False} == events[1][1]


class TestErrors:
    """A migration file that cannot be used is MIGRATION_ERROR and a retry with the state unchanged."""

    @pytest.mark.parametrize("text, message", [
        ("{", "2.json:1: not JSON: Expecting property name enclosed in double quotes"),
        ('{"migration": {}, "tainted_flow_strategy": "SKIP"}',
         '2.json: tainted_flow_strategy must be one of IGNORE, RETRY, FAIL, not "SKIP"'),
        ('{"migration": {"flow1": {"tainted_edges": [3]}}, "tainted_flow_strategy": "FAIL"}',
         "2.json: migration.flow1.tainted_edges must be an object keyed by edge index"),
    ])
    def test_malformed(self, tmp_path, text, message):
        """The error names the file (and line) and what is wrong."""
        (tmp_path / "1.json").write_text('{"migration": {}, "tainted_flow_strategy": "IGNORE"}')
        (tmp_path / "2.json").write_text(text)
        st = state(["Task1"])
        outcome, retries, events = run(tmp_path, st, 0)
        assert [(dict(CALL, state=st, migration_version=0), 4.0, "flows")] == retries
        ((event, msg),) = events
        assert Trace.MIGRATION_ERROR == event
        what = msg.pop("what")
        assert "MigrationError: %s%s" % (tmp_path, "/" + message) in what
        assert base(st, 0) == msg


class TestLatestCache:
    """A wake-up lists the migration folder again only when the folder changed."""

    def test_lists_again_only_after_the_folder_changes(self, tmp_path, monkeypatch):
        """Unchanged: no listing; a file added (the folder's mtime moves): listed, and the new version is seen."""
        listed = []
        real = _dispatch._files.latest_version
        monkeypatch.setattr(_dispatch._files, "latest_version", lambda folder: listed.append(folder) or real(folder))
        monkeypatch.setattr(_dispatch, "_LATEST", {})
        old = 1_600_000_000
        os.utime(tmp_path, (old, old))
        first, second = _dispatch._latest(str(tmp_path)), _dispatch._latest(str(tmp_path))
        (tmp_path / "1.json").write_text("{}")
        os.utime(tmp_path, (old + 10, old + 10))
        third = _dispatch._latest(str(tmp_path))
        assert ([0, 0, 1], [str(tmp_path)] * 2) == ([first, second, third], listed)

    def test_a_folder_changed_just_now_is_not_cached(self, tmp_path, monkeypatch):
        """Changed within the last second: listed at every call, as its mtime may not show a change in the same tick."""
        listed = []
        real = _dispatch._files.latest_version
        monkeypatch.setattr(_dispatch._files, "latest_version", lambda folder: listed.append(folder) or real(folder))
        monkeypatch.setattr(_dispatch, "_LATEST", {})
        (tmp_path / "1.json").write_text("{}")
        assert ([1, 1], 2) == ([_dispatch._latest(str(tmp_path)), _dispatch._latest(str(tmp_path))], len(listed))
