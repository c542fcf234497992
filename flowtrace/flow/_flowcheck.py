"""Checking one flow definition: its edges, conditions, failures, nowait and propagate options.

Used by :mod:`flowtrace.flow.check`, which has read the tasks, storages and
the ``flows`` listing by then.
"""

from __future__ import annotations

import difflib
import inspect
from typing import Any, Dict, List, Literal, Optional, Tuple, Union

from flowtrace.flow import _yaml, predicates
from flowtrace.flow._words import a, and_list, plain, show, unknown
from flowtrace.flow.config import (
    ALWAYS_TRUE, PROPAGATE_OPTIONS, And, Edge, Failure, Flow, Foreach, FrozenMap, Location, Not, Or, Predicate,
)


class FlowReader:
    """Reads one flow definition; the checks that need the whole flow are in :meth:`read`."""

    def __init__(self, checker, path: str, item, where: str):
        self.c = checker
        self.path = path
        self.item = item
        self.where = where
        self.sources: Dict[str, int] = {}  # node -> the line where it is first waited for
        self.targets: Dict[str, int] = {}  # node -> the line where it is first started
        self.failed: Dict[str, int] = {}  # nodes handled by a failures entry
        self.foreach_checks: List[Tuple[str, int, Any]] = []  # (where, line, nodes_to) of propagate_result

    def error(self, line, message):
        self.c.error(self.path, line, "%s: %s" % (self.where, message))

    def read(self, name: str, here: Location) -> Optional[Flow]:
        c, item = self.c, self.item
        edges, complete = self.read_edges()
        failures = self.read_failures()
        if complete and not any(edge.is_starting for edge in edges):
            self.error(here.line, "no starting edge: one edge must have an empty 'from' (from:)")
        for node, line in self.sources.items():
            if node not in self.targets:
                self.error(line, "%r is waited for, but the flow never starts it" % node)
        nowait = self.read_nowait()
        propagate = {option: self.read_propagate(option) for option in PROPAGATE_OPTIONS}
        for edge_where, line, nodes_to in self.foreach_checks:
            for node in nodes_to:
                if node in c.tasks:
                    self.c.error(self.path, line, "%s: foreach 'propagate_result' starts sub-flows only, and %r is a "
                                 "task" % (edge_where, node))
                elif propagate["node_args"] is True or node in (propagate["node_args"] or ()):
                    self.c.error(self.path, line, "%s: foreach 'propagate_result' gives %r its node arguments, so "
                                 "'propagate_node_args' must not list it" % (edge_where, node))
        flow = Flow(
            name=name,
            edges=tuple(edges),
            failures=tuple(failures),
            nowait=nowait,
            max_retry=c.number(self.path, item, "max_retry", self.where, whole=True),
            retry_countdown=c.number(self.path, item, "retry_countdown", self.where, whole=False),
            queue=c.queue(self.path, item, "queue", self.where, c.settings.default_dispatcher_queue),
            propagate_node_args=propagate["node_args"],
            propagate_parent=propagate["parent"],
            propagate_finished=propagate["finished"],
            propagate_failures=propagate["failures"],
            location=here,
        )
        return flow

    # --- edges ---------------------------------------------------------------

    def read_edges(self) -> Tuple[List[Edge], bool]:
        """The edges that could be read, and whether that is all of them."""
        item = self.item
        value = item.get("edges")
        if not isinstance(value, _yaml.Seq) or not value:
            self.error(item.value_line("edges") if "edges" in item else item.line,
                       "'edges' must be a non-empty list of edges" if "edges" in item else "'edges' is missing")
            return [], False
        edges = []
        for index, (raw, line) in enumerate(zip(value, value.item_lines)):
            edge = self.read_edge(index, raw, line)
            if edge is not None:
                edges.append(edge)
        return edges, len(edges) == len(value)

    def read_edge(self, index, raw, line) -> Optional[Edge]:
        c, path = self.c, self.path
        where = "%s, edge %d" % (self.where, index + 1)
        if not c.mapping(path, raw, line, where, "an edge"):
            return None
        c.keys(path, raw, "edge", where)
        if "from" not in raw:
            c.error(path, raw.line, "%s: 'from' is missing; leave it empty (from:) for the starting edge" % where)
        nodes_from = c.names(path, raw, "from", where)
        nodes_to = c.names(path, raw, "to", where)
        if not raw.get("to"):
            c.error(path, raw.value_line("to") if "to" in raw else raw.line,
                    "%s: 'to' must name the tasks or flows to start" % where)
        seen = set()
        for node, node_line in nodes_from:
            if node in seen:
                c.error(path, node_line, "%s: %r is in 'from' twice" % (where, node))
            seen.add(node)
            self.sources.setdefault(node, node_line)
        for node, node_line in nodes_to:
            self.targets.setdefault(node, node_line)
        c.used.update(node for node, _ in nodes_from + nodes_to)
        from_names = tuple(node for node, _ in nodes_from)
        starting = not raw.get("from")
        condition = ALWAYS_TRUE
        if "condition" in raw:
            condition = ConditionReader(c, path, where, from_names, starting).read(raw["condition"],
                                                                                   raw.value_line("condition"))
        foreach = self.read_foreach(raw, where, [node for node, _ in nodes_to]) if "foreach" in raw else None
        return Edge(from_names, tuple(node for node, _ in nodes_to), condition, foreach, Location(path, raw.line))

    def read_foreach(self, raw, where, nodes_to) -> Optional[Foreach]:
        c, path = self.c, self.path
        value, line = raw["foreach"], raw.value_line("foreach")
        where += ", foreach"
        if not c.mapping(path, value, line, where, "'foreach'"):
            return None
        c.keys(path, value, "foreach", where)
        import_path = c.text(path, value, "import", where, required=True)
        function = c.text(path, value, "function", where, required=True)
        propagate_result = c.flag(path, value, "propagate_result", where)
        if import_path and function:
            fn_line = value.value_line("function")
            fn = c.attribute(path, value, "import", "function", where, "foreach function")
            if fn is not None and not callable(fn):
                c.error(path, fn_line, "%s: %s.%s is not callable" % (where, import_path, function))
            elif fn is not None:
                try:
                    inspect.signature(fn).bind(None, None)
                except TypeError:
                    c.error(path, fn_line, "%s: %s.%s must take two arguments, (storage_pool, node_args)"
                            % (where, import_path, function))
                except ValueError:  # a built-in without a signature: trust it
                    pass
        if propagate_result:
            self.foreach_checks.append((where, value.value_line("propagate_result"), nodes_to))
        return Foreach(import_path or "", function or "", propagate_result, Location(path, value.line))

    # --- failures, nowait, propagate ---------------------------------------------

    def read_failures(self) -> List[Failure]:
        c, path, item = self.c, self.path, self.item
        value = item.get("failures")
        if value is None:
            return []
        if not isinstance(value, _yaml.Seq):
            self.error(item.value_line("failures"), "'failures' must be a list, not %s" % a(value))
            return []
        failures = []
        for index, (raw, line) in enumerate(zip(value, value.item_lines)):
            where = "%s, failure %d" % (self.where, index + 1)
            if not c.mapping(path, raw, line, where, "a failures entry"):
                continue
            c.keys(path, raw, "failure", where)
            nodes = c.names(path, raw, "nodes", where)
            if not raw.get("nodes"):
                c.error(path, raw.value_line("nodes"), "%s: 'nodes' must name the tasks or flows whose failure "
                        "it handles" % where)
            fallback = raw.get("fallback")
            fallback_nodes: Union[Literal[True], Tuple[str, ...]]
            if fallback is True:
                fallback_nodes = True
            elif fallback is None or fallback is False or fallback == []:
                c.error(path, raw.value_line("fallback"), "%s: 'fallback' must be true or name the tasks or flows "
                        "to start" % where)
                fallback_nodes = ()
            else:
                found = c.names(path, raw, "fallback", where, expected="true or task or flow names")
                fallback_nodes = tuple(node for node, _ in found)
                for node, node_line in found:
                    self.targets.setdefault(node, node_line)
            propagate = c.flag(path, raw, "propagate_failure", where)
            if fallback_nodes is True and propagate:
                c.error(path, raw.value_line("propagate_failure"), "%s: 'propagate_failure' cannot be true when "
                        "'fallback' is true" % where)
            names = tuple(node for node, _ in nodes)
            if isinstance(fallback_nodes, tuple) and len(names) == 1 and fallback_nodes == names:
                c.error(path, raw.value_line("fallback"), "%s: %r cannot be its own fallback" % (where, names[0]))
            for node, node_line in nodes:
                self.sources.setdefault(node, node_line)
                self.failed.setdefault(node, node_line)
            c.used.update(names + (fallback_nodes if isinstance(fallback_nodes, tuple) else ()))
            condition = ALWAYS_TRUE
            if "condition" in raw:
                reader = ConditionReader(c, path, where, (), True, subject="a failure's condition")
                condition = reader.read(raw["condition"], raw.value_line("condition"))
            failures.append(Failure(names, fallback_nodes, propagate, Location(path, raw.line), condition))
        return failures

    def read_nowait(self) -> Tuple[str, ...]:
        found = self.c.names(self.path, self.item, "nowait", self.where)
        for node, line in found:
            if node not in self.targets:
                self.error(line, "'nowait' lists %r, which the flow never starts" % node)
            elif node in self.sources:
                self.error(line, "'nowait' lists %r, but the flow waits for it (at line %d)"
                           % (node, self.sources[node]))
        return tuple(node for node, _ in found)

    def read_propagate(self, option):
        key = "propagate_" + option
        item = self.item
        value = item.get(key)
        if value is None or isinstance(value, bool):
            return bool(value)
        found = self.c.names(self.path, item, key, self.where, expected="true, false or sub-flow names")
        for node, line in found:
            if node in self.c.tasks:
                self.error(line, "%r lists %r, a task; it takes sub-flows only" % (key, node))
            elif option in ("node_args", "parent") and node not in self.targets:
                self.error(line, "%r lists %r, which the flow never starts" % (key, node))
            elif option in ("finished", "failures") and node not in self.sources:
                self.error(line, "%r lists %r, but no edge or failure of the flow waits for it" % (key, node))
            elif option == "failures" and node not in self.failed:
                self.error(line, "%r lists %r, but no 'failures' entry handles its failure" % (key, node))
        return tuple(node for node, _ in found)


