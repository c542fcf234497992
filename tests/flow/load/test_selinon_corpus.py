"""Selinon's own configurations (tests/data/selinon, see its ORIGIN.md) load with flowtrace as with Selinon 1.4.0.

Each set is what Selinon's ``System.from_files(nodes, flows)`` takes. The
modules the YAML imports are stubs this test writes: a class for each task
and storage, a two-argument function for each ``foreach``. Selinon itself
builds each set too, so that the test knows which it accepts and what it
builds: the flows, edges, tasks and storages flowtrace loads must match.
"""

import logging
import sys
from pathlib import Path

import pytest
import yaml

from flowtrace import cli
from flowtrace.flow.load.check import check_paths
from flowtrace.flow.model import And, Not, Or, Predicate

selinon = pytest.importorskip("selinon")
from selinon.builtin_predicate import (  # noqa: E402  (after the skip)
    AlwaysTruePredicate, AndPredicate, NotPredicate, OrPredicate,
)
from selinon.global_config import GlobalConfig  # noqa: E402
from selinon.system import System  # noqa: E402

CORPUS = Path(__file__).resolve().parent.parent.parent / "data" / "selinon"
MIGRATIONS = "test/data/migrations/input"
VERSIONS = "test/data/migrations/migration_dirs/_configuration"


def _flows(folder):
    return sorted(str(path.relative_to(CORPUS)) for path in (CORPUS / folder).glob("*.y*ml"))


def _sets():
    """``{name: (nodes file, flow files)}``, paths relative to the corpus, as Selinon's tests pass them."""
    sets = {}
    for path in sorted((CORPUS / "docs.source/_static/graphs").glob("*.yaml")) + [CORPUS / "example/dinner.yaml",
                                                                                 CORPUS / "test/data/test_set_config.yaml",
                                                                                 CORPUS / "test/data/test_trace_setup.yaml"]:
        name = str(path.relative_to(CORPUS))
        sets[name] = (name, [name])  # one file holds the nodes and the flow definitions
    sets["test/data/cli/execute"] = ("test/data/cli/execute/nodes.yaml", _flows("test/data/cli/execute/flows"))
    for case in ("add_flow", "add_from", "add_to", "no_change", "remove_edge", "remove_from", "remove_to"):
        old = "%s/old/%s" % (MIGRATIONS, case)
        flows = _flows(old + "/flows")
        if case == "add_flow":  # old/add_flow/flows/flow1.yaml is a link to new/add_flow/flows/flow1.yaml
            flows = ["%s/new/add_flow/flows/flow1.yaml" % MIGRATIONS] + flows
        sets[old] = (old + "/nodes.yaml", flows)
        new = "%s/new/%s" % (MIGRATIONS, case)
        if (CORPUS / new).is_dir():  # new/no_change is a link to old/no_change
            nodes = new + "/nodes.yaml" if (CORPUS / new / "nodes.yaml").exists() else old + "/nodes.yaml"
            sets[new] = (nodes, _flows(new + "/flows"))
    for version in ("ver_1", "ver_2", "ver_3"):
        folder = "%s/%s" % (VERSIONS, version)
        sets[folder] = (folder + "/nodes.yml", _flows(folder + "/flows"))
    return sets


SETS = _sets()

#: The sets Selinon 1.4.0 refuses, with what its error says; flowtrace refuses them for the same reason.
#: Selinon accepts every set of its corpus.
REFUSED = {}

def _params():
    return sorted(SETS)


def _walk(value):
    if isinstance(value, dict):
        yield value
        for item in value.values():
            yield from _walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item)


_TASK_STUB = """\
class %s(__import__("selinon").SelinonTask):
    def run(self, node_args):
        return None
"""
_STORAGE_STUB = """\
class %s(__import__("selinon").DataStorage):
    def __init__(self, **configuration):  # abstract in selinon.DataStorage
        super().__init__()

    def connect(self):
        pass

    def is_connected(self):
        return True

    def disconnect(self):
        pass

    def retrieve(self, flow_name, task_name, task_id):
        return None

    def store(self, node_args, flow_name, task_name, task_id, result):
        return task_id

    def trace(self, event, msg_dict):  # what a global: trace: storage entry calls
        pass
"""


