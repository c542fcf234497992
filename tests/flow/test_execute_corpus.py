"""flowtrace execute runs every flow of Selinon's corpus (tests/data/selinon), with the corpus test's stub tasks."""

import json

import pytest
import yaml

from flowtrace import cli
from flowtrace.flow.execute import ENDED, STOPPED, execute
from flowtrace.flow.load.check import check_paths
from tests.flow.execution_order import violations
from tests.flow.load.test_selinon_corpus import CORPUS, SETS, stubs  # noqa: F401  (stubs: a fixture)


def _flows():
    """``(set, flow)`` for every flow of every set the corpus test loads."""
    found = []
    for name, (nodes, flows) in sorted(SETS.items()):
        names = {}
        for path in [nodes] + flows:  # read, not loaded: the stub modules are written later
            for flow in (yaml.safe_load((CORPUS / path).read_text()) or {}).get("flows") or []:
                names[flow] = None
        found.extend((name, flow) for flow in names)
    return found


def _left_unfinished(records):
    """The flow tasks that started and never ended (a stopped flow's dispatcher is still waiting: not counted)."""
    started = {r["details"]["task_id"] for r in records
               if r["event"] == "TASK_START" and r["details"]["task_name"] != "flowtrace.dispatcher"}
    ended = {r["details"]["task_id"] for r in records if r["event"] in ("TASK_END", "TASK_FAILURE")}
    return sorted(started - ended)


#: The flows with a cycle whose conditions are always true: with tasks that always succeed they run for
#: ever, on real workers as here.
CYCLES = {("docs.source/_static/graphs/patterns.yaml", "patterns_diamond_flow1"),
          ("docs.source/_static/graphs/patterns.yaml", "patterns_diamond2_flow1"),
          ("test/data/migrations/input/new/remove_edge", "flow5"),
          ("test/data/migrations/input/old/remove_edge", "flow5"),
          ("test/data/migrations/input/old/remove_from", "flow1")}


@pytest.mark.parametrize("name, flow", _flows())
def test_corpus_flow(name, flow, stubs, tmp_path, monkeypatch):  # noqa: F811
    """The flow ends (a cycle: still runs when stopped), every task it started ends, and every causal rule holds."""
    # Selinon's Filesystem storage without a path keeps its results in $PWD.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PWD", str(tmp_path))
    nodes, flows = SETS[name]
    config = check_paths(*[str(CORPUS / path) for path in [nodes] + flows]).config
    if config.settings.migration_dir is not None:
        # Selinon's migration test sets name a relative folder that holds no migration yet. Where it is missing,
        # every wake-up is a MIGRATION_ERROR and the flow waits for it, as with Selinon: make it, as a deployment would.
        (tmp_path / config.settings.migration_dir).mkdir(parents=True, exist_ok=True)
    cycle = (name, flow) in CYCLES
    execution = execute(config, flow, {"corpus": name}, sleep_time=0.05, timeout=1.0 if cycle else 30.0)
    records = [json.loads(line) for line in execution.lines]
    assert (STOPPED if cycle else ENDED, [], []) == (
        execution.outcome, _left_unfinished(records), violations(records, config))


def test_selinon_cli_options(stubs, capsys, tmp_path, monkeypatch):  # noqa: F811
    """The options of Selinon's own executor test set run with flowtrace execute, as selinon-cli takes them."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PWD", str(tmp_path))
    nodes, flows = SETS["test/data/cli/execute"]
    argv = ["execute", "--nodes-definition", str(CORPUS / nodes)]
    for path in flows:
        argv += ["--flow-definitions", str(CORPUS / path)]
    config = check_paths(*[str(CORPUS / path) for path in [nodes] + flows]).config
    first = sorted(config.flows)[0]
    code = cli.main(argv + ["--flow-name", first, "--node-args", "{}", "--no-view"])
    assert (0, "flow %s ended" % first) == (code, capsys.readouterr().out.split(" (")[0])
