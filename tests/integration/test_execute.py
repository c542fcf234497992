"""flowtrace execute against a real worker: the demo flow's events are the same, in the same causal order."""

import json

import pytest

from flowtrace.flow.execute import ENDED, execute
from tests.flow.execution_order import labels, violations
from tests.flow.test_execute import BATCH, DEMO_LABELS, INGEST, ingest  # noqa: F401  (ingest: a fixture)
from tests.test_demo import DemoRun


@pytest.fixture(scope="module")
def worker_run(tmp_path_factory):
    """``flowtrace demo``: the demo flow on a real prefork worker, its JSON lines recorded."""
    return DemoRun(tmp_path_factory.mktemp("execute-vs-worker"))


@pytest.mark.integration
class TestAgainstAWorker:
    """One executor run and one real-worker run of the demo flow, with the same arguments."""

    def test_same_events_same_causal_order(self, worker_run, ingest):  # noqa: F811
        """Both runs have the same events, per flow, node and event, and both keep every causal rule."""
        execution = execute(ingest, "ingest_batch", BATCH)
        local = [json.loads(line) for line in execution.lines]
        assert (0, ENDED, DEMO_LABELS, DEMO_LABELS, [], []) == (
            worker_run.proc.returncode, execution.outcome, labels(worker_run.records), labels(local),
            violations(worker_run.records, ingest), violations(local, ingest))
