"""Tests for flowtrace/flow/load/check.py (and the readers behind it): every problem, with its file and line."""

import os
import textwrap

from flowtrace.flow.load.check import check_paths

# Lines 1-8 of most documents below: one storage and three tasks.
NODES = """\
storages:
  - name: db
    import: tests.flow.sample
    classname: MemoryStorage
tasks:
  - {name: a, import: tests.flow.sample, classname: FetchOrder, storage: db}
  - {name: b, import: tests.flow.sample, classname: CheckStock, storage: db}
  - {name: c, import: tests.flow.sample, classname: Refund}
"""


def write(tmp_path, text, name="flows.yml", nodes=True):
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text((NODES if nodes else "") + textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def problems(tmp_path, text, nodes=True):
    """Check one document; return its errors as 'line: message' and its warnings as 'line: warning: message'."""
    path = write(tmp_path, text, nodes=nodes)
    result = check_paths(str(path))
    assert {str(path)} >= {problem.path for problem in result.problems + result.warnings}
    found = [(problem.line, "", problem.message) for problem in result.problems]
    found += [(problem.line, "warning: ", problem.message) for problem in result.warnings]
    return ["%d: %s%s" % found_one for found_one in sorted(found, key=lambda one: one[0])]


def config(tmp_path, text, nodes=True):
    """Check one document that must be valid; return the configuration."""
    result = check_paths(str(write(tmp_path, text, nodes=nodes)))
    assert [] == [str(problem) for problem in result.problems]
    return result.config


class TestFiles:
    def test_missing_path_and_empty_folder(self, tmp_path):
        """A path that does not exist and a folder without YAML are problems on line 1."""
        (tmp_path / "empty").mkdir()
        result = check_paths(str(tmp_path / "nope.yml"), str(tmp_path / "empty"))
        assert [str(tmp_path / "nope.yml") + ":1: no such file or folder",
                str(tmp_path / "empty") + ":1: the folder holds no .yml or .yaml file"] \
            == [str(problem) for problem in result.problems]

    def test_empty_file_and_wrong_top_level(self, tmp_path):
        """An empty file and a file that is not a mapping are reported."""
        empty = write(tmp_path, "", name="a.yml", nodes=False)
        listing = write(tmp_path, "- a\n", name="b.yml", nodes=False)
        result = check_paths(str(empty), str(listing))
        assert [
            str(empty) + ":1: the file is empty; expected a mapping with any of: tasks, flows, storages, global, "
                         "flow-definitions",
            str(listing) + ":1: the file must hold a mapping with any of: tasks, flows, storages, global, "
                           "flow-definitions; not a list",
        ] == [str(problem) for problem in result.problems]

    def test_unknown_top_level_key(self, tmp_path):
        """An unknown top-level key is a warning, as in Selinon, with the nearest valid one."""
        assert ["6: warning: task 'a' is not used by any flow", "7: warning: task 'b' is not used by any flow",
                "8: warning: task 'c' is not used by any flow",
                "9: warning: top level: skipping the unknown key 'flow-definition'; did you mean 'flow-definitions'?"] \
            == problems(tmp_path, "flow-definition: []\n")

    def test_duplicate_key(self, tmp_path):
        """A key written twice in one mapping is a warning on the second, whose value is used, as in Selinon."""
        assert ["2: warning: task 'a' is not used by any flow",
                "4: warning: the key 'import' is written twice in one mapping (first at line 3); the last value "
                "is used"] == problems(tmp_path, """
            tasks:
              - name: a
                import: tests.flow.sample
                import: tests.flow.sample
                classname: Refund
        """, nodes=False)

    def test_syntax_error(self, tmp_path):
        """Malformed YAML is one problem at the line where it is wrong."""
        assert ["3: invalid YAML: expected <block end>, but found '<block mapping start>' (while parsing a block "
                "collection at line 2); check the indentation"] == problems(tmp_path, """
            tasks:
              - name: a
               import: x
        """, nodes=False)

    def test_python_object_tag(self, tmp_path, monkeypatch):
        """A !!python/object tag is refused with its file and line, and nothing it names is run."""
        monkeypatch.setattr(os, "system", lambda command: pytest_fail("os.system was called"))
        assert ["2: the tag !!python/object/apply:os.system is not allowed: flow configuration is plain YAML "
                "(mappings, lists, strings, numbers, booleans, null)"] == problems(tmp_path, """
            tasks:
              - !!python/object/apply:os.system ["echo hacked"]
        """, nodes=False)

    def test_problems_in_several_files(self, tmp_path):
        """Problems come in file order, then line order; definitions merge across files."""
        write(tmp_path, "flows: [main]\n", name="conf/nodes.yml")
        write(tmp_path, """
            flow-definitions:
              - name: main
                edges:
                  - {from: , to: a}
                  - {from: a, to: [b, c]}
                  - {from: b, to: x}
        """, name="conf/flows/main.yml", nodes=False)
        result = check_paths(str(tmp_path / "conf"))
        assert ([str(tmp_path / "conf/flows/main.yml"), str(tmp_path / "conf/nodes.yml")],
                [str(tmp_path / "conf/flows/main.yml") + ":6: flow 'main', edge 3: 'to': unknown task or flow 'x'; "
                 "expected one of: a, b, c, main"]) == (list(result.files), [str(p) for p in result.problems])

    def test_duplicates_across_files(self, tmp_path):
        """A task or flow defined twice, or a second global section, names both places."""
        first = write(tmp_path, """
            flows: [main]
            global: {}
            flow-definitions:
              - name: main
                edges: [{from: , to: [a, b, c]}]
        """, name="a.yml")
        second = write(tmp_path, """
            tasks:
              - {name: a, import: tests.flow.sample, classname: FetchOrder}
            global: {}
            flow-definitions:
              - name: main
                edges: [{from: , to: a}]
        """, name="b.yml", nodes=False)
        result = check_paths(str(first), str(second))
        assert [
            "%s:2: task 'a' is defined twice; the first is at %s:6" % (second, first),
            "%s:3: a second 'global' section; the first is at %s:10" % (second, first),
            "%s:5: flow 'main' is defined twice; the first is at %s:12" % (second, first),
        ] == [str(problem) for problem in result.problems]


def pytest_fail(message):
    raise AssertionError(message)


class TestTasks:
    def test_keys_and_types(self, tmp_path):
        """Unknown keys get a suggestion, Selinon-only keys are named as such, and values are type-checked."""
        assert [
            "2: warning: task 'a' is not used by any flow",
            "3: task 'a': module 'tests.flow.sample' has no 'a' (the task class: without a 'classname', the name)",
            "4: task 'a': 'max_retry' must be a whole number, 0 or more, not -1 (a number)",
            "5: task 'a': 'retry_countdown' must be a number of seconds, 0 or more, not 'soon'",
            "6: task 'a': 'storage_readonly' must be true or false, not 'yes'",
            "7: task 'a': unknown key 'queu'; did you mean 'queue'?",
            "8: task 'a', throttling: unknown key 'second'; did you mean 'seconds'?",
            "9: task 'a': 'output_schema' must be a non-empty string, not a list",
        ] == problems(tmp_path, """
            tasks:
              - name: a
                import: tests.flow.sample
                max_retry: -1
                retry_countdown: soon
                storage_readonly: "yes"
                queu: q
                throttling: {second: 1}
                output_schema: [x]
        """, nodes=False)

    def test_names_imports_and_storage(self, tmp_path):
        """Missing keys, bad names, failed imports, unknown storages and storage_task_name without storage."""
        assert [
            "3: task at line 3: 'name' is missing",
            "4: task at line 4: '1a' is not a valid name: use letters, digits and underscores, not starting with "
            "a digit",
            "6: task 'b': cannot import the module 'tests.flow.no_such': No module named 'tests.flow.no_such'",
            "7: task 'b': unknown storage 'dbb'; did you mean 'db'?",
            "8: task 'c': module 'tests.flow.sample' has no 'Nope' (the task class)",
            "8: task 'c': 'storage_task_name' needs a 'storage'",
            "9: task 'd': 'import' is missing",
        ] == problems(tmp_path, """
            storages: [{name: db, import: tests.flow.sample, classname: MemoryStorage}]
            tasks:
              - {import: tests.flow.sample, classname: Refund}
              - {name: 1a, import: tests.flow.sample, classname: Refund}
              - name: b
                import: tests.flow.no_such
                storage: dbb
              - {name: c, import: tests.flow.sample, classname: Nope, storage_task_name: x}
              - {name: d}
            flows: [main]
            flow-definitions:
              - name: main
                edges: [{from: , to: [b, c, d]}]
        """, nodes=False)

    def test_unused_task(self, tmp_path):
        """A task that no flow starts, waits for or falls back to is an error."""
        assert ["8: warning: task 'c' is not used by any flow"] == problems(tmp_path, """
            flows: [main]
            flow-definitions:
              - name: main
                edges: [{from: , to: a}]
                failures: [{nodes: a, fallback: b}]
        """)

    def test_task_and_flow_share_a_name(self, tmp_path):
        """Tasks and flows share one namespace."""
        assert ["9: 'a' is the name of a task (at %s:6) and of a flow" % (tmp_path / "flows.yml"),
                "12: flow-definitions: 'a' is a task, not a flow listed under 'flows'"] == problems(tmp_path, """
            flows: [main, a]
            flow-definitions:
              - {name: main, edges: [{from: , to: [a, b, c]}]}
              - {name: a, edges: [{from: , to: b}]}
        """)

    def test_queue_from_environment(self, tmp_path, monkeypatch):
        """{VAR} in a queue name is the environment variable, as in Selinon; an unset one is an error."""
        monkeypatch.setenv("FT_PREFIX", "prod")
        monkeypatch.delenv("FT_UNSET", raising=False)
        text = """
            tasks:
              - {name: a, import: tests.flow.sample, classname: FetchOrder, queue: "{FT_PREFIX}_tasks"}
              - {name: b, import: tests.flow.sample, classname: FetchOrder, queue: "{FT_UNSET}_tasks"}
            flows: [main]
            flow-definitions:
              - {name: main, edges: [{from: , to: [a, b]}]}
        """
        assert ["3: task 'b': 'queue' refers to the environment variable FT_UNSET, which is not set"] \
            == problems(tmp_path, text, nodes=False)
        monkeypatch.setenv("FT_UNSET", "x")
        loaded = config(tmp_path, text, nodes=False)
        assert ("prod_tasks", "x_tasks") == tuple(task.queue for task in loaded.tasks.values())


class TestStorages:
    def test_problems(self, tmp_path):
        """Storages need a name and an import; their class must exist; a cache's keys are checked."""
        assert [
            "2: storage at line 2: 'name' is missing",
            "3: storage 's': 'configuration' must be a mapping, not a string",
            "3: storage 's': module 'tests.flow.sample' has no 's' (the storage class: without a 'classname', "
            "the name)",
            "3: storage 's', cache: unknown key 'nmae'; did you mean 'name'?",
            "5: storage 'db' is defined twice; the first is at %s:4" % (tmp_path / "flows.yml"),
        ] == problems(tmp_path, """
            storages:
              - {import: tests.flow.sample}
              - {name: s, import: tests.flow.sample, configuration: x, cache: {nmae: LRU}}
              - {name: db, import: tests.flow.sample, classname: MemoryStorage}
              - {name: db, import: tests.flow.sample, classname: MemoryStorage}
        """, nodes=False)


class TestFlows:
    def test_listing_and_definitions(self, tmp_path):
        """A listed flow needs a definition, and a definition needs a listing."""
        assert [
            "9: flow 'main' is listed under 'flows' but has no definition under 'flow-definitions'",
            "11: flow-definitions: flow 'mian' is not listed under 'flows'; did you mean 'main'?",
        ] == problems(tmp_path, """
            flows: [main]
            flow-definitions:
              - {name: mian, edges: [{from: , to: [a, b, c]}]}
        """)

    def test_flow_keys(self, tmp_path):
        """Unknown flow keys, wrong values, and missing edges."""
        assert [
            "11: flow 'main': 'edges' is missing",
            "12: flow 'main': unknown key 'edgs'; did you mean 'edges'?",
            "13: flow 'main': 'eager_failures' must be true, false or task or flow names, not a number",
            "14: flow 'main': 'max_retry' must be a whole number, 0 or more, not 1.5 (a number)",
            "15: flow 'main': 'propagate_parent' must be true, false or sub-flow names, not a number",
        ] == [line for line in problems(tmp_path, """
            flows: [main]
            flow-definitions:
              - name: main
                edgs: [{from: , to: [a, b, c]}]
                eager_failures: 5
                max_retry: 1.5
                propagate_parent: 3
        """) if "not used" not in line]

    def test_starting_edge(self, tmp_path):
        """A flow needs an edge with an empty 'from'; nodes waited for must be started."""
        assert [
            "11: flow 'main': no starting edge: one edge must have an empty 'from' (from:)",
            "13: flow 'main': 'a' is waited for, but the flow never starts it",
        ] == problems(tmp_path, """
            flows: [main]
            flow-definitions:
              - name: main
                edges:
                  - from: a
                    to: [b, c]
        """)

    def test_edges(self, tmp_path):
        """'from' must be there, 'to' must name nodes, names must be known and 'from' must not repeat one."""
        assert [
            "14: flow 'main', edge 2: 'from' is missing; leave it empty (from:) for the starting edge",
            "15: flow 'main', edge 3: 'to' must name the tasks or flows to start",
            "16: flow 'main', edge 4: 'from' lists a number; expected the name of a task or flow",
            "16: flow 'main', edge 4: 'to': unknown task or flow 'bb'; did you mean 'b'?",
            "17: flow 'main', edge 5: 'a' is in 'from' twice",
            "18: flow 'main', edge 6: unknown key 'form'; did you mean 'from'?",
            "18: flow 'main', edge 6: 'from' is missing; leave it empty (from:) for the starting edge",
            "19: flow 'main', edge 7, selective: a selective edge starts one sub-flow, not 'c'",
            "20: flow 'main', edge 8: an edge must be a mapping, not a string",
        ] == problems(tmp_path, """
            flows: [main]
            flow-definitions:
              - name: main
                edges:
                  - {from: , to: a}
                  - {to: b}
                  - {from: a, to: []}
                  - {from: [a, 3], to: bb}
                  - {from: [a, a], to: c}
                  - {form: a, to: c}
                  - {from: a, to: c, selective: {tasks: [a]}}
                  - a -> b
        """)

    def test_failures(self, tmp_path):
        """Failures need nodes and a fallback, which is not the node itself nor true with propagate_failure."""
        assert [
            "16: flow 'main', failure 1: 'fallback' must be true or name the tasks or flows to start",
            "17: flow 'main', failure 2: 'a' cannot be its own fallback",
            "18: flow 'main', failure 3: 'propagate_failure' cannot be true when 'fallback' is true",
            "19: flow 'main', failure 4: 'nodes' must name the tasks or flows whose failure it handles",
            "20: flow 'main', failure 5: 'fallback': unknown task or flow 'x'; expected one of: a, b, c, main",
            "21: flow 'main', failure 6, condition: predicate 'fieldEqual' reads a task result, but a failure's "
            "condition has none to read",
        ] == problems(tmp_path, """
            flows: [main]
            flow-definitions:
              - name: main
                edges:
                  - {from: , to: a}
                  - {from: a, to: [b, c]}
                failures:
                  - {nodes: a, fallback: false}
                  - {nodes: a, fallback: a}
                  - {nodes: [a, b], fallback: true, propagate_failure: true}
                  - {fallback: c}
                  - {nodes: b, fallback: [x]}
                  - {nodes: b, fallback: c, condition: {name: fieldEqual, args: {key: k, value: 1}}}
                  - {nodes: c, fallback: b, condition: {name: argsFieldExist, args: {key: retry}}}
        """)

    def test_nowait(self, tmp_path):
        """A nowait node must be started by the flow and not waited for."""
        assert [
            "15: flow 'main': 'nowait' lists 'a', but the flow waits for it (at line 14)",
            "15: flow 'main': 'nowait' lists 'main', which the flow never starts",
        ] == problems(tmp_path, """
            flows: [main]
            flow-definitions:
              - name: main
                edges:
                  - {from: , to: a}
                  - {from: a, to: [b, c]}
                nowait: [a, b, main]
        """)

    def test_propagate(self, tmp_path):
        """propagate_* lists name sub-flows that the flow starts, waits for, or handles the failure of."""
        assert [
            "17: flow 'main': 'propagate_node_args' lists 'a', a task; it takes sub-flows only",
            "18: flow 'main': 'propagate_parent' lists 'other', which the flow never starts",
            "19: flow 'main': 'propagate_finished' lists 'other', but no edge or failure of the flow waits for it",
            "20: flow 'main': 'propagate_failures' lists 'sub', but no 'failures' entry handles its failure",
            "21: flow 'main': 'propagate_finished' and 'propagate_compound_finished' exclude each other; list the "
            "sub-flows of each instead of true",
        ] == problems(tmp_path, """
            flows: [main, sub, other]
            flow-definitions:
              - {name: sub, edges: [{from: , to: c}]}
              - {name: other, edges: [{from: , to: c}]}
              - name: main
                edges:
                  - {from: , to: [a, sub]}
                  - {from: [a, sub], to: b}
                propagate_node_args: a
                propagate_parent: [sub, other]
                propagate_finished: [sub, other]
                propagate_failures: [sub]
                propagate_compound_finished: true
        """)

    def test_foreach(self, tmp_path):
        """foreach needs an importable function of two arguments; propagate_result starts sub-flows only."""
        assert [
            "16: flow 'main', edge 2, foreach: 'function' is missing",
            "17: flow 'main', edge 3, foreach: module 'tests.flow.sample' has no 'nope' (the foreach function)",
            "18: flow 'main', edge 4, foreach: tests.flow.sample.NOT_A_FUNCTION is not callable",
            "19: flow 'main', edge 5, foreach: 'propagate_result' must be true or false, not 'yes'",
            "20: flow 'main', edge 6, foreach: foreach 'propagate_result' starts sub-flows only, and 'c' is a task",
            "21: flow 'main', edge 7, foreach: foreach 'propagate_result' gives 'sub' its node arguments, so "
            "'propagate_node_args' must not list it",
            "22: flow 'main', edge 8, foreach: tests.flow.sample.positional_only must take two arguments, "
            "(storage_pool, node_args)",
        ] == problems(tmp_path, """
            flows: [main, sub]
            flow-definitions:
              - {name: sub, edges: [{from: , to: c}]}
              - name: main
                propagate_node_args: true
                edges:
                  - {from: , to: a}
                  - {from: a, to: b, foreach: {import: tests.flow.sample}}
                  - {from: a, to: b, foreach: {import: tests.flow.sample, function: nope}}
                  - {from: a, to: b, foreach: {import: tests.flow.sample, function: NOT_A_FUNCTION}}
                  - {from: a, to: b, foreach: {import: tests.flow.sample, function: each_parcel, propagate_result: "yes"}}
                  - {from: a, to: c, foreach: {import: tests.flow.sample, function: each_parcel, propagate_result: true}}
                  - {from: a, to: sub, foreach: {import: tests.flow.sample, function: each_parcel, propagate_result: true}}
                  - {from: a, to: b, foreach: {import: tests.flow.sample, function: positional_only}}
        """)


CONDITION_FLOW = """
    flows: [main, sub]
    flow-definitions:
      - {name: sub, edges: [{from: , to: c}]}
      - name: main
        edges:
          - from:
            to: [a, c, sub]
          - from: [a, c, sub]
            to: b
            condition:
%s
"""


def condition_problems(tmp_path, condition):
    """The problems of a condition on the edge from a, c (no storage) and sub to b; it starts at line 19."""
    text = CONDITION_FLOW % textwrap.indent(textwrap.dedent(condition).strip("\n"), " " * 14)
    return problems(tmp_path, text)


class TestConditions:
    def test_valid(self, tmp_path):
        """A valid condition loads as the tree it describes."""
        assert [] == condition_problems(tmp_path, """
            or:
              - {name: fieldEqual, node: a, args: {key: k, value: 1}}
              - not: {name: argsFieldEqual, args: {key: k, value: [1, 2]}}
        """)

    def test_unknown_predicate(self, tmp_path):
        """An unknown predicate name gets the nearest known one."""
        assert ["19: flow 'main', edge 2, condition: there is no predicate 'fieldEqul' among the built-ins; "
                "did you mean 'fieldEqual'?"] == condition_problems(tmp_path, """
            {name: fieldEqul, node: a, args: {key: k, value: 1}}
        """)

    def test_unknown_predicate_among_selinons(self, tmp_path):
        """A misspelt name of one of Selinon's predicates finds it, whatever its case."""
        assert ["19: flow 'main', edge 2, condition: there is no predicate 'fieldgreatr' among the built-ins; "
                "did you mean 'fieldGreater'?"] == condition_problems(tmp_path, """
            {name: fieldgreatr, node: a, args: {key: k, value: 1}}
        """)

    def test_arguments(self, tmp_path):
        """Missing and unknown arguments are found from the function's signature."""
        assert [
            "20: flow 'main', edge 2, condition: predicate 'fieldEqual': unknown argument 'vale'; did you mean "
            "'value'?",
            "20: flow 'main', edge 2, condition: predicate 'fieldEqual' needs the argument 'value'",
            "21: flow 'main', edge 2, condition: predicate 'fieldExist' needs the argument 'key'",
            "22: flow 'main', edge 2, condition: the 'args' of predicate 'argsFieldExist' must be a mapping, "
            "not a list",
        ] == condition_problems(tmp_path, """
            and:
              - {name: fieldEqual, node: a, args: {key: k, vale: 1}}
              - {name: fieldExist, node: a}
              - {name: argsFieldExist, args: [key]}
        """)

    def test_nodes(self, tmp_path):
        """A result predicate names one 'from' node that is a task with a readable storage; for others a node is a warning."""
        assert [
            "20: flow 'main', edge 2, condition: predicate 'fieldExist' reads a task result: say whose with 'node' "
            "(one of 'a', 'c' and 'sub')",
            "21: flow 'main', edge 2, condition: 'node' must be one of the edge's 'from' nodes (a, c, sub), not 'b'",
            "22: flow 'main', edge 2, condition: predicate 'fieldExist' reads the result of 'c', which has no "
            "'storage' to read it from",
            "23: flow 'main', edge 2, condition: predicate 'fieldExist' reads a task result, and 'sub' is a flow",
            "24: warning: flow 'main', edge 2, condition: predicate 'argsFieldExist' does not read a task result, "
            "so its 'node' 'a' is not used",
        ] == condition_problems(tmp_path, """
            or:
              - {name: fieldExist, args: {key: k}}
              - {name: fieldExist, node: b, args: {key: k}}
              - {name: fieldExist, node: c, args: {key: k}}
              - {name: fieldExist, node: sub, args: {key: k}}
              - {name: argsFieldExist, node: a, args: {key: k}}
        """)

    def test_structure(self, tmp_path):
        """and/or take a non-empty list, not takes one condition, and a condition has exactly one form."""
        assert [
            "20: flow 'main', edge 2, condition: 'and' takes a non-empty list of conditions, not a list",
            "21: flow 'main', edge 2, condition: 'or' takes a non-empty list of conditions, not a mapping",
            "22: flow 'main', edge 2, condition: 'not' takes one condition, not a list",
            "23: flow 'main', edge 2, condition: give exactly one of 'name', 'and', 'or' and 'not', not 'name' and "
            "'not'",
            "24: flow 'main', edge 2, condition: unknown key 'nmae'; did you mean 'name'?",
            "25: flow 'main', edge 2, condition: unknown key 'node' beside 'not', which takes no other key",
            "26: flow 'main', edge 2, condition: unknown key 'arg'; did you mean 'args'?",
            "27: flow 'main', edge 2, condition: expected a mapping with 'name', 'and', 'or' or 'not', not a string",
            "28: flow 'main', edge 2, condition: the condition is empty; expected 'name', 'and', 'or' or 'not'",
        ] == condition_problems(tmp_path, """
            or:
              - and: []
              - or: {name: alwaysTrue}
              - not: [{name: alwaysTrue}]
              - {name: alwaysTrue, not: {name: alwaysFalse}}
              - {nmae: alwaysTrue}
              - {not: {name: alwaysTrue}, node: a}
              - {name: alwaysTrue, arg: {}}
              - alwaysTrue
              - {}
        """)

    def test_starting_edge(self, tmp_path):
        """A predicate on a starting edge cannot read a result."""
        assert ["15: flow 'main', edge 1, condition: predicate 'fieldExist' reads a task result, but a starting "
                "edge has none to read"] == problems(tmp_path, """
            flows: [main]
            flow-definitions:
              - name: main
                edges:
                  - from:
                    to: [a, b, c]
                    condition: {name: fieldExist, args: {key: k}}
        """)

    def test_readonly_storage(self, tmp_path):
        """The result of a task with storage_readonly is not stored, so no predicate can read it."""
        assert ["7: flow 'main', edge 2, condition: predicate 'fieldExist' reads the result of 'a', whose storage "
                "is read-only (storage_readonly), so its result is not stored"] == problems(tmp_path, """
            storages: [{name: db, import: tests.flow.sample, classname: MemoryStorage}]
            tasks:
              - {name: a, import: tests.flow.sample, classname: Audit, storage: db, storage_readonly: true}
              - {name: b, import: tests.flow.sample, classname: Refund}
            flows: [main]
            flow-definitions:
              - {name: main, edges: [{from: , to: a}, {from: a, to: b, condition: {name: fieldExist, args: {key: k}}}]}
        """, nodes=False)

    def test_predicates_module(self, tmp_path):
        """User predicates come from predicates_module; when it cannot be imported, only built-ins are checked."""
        text = """
            global: {predicates_module: %s}
            flows: [main]
            flow-definitions:
              - name: main
                edges:
                  - {from: , to: a}
                  - {from: a, to: [b, c], condition: {or: [{name: amountAbove, args: {limit: 1}},
                                                           {name: fieldEqul, args: {key: k, value: 1}}]}}
        """
        assert ["16: flow 'main', edge 2, condition: there is no predicate 'fieldEqul' in tests.flow.sample or among "
                "the built-ins; did you mean 'fieldEqual'?"] == problems(tmp_path, text % "tests.flow.sample")
        assert ["9: global: cannot import predicates_module 'tests.flow.nope': No module named 'tests.flow.nope'"] \
            == problems(tmp_path, text % "tests.flow.nope")

    def test_implied_node(self, tmp_path):
        """With one 'from' node, a result predicate reads that node without naming it."""
        loaded = config(tmp_path, """
            flows: [main]
            flow-definitions:
              - {name: main, edges: [{from: , to: a}, {from: a, to: [b, c], condition: {name: fieldExist, args: {key: k}}}]}
        """)
        assert "a" == loaded.flows["main"].edges[1].condition.node


class TestGlobal:
    def test_keys_and_queues(self, tmp_path):
        """Global keys are checked; the default queues apply to tasks and flows that name none."""
        assert [
            "15: global: unknown key 'default_queue'; did you mean 'default_task_queue'?",
        ] == problems(tmp_path, """
            flows: [main]
            flow-definitions:
              - {name: main, edges: [{from: , to: [a, b, c]}]}
            global:
              default_task_queue: t
              default_dispatcher_queue: d
              default_queue: x
              migration_dir: m
        """)

    def test_default_queues(self, tmp_path):
        """default_task_queue and default_dispatcher_queue fill in the queues, wherever global is written."""
        loaded = config(tmp_path, """
            flows: [main]
            flow-definitions:
              - {name: main, edges: [{from: , to: [a, b, c]}]}
            global: {default_task_queue: t, default_dispatcher_queue: d}
        """)
        assert (["t", "t", "t"], "d") == ([task.queue for task in loaded.tasks.values()], loaded.flows["main"].queue)

    def test_trace(self, tmp_path):
        """Each trace entry is checked with parse_trace_config, on its own line."""
        assert [
            "15: global.trace entry 2 (json): unknown option 'pth'; expected path, max_line, events, min_level",
            "16: global.trace entry 3 (storage): unknown storage 'dbb'; did you mean 'db'?",
            "17: global.trace entry 4 (function): cannot import module 'tests.flow.nope' for the function sink: "
            "ModuleNotFoundError: No module named 'tests.flow.nope'",
            "18: global.trace entry 5 (sentry): a 'dsn' string is required, got None",
        ] == problems(tmp_path, """
            flows: [main]
            flow-definitions:
              - {name: main, edges: [{from: , to: [a, b, c]}]}
            global:
              trace:
                - logging: true
                - json: {pth: x}
                - storage: {name: dbb}
                - function: {import: tests.flow.nope, name: f}
                - sentry: {}
        """)

    def test_trace_has_no_side_effects(self, tmp_path):
        """Checking a JSON sink's path does not create the file, and a Sentry DSN does not start Sentry."""
        log = tmp_path / "events.jsonl"
        loaded = config(tmp_path, """
            flows: [main]
            flow-definitions:
              - {name: main, edges: [{from: , to: [a, b, c]}]}
            global:
              trace:
                - json: {path: %s}
                - sentry: {dsn: "https://key@example.invalid/1", min_level: error}
        """ % log)
        import sentry_sdk

        trace = ({"json": {"path": str(log)}},
                 {"sentry": {"dsn": "https://key@example.invalid/1", "min_level": "error"}})
        assert (trace, False, False) == (loaded.settings.trace, log.exists(), sentry_sdk.get_client().is_active())

    def test_selinon_trace_forms(self, tmp_path):
        """Selinon's single-mapping trace and entries with several sinks become one entry per sink."""
        loaded = config(tmp_path, """
            flows: [main]
            flow-definitions:
              - {name: main, edges: [{from: , to: [a, b, c]}]}
            global:
              trace: {logging: true, json: true}
        """)
        assert ({"logging": True}, {"json": True}) == loaded.settings.trace


class TestStorageClasses:
    """Storage classes are checked as adapters, and global: trace: storage entries against their class."""

    FLOW = """\
tasks:
  - {name: a, import: tests.flow.sample, classname: FetchOrder, storage: db}
flows: [f]
flow-definitions:
  - {name: f, edges: [{from: [], to: a}]}
storages:
  - {name: db, import: tests.flow.sample, classname: MemoryStorage}
"""

    def test_a_class_that_is_not_an_adapter(self, tmp_path):
        """A storage class without the adapter methods is an error at its classname line."""
        assert ["10: storage 'bad': tests.flow.sample.NotAStorage has no connect(), is_connected(), disconnect(), "
                "retrieve(), store() methods, which a storage adapter needs"] == problems(tmp_path, self.FLOW + """\
  - name: bad
    import: tests.flow.sample
    classname: NotAStorage
""", nodes=False)

    def test_a_trace_storage_without_the_method(self, tmp_path):
        """A trace storage whose class has not the method named is an error at the method's line."""
        assert ["11: global.trace entry 1 (storage): the storage 'db' (tests.flow.sample.MemoryStorage) has no "
                "method 'dump', which is called with each event"] == problems(tmp_path, self.FLOW + """\
global:
  trace:
    - storage: {name: db,
                method: dump}
""", nodes=False)

    def test_a_trace_storage_with_the_method(self, tmp_path):
        """A trace storage whose class has the method (trace by default) loads."""
        loaded = config(tmp_path, self.FLOW + """\
  - {name: traced, import: tests.flow.sample, classname: TracingStorage}
global:
  trace:
    - storage: {name: traced}
""", nodes=False)
        assert [("traced", "trace")] == [(one.storage, one.method) for one in loaded.settings.trace_storages]

    def test_selinon_adapters_run_on_flowtraces(self, tmp_path):
        """Selinon's Redis, PostgreSQL and S3 adapters load as flowtrace's RedisStorage, SqlStorage and S3Storage."""
        from flowtrace.storages import RedisStorage, S3Storage, SqlStorage
        from tests.flow.sample import MemoryStorage

        loaded = config(tmp_path, self.FLOW + """\
  - {name: r, import: selinon.storages.redis, classname: Redis, configuration: {host: localhost}}
  - {name: p, import: selinon.storages.postgresql, classname: PostgreSQL}
  - {name: s, import: selinon.storages.s3, classname: S3}
""", nodes=False)
        assert ({"db": MemoryStorage, "r": RedisStorage, "p": SqlStorage, "s": S3Storage},
                ("selinon.storages.redis", "Redis")) == (
            {name: storage.load_class() for name, storage in loaded.storages.items()},
            (loaded.storages["r"].import_path, loaded.storages["r"].class_name))