@pytest.fixture(scope="module")
def stubs(tmp_path_factory):
    """Write a module for each ``import`` of the corpus, holding what the YAML names; put them on sys.path."""
    folder = tmp_path_factory.mktemp("stubs")
    modules = {}
    for path in CORPUS.rglob("*.y*ml"):
        data = yaml.safe_load(path.read_text())
        # As a Selinon project writes them: tasks subclass SelinonTask, storages DataStorage.
        for entry in data.get("tasks") or []:
            modules.setdefault(entry["import"], {})[entry.get("classname", entry["name"])] = _TASK_STUB
        for entry in data.get("storages") or []:
            modules.setdefault(entry["import"], {})[entry.get("classname", entry["name"])] = _STORAGE_STUB
        for part in _walk(data.get("flow-definitions") or []):
            foreach = part.get("foreach")
            if isinstance(foreach, dict):
                modules.setdefault(foreach["import"], {})[foreach["function"]] = \
                    "def %s(storage_pool, node_args):\n    return []\n"
        for entry in _walk((data.get("global") or {}).get("trace") or []):
            function = entry.get("function")
            if isinstance(function, dict):
                modules.setdefault(function["import"], {})[function["name"]] = "def %s(event, msg_dict):\n    pass\n"
    modules = {name: names for name, names in modules.items() if not name.startswith("selinon.")}
    for module, names in modules.items():
        parts = module.split(".")
        for depth in range(1, len(parts)):
            package = folder.joinpath(*parts[:depth])
            package.mkdir(exist_ok=True)
            package.joinpath("__init__.py").touch()
        text = "".join(template % name for name, template in sorted(names.items()))
        folder.joinpath(*parts[:-1], parts[-1] + ".py").write_text(text)
    sys.path.insert(0, str(folder))
    yield modules
    sys.path.remove(str(folder))
    for name in [name for name in sys.modules if name.split(".")[0] in {module.split(".")[0] for module in modules}]:
        del sys.modules[name]


def _selinon(nodes, flows):
    """What Selinon 1.4.0 builds from the set, or the error it raises."""
    # GlobalConfig is class state that every from_files call adds to.
    GlobalConfig.predicates_module = "selinon.predicates"
    GlobalConfig.migration_dir = None
    for name in ("_trace_logging", "_trace_function", "_trace_storage", "_trace_sentry"):
        setattr(GlobalConfig, name, [])
    logging.getLogger("selinon").setLevel(logging.CRITICAL)
    try:
        return System.from_files(str(CORPUS / nodes), [str(CORPUS / flow) for flow in flows])
    except Exception as exc:  # Selinon raises ConfigurationError, and KeyError or TypeError for some shapes
        return exc


def _selinon_condition(predicate):
    if isinstance(predicate, AlwaysTruePredicate):
        return ("alwaysTrue", None)
    if isinstance(predicate, (AndPredicate, OrPredicate)):
        return ("and" if isinstance(predicate, AndPredicate) else "or",
                tuple(_selinon_condition(child) for child in predicate._children))
    if isinstance(predicate, NotPredicate):
        return ("not", _selinon_condition(predicate._child))
    return (predicate._func.__name__, predicate.node.name if predicate.requires_message() else None)


def _condition(condition):
    if isinstance(condition, (And, Or)):
        return ("and" if isinstance(condition, And) else "or", tuple(_condition(child) for child in condition.children))
    if isinstance(condition, Not):
        return ("not", _condition(condition.child))
    assert isinstance(condition, Predicate)
    return (condition.name, condition.node if condition.reads_result else None)


def _names(value):
    return value if isinstance(value, bool) else sorted(node.name for node in value)


def _selinon_model(system):
    return {
        "flows": {flow.name: {
            "edges": [(tuple(node.name for node in edge.nodes_from), tuple(node.name for node in edge.nodes_to),
                       _selinon_condition(edge.predicate)) for edge in flow.edges],
            "nowait": sorted(node.name for node in flow.nowait_nodes),
            "max_retry": flow.max_retry, "retry_countdown": flow.retry_countdown, "queue": flow.queue_name,
            "propagate": [_names(getattr(flow, "propagate_" + option)) for option in (
                "node_args", "parent", "finished", "failures", "parent_failures", "compound_finished",
                "compound_failures")],
            "node_args_from_first": flow.node_args_from_first, "throttling": flow.throttling,
        } for flow in system.flows},
        "tasks": {task.name: (task.class_name, task.import_path, task.queue_name, task.storage.name if task.storage
                              else None, task.max_retry, task.retry_countdown, task.throttling)
                  for task in system.tasks},
        "storages": {storage.name: (storage.import_path, storage.class_name, storage.configuration)
                     for storage in system.storages},
    }


