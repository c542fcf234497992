"""The built-ins against Selinon 1.4's own predicates: the same names and parameters, and the same answers."""

import inspect
from urllib.parse import urlparse

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowtrace.flow import predicates
from flowtrace.flow.predicates._path import MISSING, follow
from tests.flow.predicates import http_server

selinon_predicates = pytest.importorskip(
    "selinon.predicates", reason="selinon is not installed (it comes with the bench extra)")


def selinons():
    """Selinon's predicates as its dispatcher finds them: the callables of selinon.predicates, by name."""
    return {name: value for name, value in vars(selinon_predicates).items()
            if not name.startswith("_") and callable(value)}


def parameters(fn):
    return list(inspect.signature(fn).parameters)


FIELD = sorted(name for name in predicates.BUILTINS if name.startswith(("field", "argsField")))
WHOLE = sorted(name for name in predicates.BUILTINS if name.startswith(("is", "argsIs")) or "mpty" in name)

scalars = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.floats(allow_nan=False, width=16),
                    st.sampled_from(["", "a", "ok", "http://example.com:80/a?q#f", "https://u@h/p", "//h/p"]),
                    st.text(max_size=4), st.binary(max_size=2))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                        st.dictionaries(st.sampled_from(["a", "b", "a.b", 0]),
                                                                        inner, max_size=3)),
                      max_leaves=8)
keys = st.one_of(st.sampled_from(["a", "b", "a.b", 0, 1, -1, None]),
                 st.lists(st.sampled_from(["a", "b", 0, 1]), max_size=3))


@st.composite
def holding(draw, key):
    """A value that often has something at ``key``: the path is built into it, or it is any value."""
    if draw(st.integers(0, 3)) == 0:
        return draw(values)
    data = draw(values)
    for part in reversed(key if isinstance(key, list) else [key]):
        if isinstance(part, int) and part >= 0 and draw(st.booleans()):
            data = [draw(scalars) for _ in range(part)] + [data]
        else:
            data = {**draw(st.dictionaries(st.sampled_from(["x", 1]), scalars, max_size=2)), part: data}
    return data


@st.composite
def operands(draw, data, key, name):
    """The argument a predicate compares with: often the value at the key (or its length or URL part)."""
    found = follow(data, key)
    if draw(st.booleans()) and found is not MISSING:
        if "Len" in name:
            try:
                return len(found) + draw(st.integers(-1, 1))
            except TypeError:
                pass
        elif "Url" in name:
            try:
                parsed = urlparse(found)
                return getattr(parsed, name.split("Url")[1].lower())
            except Exception:
                pass
        else:
            return found
    return draw(values)


class TestSameAsSelinon:
    def test_names_and_parameters(self):
        """flowtrace has exactly Selinon's built-in names, each with Selinon's parameter names in order."""
        assert {name: parameters(fn) for name, fn in selinons().items()} \
            == {name: parameters(fn) for name, fn in predicates.BUILTINS.items()}

    @pytest.mark.parametrize("name", FIELD)
    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(data=st.data())
    def test_field_predicates(self, name, data):
        """On the same result or arguments, key and operand, a field predicate answers as Selinon's does."""
        key = data.draw(keys)
        value = data.draw(holding(key))
        reads = "node_args" if name.startswith("args") else "message"
        args = {reads: value, "key": key}
        extra = [param for param in parameters(predicates.BUILTINS[name]) if param not in ("message", "node_args",
                                                                                             "key")]
        if extra:
            args[extra[0]] = data.draw(operands(value, key, name))
        self.assert_same(name, args)

    @given(st.sampled_from(WHOLE), values)
    def test_whole_predicates(self, name, value):
        """On the same value, a predicate of a whole result or of the whole arguments answers as Selinon's does."""
        self.assert_same(name, {"node_args" if name.startswith("args") else "message": value})

    @pytest.mark.parametrize("name", ["alwaysTrue", "alwaysFalse"])
    def test_always(self, name):
        """The constant predicates answer as Selinon's do."""
        self.assert_same(name, {})

    @pytest.mark.parametrize("env, value", [("FLOWTRACE_SELINON_SET", "on"), ("FLOWTRACE_SELINON_SET", "off"),
                                            ("FLOWTRACE_SELINON_EMPTY", ""), ("FLOWTRACE_SELINON_UNSET", ""),
                                            ("FLOWTRACE_SELINON_SET", 1), (3, "on")])
    def test_env(self, monkeypatch, env, value):
        """envExist and envEqual answer as Selinon's do; where Selinon raises (a name that is not text), False."""
        monkeypatch.setenv("FLOWTRACE_SELINON_SET", "on")
        monkeypatch.setenv("FLOWTRACE_SELINON_EMPTY", "")
        monkeypatch.delenv("FLOWTRACE_SELINON_UNSET", raising=False)
        self.assert_same("envExist", {"env": env})
        self.assert_same("envEqual", {"env": env, "value": value})

    @pytest.mark.parametrize("path, status", [("/health", 200), ("/health", 404), ("/moved", 301), ("/x", 404),
                                              ("/health", "200"), ("/with space", 200)])
    def test_http_status(self, path, status):
        """httpStatus answers as Selinon's does, against a local server and a closed port."""
        with http_server.serving() as host:
            self.assert_same("httpStatus", {"host": host, "path": path, "status": status})
        self.assert_same("httpStatus", {"host": http_server.closed_port(), "path": path, "status": status})

    @staticmethod
    def assert_same(name, args):
        """Where Selinon answers with a bool, flowtrace gives the same bool; where Selinon raises, False."""
        ours = predicates.BUILTINS[name](**args)
        try:
            theirs = selinons()[name](**args)
        except Exception:
            assert (name, False) == (name, ours)
            return
        if isinstance(theirs, bool):
            assert (name, theirs) == (name, ours)
        else:
            assert bool is type(ours)
