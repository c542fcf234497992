"""Tests for flowtrace/flow/predicates/_world.py: environment variables and HTTP status."""

import pytest

from flowtrace.flow import predicates
from flowtrace.flow.predicates import _world
from tests.flow.predicates import http_server

VAR = "FLOWTRACE_TEST_PREDICATE_VAR"


@pytest.fixture
def env(monkeypatch):
    """VAR set to "on", and VAR + "_EMPTY" set to ""; VAR + "_UNSET" unset."""
    monkeypatch.setenv(VAR, "on")
    monkeypatch.setenv(VAR + "_EMPTY", "")
    monkeypatch.delenv(VAR + "_UNSET", raising=False)


@pytest.fixture(scope="module")
def server():
    with http_server.serving() as host:
        yield host


class TestEnv:
    @pytest.mark.parametrize("name, expected", [
        (VAR, True),
        (VAR + "_EMPTY", True),                   # set to "" is set
        (VAR + "_UNSET", False),
        (VAR.lower(), False),                     # names are case-sensitive on POSIX
        (3, False),                               # not a name (Selinon raises TypeError)
        (None, False),
    ])
    def test_exist(self, env, name, expected):
        """envExist is whether the variable is set."""
        assert expected is predicates.envExist(env=name)

    @pytest.mark.parametrize("name, value, expected", [
        (VAR, "on", True),
        (VAR + "_EMPTY", "", True),
        (VAR, "off", False),
        (VAR, "ON", False),
        (VAR + "_UNSET", None, False),            # unset never equals, not even None
        (VAR + "_UNSET", "", False),
        (VAR, 1, False),                          # variables hold strings
        (3, "on", False),                         # not a name (Selinon raises TypeError)
    ])
    def test_equal(self, env, name, value, expected):
        """envEqual is whether the variable is set to exactly the value."""
        assert expected is predicates.envEqual(env=name, value=value)


class TestHttpStatus:
    @pytest.mark.parametrize("path, status, expected", [
        ("/health", 200, True),
        ("/moved", 301, True),                    # redirects are not followed
        ("/nope", 404, True),
        ("/health", 404, False),
        ("/health", "200", False),                # the status is a number
        ("/with space", 404, False),              # a path http.client refuses
        (7, 200, False),                          # not a path
    ])
    def test_answers(self, server, path, status, expected):
        """httpStatus is whether the server answers HEAD on the path with the status."""
        assert expected is predicates.httpStatus(host=server, path=path, status=status)

    @pytest.mark.parametrize("host", ["closed", "bad host name:99999", "127.0.0.1:x", 80, None])
    def test_unreachable(self, host):
        """A host that cannot be reached, or that is no host, is false."""
        host = http_server.closed_port() if host == "closed" else host
        assert False is predicates.httpStatus(host=host, path="/", status=200)

    def test_no_answer(self, monkeypatch):
        """A server that accepts and never answers is false once the timeout passes, instead of waiting forever."""
        monkeypatch.setattr(_world, "_TIMEOUT", 0.2)
        with http_server.silent() as host:
            assert False is predicates.httpStatus(host=host, path="/health", status=200)