def _flowtrace_model(config):
    def propagate(value):
        return value if isinstance(value, bool) else sorted(value)

    return {
        "flows": {flow.name: {
            "edges": [(edge.nodes_from, edge.nodes_to, _condition(edge.condition)) for edge in flow.edges],
            "nowait": sorted(flow.nowait),
            "max_retry": flow.max_retry, "retry_countdown": flow.retry_countdown, "queue": flow.queue,
            "propagate": [propagate(getattr(flow, "propagate_" + option)) for option in (
                "node_args", "parent", "finished", "failures", "parent_failures", "compound_finished",
                "compound_failures")],
            "node_args_from_first": flow.node_args_from_first, "throttling": flow.throttling,
        } for flow in config.flows.values()},
        "tasks": {task.name: (task.class_name, task.import_path, task.queue, task.storage, task.max_retry,
                              task.retry_countdown, task.throttling) for task in config.tasks.values()},
        "storages": {storage.name: (storage.import_path, storage.class_name, dict(storage.configuration))
                     for storage in config.storages.values()},
    }


class TestCorpus:
    def test_every_file_is_in_a_set(self):
        """Every YAML file of the corpus is read by some set, so none is left untested."""
        read = {path for nodes, flows in SETS.values() for path in [nodes] + flows}
        assert sorted(str(path.relative_to(CORPUS)) for path in CORPUS.rglob("*.y*ml")) == sorted(read)

    def test_origin_lists_every_file(self):
        """ORIGIN.md names every YAML file of the corpus with its original path."""
        origin = (CORPUS / "ORIGIN.md").read_text()
        assert [] == [str(path.relative_to(CORPUS)) for path in CORPUS.rglob("*.y*ml")
                      if "| `%s` |" % path.relative_to(CORPUS) not in origin]

    @pytest.mark.parametrize("name", _params())
    def test_loads_as_selinon_loads(self, name, stubs):
        """flowtrace accepts the set exactly when Selinon does, and builds the same flows, edges, tasks and storages."""
        nodes, flows = SETS[name]
        system = _selinon(nodes, flows)
        result = check_paths(*[str(CORPUS / path) for path in [nodes] + flows])
        if isinstance(system, Exception):
            assert (name, REFUSED.get(name), True) == (name, str(system), bool(result.problems))
            return
        assert (name, []) == (name, [str(problem) for problem in result.problems])
        assert _selinon_model(system) == _flowtrace_model(result.config)

    @pytest.mark.parametrize("name", _params())
    def test_flowtrace_check(self, name, stubs, capsys):
        """``flowtrace check`` exits 0 on each set and prints its ok line last."""
        nodes, flows = SETS[name]
        code = cli.main(["check"] + [str(CORPUS / path) for path in [nodes] + flows])
        lines = capsys.readouterr().out.splitlines()
        assert (0, "ok: ") == (code, lines[-1][:4])


#: Lines 1-5 of every refused document: three tasks, one with a storage, and the flow listing.
NODES = """\
storages: [{name: db, import: refusedapp, classname: Store, configuration: {x: 1}}]
tasks:
  - {name: A, import: refusedapp, storage: db}
  - {name: B, import: refusedapp}
flows: [f, g]
flow-definitions:
  - {name: g, edges: [{from: , to: B}]}
"""

