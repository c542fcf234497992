"""Task classes and a storage adapter written for Selinon (``selinon.SelinonTask``, ``selinon.DataStorage``), run unchanged by real prefork workers.

One worker per broker serves every test here. It runs with
``FLOWTRACE_IT_INSTRUMENT=none``: nothing calls ``flowtrace.instrument``
there, so each TASK_* event it writes proves that ``load_flows(app=...)``
instrumented the app. The flows are in ``selinon_flows/``, the classes in
``selinon_tasks.py`` and the storage in ``selinon_storage.py``.
"""

import glob
import json
import os

import pytest

# Selinon is in the bench extra, which the lowest-versions run does not install.
pytest.importorskip("selinon")

from tests.integration.harness import Run, hook_failures  # noqa: E402  (after the skip)
from tests.integration.selinon_app import make_selinon_app  # noqa: E402
from tests.integration.selinon_storage import JsonFolder  # noqa: E402
from tests.integration.test_flows import finished, run_flow  # noqa: E402

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def selinon_run(broker, runs_dir):
    """One worker (prefork, concurrency 2) per broker, with selinon_flows/ loaded and no instrument() call."""
    run = Run(broker, runs_dir, "selinon", app_module="tests.integration.selinon_app", app_factory=make_selinon_app)
    run.worker(FLOWTRACE_IT_INSTRUMENT="none")
    try:
        yield run
    finally:
        run.close()
    assert [] == hook_failures(run)


@pytest.fixture
def run(selinon_run, producing):
    """The shared run, with the pytest process as its traced producer."""
    producing(selinon_run)
    return selinon_run


def stored(run, flow_name, task_name, task_id, kind="result"):
    """What the Selinon-written storage holds for the task: its result, or with ``kind="error"`` its error."""
    with open(JsonFolder(run.dir + "/results").file(flow_name, task_name, task_id, kind)) as stream:
        return json.load(stream)


class TestSelinonTasks:
    def test_parent_result_storage_and_retry(self, run):
        """A SelinonTask reads its attributes, its parent's result and its storage, and retry(countdown=) runs it again."""
        result, log = run_flow(run, "selinon_parent", {"order": 1})
        assert {"Start": 1, "Reader": 1} == finished(result)
        ids = {name: ids[0] for name, ids in result.result["finished_nodes"].items()}
        assert {"flow_name": "selinon_parent", "task_name": "Start", "task_id": ids["Start"], "parent": {},
                "node_args": {"order": 1}} == stored(run, "selinon_parent", "Start", ids["Start"])
        assert {"start_task": "Start", "start_id": ids["Start"], "storage": "JsonFolder"} == stored(
            run, "selinon_parent", "Reader", ids["Reader"])
        retry = log.one("TASK_RETRY", task_id=ids["Reader"])
        assert 0.2 == log.details(retry)["countdown"]
        log.before(log.one("TASK_START", task_id=ids["Reader"], retries=0), retry,
                   log.one("TASK_START", task_id=ids["Reader"], retries=1), log.one("TASK_END", task_id=ids["Reader"]))

    def test_selinon_fatal_error_is_not_retried(self, run):
        """selinon.FatalTaskError fails the task at its first attempt, though max_retry is 3; the fallback reads it."""
        result, log = run_flow(run, "selinon_fatal")
        assert {"Rescue": 1} == finished(result)
        hopeless = log.details(log.one("TASK_SCHEDULE", task_name="Hopeless"))["task_id"]
        assert [os.path.join(run.dir, "hopeless-" + hopeless)] == glob.glob(os.path.join(run.dir, "hopeless-" + hopeless))
        log.none("TASK_RETRY", task_id=hopeless)
        failure = log.details(log.one("TASK_FAILURE", task_id=hopeless))
        assert ("selinon.errors.FatalTaskError", "no way") == (failure["exc_type"], failure["exc_message"])
        log.one("NODE_FAILURE", node_id=hopeless)
        # The Selinon-written adapter's store_error() got the error, with the flow's arguments.
        assert {"node_args": None, "type": "FatalTaskError", "message": "no way"} == stored(
            run, "selinon_fatal", "Hopeless", hopeless, "error")
        rescue = result.result["finished_nodes"]["Rescue"][0]
        assert {"type": "selinon.errors.FatalTaskError", "args": ["no way"]} == stored(
            run, "selinon_fatal", "Rescue", rescue)

    def test_parent_flow_result_with_index_none(self, run):
        """parent_flow_result(flow, task, index=None) reads the sub-flow task's last result."""
        result, _ = run_flow(run, "selinon_outer")
        assert {"selinon_inner": 1, "Collect": 1} == finished(result)
        collect = result.result["finished_nodes"]["Collect"][0]
        assert {"inner": "InnerTask"} == stored(run, "selinon_outer", "Collect", collect)
