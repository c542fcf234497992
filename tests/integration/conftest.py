"""Fixtures for the integration tests: a broker per parameter, runs with real workers.

Every test here runs once on the embedded ``filesystem://`` broker and once
on each URL in ``FLOWTRACE_TEST_BROKERS``; a listed broker that cannot be
reached fails the test, it is never skipped.
"""

import pytest

import flowtrace
from flowtrace import Trace
from tests.integration.harness import Run, broker_id, brokers, check_reachable, close_runs


@pytest.fixture(scope="session", params=brokers(), ids=broker_id)
def broker(request):
    """A broker URL, checked to be reachable."""
    check_reachable(request.param)
    return request.param


@pytest.fixture(scope="session")
def runs_dir(tmp_path_factory):
    """Where every run keeps its broker folders, results, logs and events."""
    return str(tmp_path_factory.mktemp("flowtrace-it"))


@pytest.fixture
def new_run(broker, runs_dir):
    """A factory of runs on this broker; their workers are stopped at teardown."""
    made = []

    def make(label):
        run = Run(broker, runs_dir, label)
        made.append(run)
        return run

    yield make
    close_runs(made)


def produce(run):
    """Make the pytest process a traced producer for ``run``: TASK_PUBLISH goes to its events file."""
    flowtrace.instrument(run.app, include_args=True)
    Trace.trace_by_json(run.events_path)


@pytest.fixture
def producing():
    """Uninstrument every app that :func:`produce` instrumented in this test."""
    yield produce
    from flowtrace.celery import _registry

    for app in list(_registry.apps):
        flowtrace.uninstrument(app)