#: Flow definitions Selinon 1.4.0 refuses (its System.from_files raises), and what flowtrace reports, at lines 8 on.
REFUSED_BY_BOTH = {
    "eager failure with a fallback": ("""
  - name: f
    eager_failures: A
    edges: [{from: , to: A}]
    failures: [{nodes: A, fallback: B}]
""", ["9: flow 'f': 'eager_failures' lists 'A', whose failure a 'failures' entry handles"]),
    "node_args_from_first with two starting nodes": ("""
  - name: f
    node_args_from_first: true
    edges: [{from: , to: [A, B]}]
""", ["9: flow 'f': 'node_args_from_first' needs exactly one starting node, the task whose result becomes the "
      "node arguments"]),
    "node_args_from_first from a sub-flow": ("""
  - name: f
    node_args_from_first: true
    edges: [{from: , to: g}]
""", ["9: flow 'f': 'node_args_from_first': the starting node 'g' is a flow; it must be a task"]),
    "selective edge to a task": ("""
  - name: f
    edges:
      - {from: , to: A}
      - {from: A, to: B, selective: {tasks: [B]}}
""", ["11: flow 'f', edge 2, selective: a selective edge starts one sub-flow, not 'B'"]),
    "selective without tasks": ("""
  - name: f
    edges:
      - {from: , to: A}
      - {from: A, to: g, selective: {follow_subflows: true}}
""", ["11: flow 'f', edge 2, selective: 'tasks' is missing; list the tasks to run"]),
    "propagate_finished and propagate_compound_finished": ("""
  - name: f
    propagate_finished: true
    propagate_compound_finished: [g]
    edges: [{from: , to: g}, {from: g, to: A}]
""", ["10: flow 'f': 'propagate_finished' and 'propagate_compound_finished' exclude each other; list the "
      "sub-flows of each instead of true"]),
    "propagate_compound_failures without a fallback": ("""
  - name: f
    propagate_compound_failures: [g]
    edges: [{from: , to: g}, {from: g, to: A}]
""", ["9: flow 'f': 'propagate_compound_failures' lists 'g', but no 'failures' entry handles its failure"]),
    "sampling without args": ("""
  - name: f
    sampling: {name: constant}
    edges: [{from: , to: A}]
""", ["9: flow 'f', sampling: 'args' is missing; give the strategy's arguments"]),
    "sampling with the wrong args": ("""
  - name: f
    sampling: {name: constant, args: {start_retry: 2}}
    edges: [{from: , to: A}]
""", ["9: flow 'f', sampling: strategy 'constant' needs the argument 'retry'",
      "9: flow 'f', sampling: strategy 'constant': unknown argument 'start_retry'; did you mean 'retry'?"]),
    "throttling with an unknown key": ("""
  - name: f
    throttling: {second: 3}
    edges: [{from: , to: A}]
""", ["9: flow 'f', throttling: unknown key 'second'; did you mean 'seconds'?"]),
    "cache that is not a mapping": ("""
  - name: f
    cache: LRU
    edges: [{from: , to: A}]
""", ["9: flow 'f', cache: 'cache' must be a mapping, not a string"]),
    "predicate node outside from": ("""
  - name: f
    edges:
      - {from: , to: A}
      - {from: A, to: B, condition: {name: argsFieldExist, node: B, args: {key: k}}}
""", ["11: flow 'f', edge 2, condition: predicate 'argsFieldExist' does not read a task result, so it takes no "
      "'node'; and 'B' is not one of the edge's 'from' nodes"]),
}


@pytest.fixture()
def refusedapp(tmp_path, monkeypatch):
    (tmp_path / "refusedapp.py").write_text("".join((_TASK_STUB % "A", _TASK_STUB % "B", _STORAGE_STUB % "Store")))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    sys.modules.pop("refusedapp", None)


class TestRefused:
    @pytest.mark.parametrize("case", sorted(REFUSED_BY_BOTH))
    def test_refused_by_both(self, case, refusedapp):
        """What Selinon refuses, flowtrace refuses too, with a file:line error saying why."""
        text, expected = REFUSED_BY_BOTH[case]
        path = refusedapp / "flows.yml"
        path.write_text(NODES + text.lstrip("\n"))
        selinon_result = _selinon(str(path), [str(path)])
        result = check_paths(str(path))
        assert (True, expected) == (isinstance(selinon_result, Exception),
                                    ["%d: %s" % (problem.line, problem.message) for problem in result.problems])

    def test_accepted_with_a_warning(self, refusedapp):
        """What Selinon accepts (and ignores), flowtrace loads with a warning: the node of an args predicate."""
        path = refusedapp / "flows.yml"
        path.write_text(NODES + """\
  - name: f
    edges:
      - {from: , to: A}
      - {from: A, to: g, condition: {name: argsFieldExist, node: A, args: {key: k}}}
""")
        selinon_result = _selinon(str(path), [str(path)])
        result = check_paths(str(path))
        assert (False, [], ["11: flow 'f', edge 2, condition: predicate 'argsFieldExist' does not read a task result, "
                            "so its 'node' 'A' is not used"]) == (
            isinstance(selinon_result, Exception), list(result.problems),
            ["%d: %s" % (problem.line, problem.message) for problem in result.warnings])
