"""Tests for flowtrace/_redact.py: secrets never reach a sink."""

import pytest

from flowtrace import Trace
from flowtrace import _redact
from flowtrace.testing import capture_events

R = "[redacted]"


class TestRedaction:
    @pytest.mark.parametrize("key", [
        "password", "passwd", "secret", "token", "api_key", "apikey", "authorization", "cookie", "dsn",
        "private_key", "DB_PASSWORD", "X-Api-Key", "sentry_dsn", "Set-Cookie", "client_secret", "access_token",
    ])
    def test_default_keys(self, key):
        """Values under each default key fragment, in any case and with '-' for '_', are redacted."""
        with capture_events() as captured:
            Trace.log(Trace.TASK_START, {key: "s3cr3t", "task_name": "t"})
        assert [(Trace.TASK_START, {key: R, "task_name": "t"})] == captured

    def test_any_depth(self):
        """Secrets nested in dicts, lists and tuples at any depth are redacted; other values stay."""
        msg = {
            "node_args": {"user": "ann", "auth": {"password": "p", "level": [1, {"token": "t"}]}},
            "args": ({"api_key": "k"}, "plain", [{"cookie": "c", "ok": 1}]),
        }
        with capture_events() as captured:
            Trace.log(Trace.TASK_START, msg)
        expected = {
            "node_args": {"user": "ann", "auth": {"password": R, "level": [1, {"token": R}]}},
            "args": ({"api_key": R}, "plain", [{"cookie": R, "ok": 1}]),
        }
        assert [(Trace.TASK_START, expected)] == captured

    def test_none_values_stay_none(self):
        """A secret key whose value is None shows None: there is nothing to hide."""
        with capture_events() as captured:
            Trace.log(Trace.TASK_START, password=None)
        assert [(Trace.TASK_START, {"password": None})] == captured

    def test_secret_key_hides_a_whole_container(self):
        """A container under a secret key is replaced whole, not walked."""
        with capture_events() as captured:
            Trace.log(Trace.TASK_START, credentials_token={"user": "u", "pw": "p"})
        assert [(Trace.TASK_START, {"credentials_token": R})] == captured

    def test_extending_the_list(self):
        """Keys added with Trace.redact_keys are redacted too, and reset() restores the defaults."""
        added = Trace.redact_keys("ssn", "Card-Number")
        with capture_events() as captured:
            Trace.log(Trace.TASK_START, ssn="1", card_number="2", name="n")
        Trace.reset()
        assert (_redact.DEFAULT_KEYS + ("ssn", "card_number"), [(Trace.TASK_START, {"ssn": R, "card_number": R, "name": "n"})],
                _redact.DEFAULT_KEYS) == (added, captured, Trace.redact_keys())

    @pytest.mark.parametrize("bad", ["", "  ", 3, None])
    def test_bad_extra_key(self, bad):
        """An empty or non-string key fragment is rejected with ValueError."""
        with pytest.raises(ValueError, match="a redaction key must be a non-empty string"):
            Trace.redact_keys(bad)

    def test_cycles_and_depth(self):
        """A cycle is cut (a serialiser could otherwise reach the unredacted original through it), and nesting beyond 32 levels is cut, not walked."""
        cyclic = {"token": "t"}
        cyclic["self"] = cyclic
        deep = inner = {}
        for _ in range(40):
            inner["next"] = {}
            inner = inner["next"]
        out = _redact.redact({"c": cyclic, "d": deep})
        depth, node = 0, out["d"]
        while isinstance(node, dict):
            node, depth = node["next"], depth + 1
        assert (R, "[cycle]", "[too deep to redact]", 31, "t") == (
            out["c"]["token"], out["c"]["self"], node, depth, cyclic["token"])

    def test_other_mappings_and_dataclasses(self):
        """Secrets inside non-dict mappings and dataclass instances are redacted; such objects without secrets pass unchanged."""
        import dataclasses
        import types

        @dataclasses.dataclass
        class Login:
            user: str
            password: str

        @dataclasses.dataclass
        class Point:
            x: int

        point = Point(1)
        proxy = types.MappingProxyType({"api_key": "k", "n": 1})
        with capture_events() as captured:
            Trace.log(Trace.TASK_START, login=Login("ann", "pw"), headers=proxy, nested=[{"p": point}])
        assert [(Trace.TASK_START, {"login": {"user": "ann", "password": R}, "headers": {"api_key": R, "n": 1},
                                    "nested": [{"p": point}]})] == captured

    def test_non_string_keys(self):
        """Dicts with non-string keys are walked without error; only string keys can be secrets."""
        with capture_events() as captured:
            Trace.log(Trace.TASK_START, {1: "one", (2, 3): {"token": "t"}, None: "n"})
        assert [(Trace.TASK_START, {1: "one", (2, 3): {"token": R}, None: "n"})] == captured

    def test_no_sink_sees_the_secret(self, tmp_path):
        """Across the function, JSON and logging sinks, the secret string appears nowhere."""
        import io
        import logging

        stream = io.StringIO()
        logger = logging.getLogger("test.redact")
        logger.propagate = False
        records = []

        class Keep(logging.Handler):
            def emit(self, record):
                records.append((self.format(record), dict(vars(record))))

        logger.addHandler(Keep())
        logger.setLevel(logging.INFO)
        seen = []
        Trace.trace_by_func(lambda e, m: seen.append(repr(m)))
        Trace.trace_by_json(stream)
        Trace.trace_by_logging(logger)
        Trace.log(Trace.TASK_START, {"node_args": {"db": {"password": "hunter2-XYZ"}}}, authorization="Bearer hunter2-XYZ")
        everything = "".join(seen) + stream.getvalue() + repr(records)
        assert (0, 1) == (everything.count("hunter2-XYZ"), len(records))