class ConditionReader:
    """Reads a condition tree and checks its predicates against the edge."""

    def __init__(self, checker, path: str, where: str, nodes_from: Tuple[str, ...], starting: bool,
                 subject: str = "a starting edge"):
        self.c = checker
        self.path = path
        self.where = where + ", condition"
        self.nodes_from = nodes_from
        self.starting = starting
        self.subject = subject  # what has no result to read, when starting

    def error(self, line, message):
        self.c.error(self.path, line, "%s: %s" % (self.where, message))

    def read(self, value, line):
        if not isinstance(value, _yaml.Map):
            self.error(line, "expected a mapping with 'name', 'and', 'or' or 'not', not %s" % a(value))
            return ALWAYS_TRUE
        forms = [key for key in ("name", "and", "or", "not") if key in value]
        if len(forms) > 1:
            self.error(value.line, "give exactly one of 'name', 'and', 'or' and 'not', not %s" % and_list(forms))
            return ALWAYS_TRUE
        if not forms:
            if not value:
                self.error(value.line, "the condition is empty; expected 'name', 'and', 'or' or 'not'")
            for key in value:
                self.c.error(self.path, value.key_line(key), unknown("key", key, ("name", "and", "or", "not"),
                                                                      self.where))
            return ALWAYS_TRUE
        form = forms[0]
        here = Location(self.path, value.line)
        if form == "name":
            return self.predicate(value, here)
        for key in value:
            if key != form:
                self.error(value.key_line(key), "unknown key %s beside %r, which takes no other key"
                           % (show(key), form))
        child, child_line = value[form], value.value_line(form)
        if form == "not":
            if isinstance(child, _yaml.Seq):
                self.error(child_line, "'not' takes one condition, not a list")
                return ALWAYS_TRUE
            return Not(self.read(child, child_line), here)
        if not isinstance(child, _yaml.Seq) or not child:
            self.error(child_line, "%r takes a non-empty list of conditions, not %s" % (form, a(child)))
            return ALWAYS_TRUE
        children = tuple(self.read(sub, sub_line) for sub, sub_line in zip(child, child.item_lines))
        return (And if form == "and" else Or)(children, here)

    def predicate(self, value, here: Location) -> Predicate:
        c = self.c
        c.keys(self.path, value, "predicate", self.where)
        name, name_line = value["name"], value.value_line("name")
        if not isinstance(name, str):
            self.error(name_line, "the predicate 'name' must be a string, not %s" % a(name))
            return ALWAYS_TRUE
        module = c.settings.predicates_module
        try:
            fn = predicates.resolve(name, None if c.predicates_broken else module)
        except LookupError as exc:
            if c.predicates_broken:
                return ALWAYS_TRUE  # the import failure is reported; the name may be in that module
            matches = difflib.get_close_matches(name, predicates.names(module), n=1)
            self.error(name_line, str(exc) + ("; did you mean %r?" % matches[0] if matches else ""))
            return ALWAYS_TRUE
        signature = predicates.signature(fn)
        if signature.problem:
            self.error(name_line, "predicate %r cannot be used: %s" % (name, signature.problem))
            return ALWAYS_TRUE
        args = self.args(value, name, signature)
        node = self.node(value, name, signature)
        return Predicate(name, node, FrozenMap(plain(args)), signature.reads_result, signature.reads_node_args, here)

    def args(self, value, name, signature) -> dict:
        args = value.get("args")
        line = value.value_line("args") if "args" in value else value.line
        if args is None:
            args = _yaml.Map(line)
        elif not isinstance(args, _yaml.Map):
            self.error(line, "the 'args' of predicate %r must be a mapping, not %s" % (name, a(args)))
            return {}
        bad = [key for key in args if not isinstance(key, str)]
        for key in bad:
            self.error(args.key_line(key), "predicate %r: argument names are strings, not %s" % (name, show(key)))
        missing, extra = signature.check_args([key for key in args if isinstance(key, str)])
        for key in extra:
            self.error(args.key_line(key), unknown("argument", key, signature.required + signature.optional,
                                                    "predicate %r" % name))
        if missing:
            self.error(line, "predicate %r needs the argument%s %s" % (name, "s" if len(missing) > 1 else "",
                                                                       and_list(missing)))
        return args

    def node(self, value, name, signature) -> Optional[str]:
        c = self.c
        node, line = value.get("node"), value.value_line("node")
        if not signature.reads_result:
            if node is not None:
                self.error(line, "predicate %r does not read a task result, so it takes no 'node'" % name)
            return None
        if self.starting:
            self.error(value.value_line("name"), "predicate %r reads a task result, but %s has none to read"
                       % (name, self.subject))
            return None
        if node is None:
            if len(self.nodes_from) > 1:
                self.error(value.value_line("name"), "predicate %r reads a task result: say whose with 'node' "
                           "(one of %s)" % (name, and_list(self.nodes_from)))
                return None
            if not self.nodes_from:  # 'from' names only unknown nodes, already reported
                return None
            node, line = self.nodes_from[0], value.value_line("name")
        elif not isinstance(node, str) or node not in self.nodes_from:
            self.error(line, "'node' must be one of the edge's 'from' nodes (%s), not %s"
                       % (", ".join(self.nodes_from) or "none known", show(node)))
            return None
        task = c.tasks.get(node)
        if task is None:
            self.error(line, "predicate %r reads a task result, and %r is a flow" % (name, node))
        elif task.storage is None:
            self.error(line, "predicate %r reads the result of %r, which has no 'storage' to read it from"
                       % (name, node))
        elif task.storage_readonly:
            self.error(line, "predicate %r reads the result of %r, whose storage is read-only (storage_readonly), "
                       "so its result is not stored" % (name, node))
        return node
