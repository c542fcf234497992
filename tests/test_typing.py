"""flowtrace as a typed package (PEP 561): what a type checker sees of its public API."""

import importlib.resources
import re
import site
import subprocess
import sys
import typing
from pathlib import Path

import pytest

import flowtrace
from flowtrace import events
from flowtrace.trace import Trace

# Code as a user of flowtrace writes it; every line must type-check.
USER_CODE = """\
from typing import Any

from flowtrace import DataStorage, FlowTask, Trace, instrument, load_flows, run_flow


class Fetch(FlowTask):
    def run(self, node_args: Any) -> Any:
        return self.parent_task_result("Load")


def on_event(event: int, msg_dict: dict[str, Any]) -> bool:
    print(event, msg_dict)
    return True


def start(app: Any) -> None:
    instrument(app, include_args=True)
    run_flow(app, "order", {"order_id": 7})


sink = Trace.add_sink(on_event, min_level="warning")
reveal_type(sink)
reveal_type(Trace.TASK_START)
reveal_type(Trace.stats())
reveal_type(load_flows("flows.yml").tasks["fetch"])
storage: DataStorage | None = Fetch("order", "fetch", None, "task-id", "dispatcher-id").storage
Trace.log(Trace.TASK_START, {"task_name": "fetch"}, retries=0)
"""

# Code with one mistake per line from line 4 on, each of which the types catch.
MISUSE = """\
from flowtrace import Trace, no_such_name
from flowtrace.storages import InMemoryStorage

Trace.add_sink(42)
Trace.log(Trace.NO_SUCH_EVENT)
Trace.log("TASK_START", {"task_name": "fetch"})
InMemoryStorage().store(None, "order", "fetch", 7, {})
"""

_MESSAGE = re.compile(r"^[^:]+:(\d+): (error|note): (.*?)(?:  \[([a-z-]+)\])?$")


def _mypy_config(folder: Path, cache: Path) -> Path:
    """A mypy configuration that finds this flowtrace as a user's project would, and checks only the user's code."""
    root = Path(flowtrace.__file__).resolve().parent.parent
    installed = {Path(path).resolve() for path in site.getsitepackages() + [site.getusersitepackages()]}
    # An installed wheel is found in site-packages through its py.typed; this
    # checkout (an editable install's import hook, which mypy cannot follow)
    # through mypy_path.
    search = "" if root in installed else "mypy_path = %s\n" % root
    config = folder / "mypy.ini"
    config.write_text("[mypy]\n%scache_dir = %s\n\n[mypy-flowtrace.*]\nfollow_imports = silent\n"
                      % (search, cache), encoding="utf-8")
    return config


def _run_mypy(folder: Path, cache: Path, source: str):
    """Type-check ``source`` as a user's module; returns mypy's exit status and its messages as tuples.

    mypy runs in a process of its own: in this one it would leave the
    interpreter's recursion limit raised for the tests that follow.
    """
    module = folder / "user_code.py"
    module.write_text(source, encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(_mypy_config(folder, cache)),
                           "--no-error-summary", "--hide-error-context", "--no-pretty", "--no-color-output",
                           "--show-error-codes", "--python-executable", sys.executable, str(module)],
                          capture_output=True, text=True, timeout=300, cwd=str(folder))
    out, err, status = proc.stdout, proc.stderr, proc.returncode
    messages = []
    for line in out.splitlines():
        match = _MESSAGE.match(line)
        assert match is not None, "unexpected mypy output %r (stderr: %r)" % (line, err)
        number, kind, text, code = match.groups()
        # mypy 1 prints builtins.int where mypy 2 prints int.
        messages.append((int(number), kind, text.replace("builtins.", "") if kind == "note" else code))
    return status, messages


@pytest.fixture(scope="module")
def mypy_cache(tmp_path_factory):
    """One mypy cache for the module: flowtrace's modules are analysed once."""
    return tmp_path_factory.mktemp("mypy_cache")


class TestTypedPackage:
    def test_user_code_type_checks_with_the_public_types(self, tmp_path, mypy_cache):
        """A user's module importing the public names passes mypy, which sees flowtrace's own types for them."""
        status, messages = _run_mypy(tmp_path, mypy_cache, USER_CODE)
        assert (0, [
            (22, "note", 'Revealed type is "def (event: int, msg_dict: dict[str, Any]) -> bool"'),
            (23, "note", 'Revealed type is "int"'),
            (24, "note", 'Revealed type is "dict[str, dict[str, Any]]"'),
            (25, "note", 'Revealed type is "flowtrace.flow.model.Task"'),
        ]) == (status, messages)

    def test_misuse_of_the_public_api_is_reported(self, tmp_path, mypy_cache):
        """Each mistake is an error: a misspelt lazy name, a non-sink, an unknown event, wrong argument types."""
        status, messages = _run_mypy(tmp_path, mypy_cache, MISUSE)
        assert (1, [
            (1, "error", "attr-defined"),
            (4, "error", "type-var"),
            (5, "error", "attr-defined"),
            (6, "error", "arg-type"),
            (7, "error", "arg-type"),
        ]) == (status, messages)

    def test_trace_declares_every_event_of_the_catalogue(self):
        """``Trace`` declares an ``int`` class variable for each event, in catalogue order, for type checkers."""
        hints = typing.get_type_hints(Trace)
        declared = [name for name, hint in hints.items() if hint == typing.ClassVar[int]]
        assert [row.name for row in events.EVENTS] == declared

    def test_the_package_ships_py_typed(self):
        """The installed package holds the empty PEP 561 marker ``py.typed``."""
        marker = importlib.resources.files("flowtrace") / "py.typed"
        assert (True, b"") == (marker.is_file(), marker.read_bytes())
