"""Shared fixtures: every test starts and ends with an empty Trace registry."""

import pytest

from flowtrace import Trace


@pytest.fixture(autouse=True)
def _clean_trace():
    Trace.reset()
    yield
    Trace.reset()
