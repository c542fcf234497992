"""Property tests: whatever YAML is checked, the answer is a configuration or clean problems, never an exception."""

import contextlib
import importlib
import io
import re
import sys
import tempfile
from pathlib import Path
from unittest import mock

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowtrace import cli
from flowtrace.flow.load import check, schema

DATA = Path(__file__).resolve().parent.parent / "data"

#: The sample configuration as one document: what the mutations start from.
SAMPLE = {}
for _path in sorted(DATA.rglob("*.yml")):
    for _key, _value in yaml.safe_load(_path.read_text()).items():
        SAMPLE[_key] = SAMPLE.get(_key, []) + _value if isinstance(_value, list) else _value

# Every key Selinon 1.4 has that the sample does not use, with a valid value, so that mutations reach their checks.
SAMPLE["storages"][0]["cache"] = {"name": "LRU", "configuration": {"max_cache_size": 10}}
SAMPLE["tasks"][0].update(throttling={"seconds": 10, "minutes": 1},
                          selective_run_function={"name": "each_parcel", "import": "tests.flow.sample"})
SAMPLE["global"] = dict(SAMPLE.get("global") or {}, migration_dir="{HOME}/migrations",
                        trace=[{"storage": {"name": "orders_db", "method": "store"}}, {"logging": True}])
_FLOW = SAMPLE["flow-definitions"][0]
_FLOW.update(node_args_from_first=True, eager_failures=["audit"], throttling={"hours": 1},
             cache={"name": "MRU", "configuration": {"max_cache_size": 3}},
             sampling={"name": "constant", "args": {"retry": 5}},
             propagate_parent_failures=["shipping_flow"], propagate_compound_finished=False,
             propagate_compound_failures=False)
_FLOW["edges"].append({"from": "charge_card", "to": "shipping_flow",
                       "selective": {"tasks": ["ship_item"], "run_subsequent": True, "follow_subflows": False}})

KEYS = sorted({key for keys in schema.KEYS.values() for key in keys}
              | {key for keys in schema.SELINON_ONLY.values() for key in keys}
              | {"json", "logging", "sentry", "function", "storage", "path", "dsn", "min_level", "events", "edgs",
                 "method", "retry", "start_retry", "stop_retry", "step", "max_cache_size", "status"})
WORDS = ["a", "b", "main", "sub", "db", "fetch_order", "charge_card", "shipping_flow", "orders_db", "1a", "",
         "tests.flow.sample", "tests.flow.nope", "os.path", "fieldEqual", "amountAbove", "argsFieldExist",
         "__class__", "{HOME}", "{NOPE_NOT_SET}", "LRU", "RR", "constant", "random", "linear_adapt",
         "always_run", "shipping_flow", "ship_item", "audit", "order_flow", "each_parcel"]

scalars = st.one_of(st.none(), st.booleans(), st.integers(-3, 1000), st.floats(allow_nan=True),
                    st.text(max_size=8), st.sampled_from(WORDS))
keys = st.one_of(st.sampled_from(KEYS), st.sampled_from(WORDS), st.integers(-2, 2), st.none(), st.booleans())
values = st.recursive(scalars, lambda children: st.one_of(
    st.lists(children, max_size=4), st.dictionaries(keys, children, max_size=5)), max_leaves=30)


@st.composite
def mutated(draw, value):
    """``value`` with some of its parts replaced, dropped or added to."""
    action = draw(st.sampled_from(["keep", "keep", "recurse", "recurse", "recurse", "replace"]))
    if action == "replace":
        return draw(values)
    if action == "keep" or not isinstance(value, (dict, list)):
        return value
    if isinstance(value, list):
        items = [draw(mutated(item)) for item in value]
        if items and draw(st.booleans()):
            del items[draw(st.integers(0, len(items) - 1))]
        return items
    result = {}
    for key, item in value.items():
        if draw(st.integers(0, 9)) == 0:
            continue  # drop the key
        result[key] = draw(mutated(item))
    if draw(st.integers(0, 4)) == 0:
        result[draw(keys)] = draw(values)
    return result


@st.composite
def documents(draw):
    """YAML text: a mutated sample, a random document, or either with random text spliced in."""
    kind = draw(st.sampled_from(["sample", "sample", "random", "splice"]))
    data = draw(mutated(SAMPLE)) if kind != "random" else draw(values)
    text = yaml.safe_dump(data, sort_keys=False)
    if kind == "splice":
        at = draw(st.integers(0, len(text)))
        cut = draw(st.integers(0, 20))
        text = text[:at] + draw(st.text(alphabet=" -:[]{}#&*!|>'\"\n\tab1", max_size=12)) + text[at + cut:]
    return text


def _safe_import(real):
    """An import_module that only imports test modules and what is already loaded, so no random name runs code."""
    def import_module(name, package=None):
        if name in sys.modules or name.startswith("tests.flow"):
            return real(name, package)
        raise ModuleNotFoundError("No module named %r" % (name,))

    return import_module


PROBLEM_LINE = re.compile(r"^(?P<path>.+):(?P<line>[1-9][0-9]*): (?P<message>\S.*)$")


class TestAnyDocument:
    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(documents())
    def test_config_or_problems(self, text):
        """check_paths() returns a configuration, or problems with a file and a line; it never raises."""
        with tempfile.TemporaryDirectory() as folder, \
                mock.patch.object(importlib, "import_module", _safe_import(importlib.import_module)):
            path = str(Path(folder) / "flows.yml")
            Path(path).write_text(text, encoding="utf-8")
            result = check.check_paths(path)
        assert (result.config is None) == bool(result.problems)
        for problem in result.problems + result.warnings:
            assert (path, True, True, False) == (problem.path, isinstance(problem.line, int) and problem.line >= 1,
                                                 bool(problem.message), "\n" in problem.message)

    @settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(documents())
    def test_command(self, text):
        """flowtrace check exits 0 or 1 and prints only file:line: message lines and its summary; no traceback."""
        out, err = io.StringIO(), io.StringIO()
        with tempfile.TemporaryDirectory() as folder, \
                mock.patch.object(importlib, "import_module", _safe_import(importlib.import_module)), \
                contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            path = str(Path(folder) / "flows.yml")
            Path(path).write_text(text, encoding="utf-8")
            code = cli.main(["check", path])
        lines = out.getvalue().splitlines()
        assert ("", True) == (err.getvalue(), code in (0, 1))
        if code == 0:
            assert lines[-1].startswith("ok: ")
            assert [] == [line for line in lines[:-1] if not PROBLEM_LINE.match(line)
                          or not line.startswith(path + ":") or ": warning: " not in line]
        else:
            assert re.match(r"^flowtrace check: \d+ errors?, \d+ warnings? in 1 file$", lines[-1])
            assert [] == [line for line in lines[:-1] if not PROBLEM_LINE.match(line) or not line.startswith(path)]
