"""One flow definition: its edges, failures, nowait and propagate options, checked against the rest.

:func:`read_flow` is given what the other sections declared (:class:`Known`)
and returns the flow with the names of the nodes it uses; its conditions are
read by :mod:`flowtrace.flow.load._conditions`.
"""

from __future__ import annotations

import inspect
from typing import Any, Dict, List, Literal, Mapping, NamedTuple, Optional, Set, Tuple, Union

from flowtrace.flow.load import _options, _yaml
from flowtrace.flow.load._conditions import ConditionReader
from flowtrace.flow.load._fields import Fields
from flowtrace.flow.load._words import a, unknown
from flowtrace.flow.model import (
    ALWAYS_TRUE, PROPAGATE_OPTIONS, Edge, Failure, Flow, Foreach, Location, Settings, Task,
)


class Known(NamedTuple):
    """What a flow definition is checked against: the sections read before the definitions."""

    tasks: Mapping[str, Task]
    listed: Mapping[str, Location]  # the flows listed under 'flows'
    settings: Settings
    predicates_broken: bool  # predicates_module failed to import


def read_flow(fields: Fields, known: Known, item, where: str, name: str, here: Location) -> Tuple[Flow, Set[str]]:
    """Read the flow definition ``item``; returns the flow and the names of the nodes it uses.

    Args:
        fields: the readers of the definition's file.
        known: the tasks, the listed flows and the settings.
        item: the definition, a mapping.
        where: how problems name the flow.
        name: the flow's name ("" when it is wrong, already reported).
        here: where the definition was written.
    """
    reader = _FlowReader(fields, known, item, where)
    return reader.read(name, here), reader.used


class _FlowReader:
    """Reads one flow definition; the checks that need the whole flow are in :meth:`read`."""

    def __init__(self, fields: Fields, known: Known, item, where: str):
        self.fields = fields
        self.known = known
        self.item = item
        self.where = where
        self.used: Set[str] = set()  # every node named in an edge or a failure
        self.sources: Dict[str, int] = {}  # node -> the line where it is first waited for
        self.targets: Dict[str, int] = {}  # node -> the line where it is first started
        self.failed: Dict[str, int] = {}  # nodes handled by a failures entry
        self.foreach_checks: List[Tuple[str, int, Any]] = []  # (where, line, nodes_to) of propagate_result

    def error(self, line, message):
        self.fields.error(line, "%s: %s" % (self.where, message))

    def read(self, name: str, here: Location) -> Flow:
        fields, item = self.fields, self.item
        edges, complete = self.read_edges()
        failures = self.read_failures()
        if complete and not any(edge.is_starting for edge in edges):
            self.error(here.line, "no starting edge: one edge must have an empty 'from' (from:)")
        for node, line in self.sources.items():
            if node not in self.targets:
                self.error(line, "%r is waited for, but the flow never starts it" % node)
        nowait = self.read_nowait()
        propagate = {option: self.read_propagate(option) for option in PROPAGATE_OPTIONS}
        for kind in ("finished", "failures"):
            self.check_disjoint(propagate, kind)
        node_args_from_first = self.read_node_args_from_first(edges)
        eager_failures = self.read_eager_failures(nowait)
        for edge_where, line, nodes_to in self.foreach_checks:
            for node in nodes_to:
                if node in self.known.tasks:
                    fields.error(line, "%s: foreach 'propagate_result' starts sub-flows only, and %r is a task"
                                 % (edge_where, node))
                elif propagate["node_args"] is True or node in (propagate["node_args"] or ()):
                    fields.error(line, "%s: foreach 'propagate_result' gives %r its node arguments, so "
                                 "'propagate_node_args' must not list it" % (edge_where, node))
        return Flow(
            name=name,
            edges=tuple(edges),
            failures=tuple(failures),
            nowait=nowait,
            max_retry=fields.number(item, "max_retry", self.where, whole=True),
            retry_countdown=fields.number(item, "retry_countdown", self.where, whole=False),
            queue=fields.queue(item, "queue", self.where, self.known.settings.default_dispatcher_queue),
            propagate_node_args=propagate["node_args"],
            propagate_parent=propagate["parent"],
            propagate_finished=propagate["finished"],
            propagate_failures=propagate["failures"],
            location=here,
            propagate_parent_failures=propagate["parent_failures"],
            propagate_compound_finished=propagate["compound_finished"],
            propagate_compound_failures=propagate["compound_failures"],
            node_args_from_first=node_args_from_first,
            eager_failures=eager_failures,
            throttling=_options.throttling(fields, item, self.where),
            cache=_options.cache(fields, item, self.where),
            sampling=_options.sampling(fields, item, self.where),
        )

    def names(self, mapping, key, where, expected="a task or flow name or a list of them"):
        """The node name or names at ``key``, with their lines; unknown names are reported and left out."""
        fields, known = self.fields, self.known
        value = mapping.get(key)
        line = mapping.value_line(key)
        if value is None or value == "" or value == []:
            return []
        if isinstance(value, _yaml.Seq):
            items = list(zip(value, value.item_lines))
        elif isinstance(value, str):
            items = [(value, line)]
        else:
            fields.error(line, "%s: %r must be %s, not %s" % (where, key, expected, a(value)))
            return []
        found = []
        for name, item_line in items:
            if not isinstance(name, str):
                fields.error(item_line, "%s: %r lists %s; expected the name of a task or flow" % (where, key, a(name)))
            elif name not in known.tasks and name not in known.listed:
                fields.error(item_line, unknown("task or flow", name, list(known.tasks) + list(known.listed),
                                                "%s: %r" % (where, key)))
            else:
                found.append((name, item_line))
        return found

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
        fields = self.fields
        where = "%s, edge %d" % (self.where, index + 1)
        if not fields.mapping(raw, line, where, "an edge"):
            return None
        fields.keys(raw, "edge", where)
        if "from" not in raw:
            fields.error(raw.line, "%s: 'from' is missing; leave it empty (from:) for the starting edge" % where)
        nodes_from = self.names(raw, "from", where)
        nodes_to = self.names(raw, "to", where)
        if not raw.get("to"):
            fields.error(raw.value_line("to") if "to" in raw else raw.line,
                         "%s: 'to' must name the tasks or flows to start" % where)
        seen = set()
        for node, node_line in nodes_from:
            if node in seen:
                fields.error(node_line, "%s: %r is in 'from' twice" % (where, node))
            seen.add(node)
            self.sources.setdefault(node, node_line)
        for node, node_line in nodes_to:
            self.targets.setdefault(node, node_line)
        self.used.update(node for node, _ in nodes_from + nodes_to)
        from_names = tuple(node for node, _ in nodes_from)
        starting = not raw.get("from")
        condition = ALWAYS_TRUE
        if "condition" in raw:
            condition = ConditionReader(fields, self.known, where, from_names, starting).read(
                raw["condition"], raw.value_line("condition"))
        foreach = self.read_foreach(raw, where, [node for node, _ in nodes_to]) if "foreach" in raw else None
        to_names = tuple(node for node, _ in nodes_to)
        selective = _options.selective(fields, raw, where, to_names, self.known.tasks, self.known.listed)
        return Edge(from_names, to_names, condition, foreach, Location(fields.path, raw.line), selective)

    def read_foreach(self, raw, where, nodes_to) -> Optional[Foreach]:
        fields = self.fields
        value, line = raw["foreach"], raw.value_line("foreach")
        where += ", foreach"
        if not fields.mapping(value, line, where, "'foreach'"):
            return None
        fields.keys(value, "foreach", where)
        import_path = fields.text(value, "import", where, required=True)
        function = fields.text(value, "function", where, required=True)
        propagate_result = fields.flag(value, "propagate_result", where)
        if import_path and function:
            fn_line = value.value_line("function")
            fn = fields.attribute(value, "import", "function", where, "foreach function")
            if fn is not None and not callable(fn):
                fields.error(fn_line, "%s: %s.%s is not callable" % (where, import_path, function))
            elif fn is not None:
                try:
                    inspect.signature(fn).bind(None, None)
                except TypeError:
                    fields.error(fn_line, "%s: %s.%s must take two arguments, (storage_pool, node_args)"
                                 % (where, import_path, function))
                except ValueError:  # a built-in without a signature: trust it
                    pass
        if propagate_result:
            self.foreach_checks.append((where, value.value_line("propagate_result"), nodes_to))
        return Foreach(import_path or "", function or "", propagate_result, Location(fields.path, value.line))

    # --- failures, nowait, propagate ---------------------------------------------

    def read_failures(self) -> List[Failure]:
        fields, item = self.fields, self.item
        value = item.get("failures")
        if value is None:
            return []
        if not isinstance(value, _yaml.Seq):
            self.error(item.value_line("failures"), "'failures' must be a list, not %s" % a(value))
            return []
        failures = []
        for index, (raw, line) in enumerate(zip(value, value.item_lines)):
            where = "%s, failure %d" % (self.where, index + 1)
            if not fields.mapping(raw, line, where, "a failures entry"):
                continue
            fields.keys(raw, "failure", where)
            nodes = self.names(raw, "nodes", where)
            if not raw.get("nodes"):
                fields.error(raw.value_line("nodes"), "%s: 'nodes' must name the tasks or flows whose failure "
                             "it handles" % where)
            fallback = raw.get("fallback")
            fallback_nodes: Union[Literal[True], Tuple[str, ...]]
            if fallback is True:
                fallback_nodes = True
            elif fallback is None or fallback is False or fallback == []:
                fields.error(raw.value_line("fallback"), "%s: 'fallback' must be true or name the tasks or flows "
                             "to start" % where)
                fallback_nodes = ()
            else:
                found = self.names(raw, "fallback", where, expected="true or task or flow names")
                fallback_nodes = tuple(node for node, _ in found)
                for node, node_line in found:
                    self.targets.setdefault(node, node_line)
            propagate = fields.flag(raw, "propagate_failure", where)
            if fallback_nodes is True and propagate:
                fields.error(raw.value_line("propagate_failure"), "%s: 'propagate_failure' cannot be true when "
                             "'fallback' is true" % where)
            names = tuple(node for node, _ in nodes)
            if isinstance(fallback_nodes, tuple) and len(names) == 1 and fallback_nodes == names:
                fields.error(raw.value_line("fallback"), "%s: %r cannot be its own fallback" % (where, names[0]))
            for node, node_line in nodes:
                self.sources.setdefault(node, node_line)
                self.failed.setdefault(node, node_line)
            self.used.update(names + (fallback_nodes if isinstance(fallback_nodes, tuple) else ()))
            condition = ALWAYS_TRUE
            if "condition" in raw:
                reader = ConditionReader(fields, self.known, where, (), True, subject="a failure's condition")
                condition = reader.read(raw["condition"], raw.value_line("condition"))
            failures.append(Failure(names, fallback_nodes, propagate, Location(fields.path, raw.line), condition))
        return failures

    def read_nowait(self) -> Tuple[str, ...]:
        found = self.names(self.item, "nowait", self.where)
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
        found = self.names(item, key, self.where, expected="true, false or sub-flow names")
        for node, line in found:
            if node in self.known.tasks:
                self.error(line, "%r lists %r, a task; it takes sub-flows only" % (key, node))
            elif option in ("node_args", "parent", "parent_failures") and node not in self.targets:
                self.error(line, "%r lists %r, which the flow never starts" % (key, node))
            elif option.endswith(("finished", "failures")) and option != "parent_failures" \
                    and node not in self.sources:
                self.error(line, "%r lists %r, but no edge or failure of the flow waits for it" % (key, node))
            elif option.endswith("failures") and option != "parent_failures" and node not in self.failed:
                self.error(line, "%r lists %r, but no 'failures' entry handles its failure" % (key, node))
        return tuple(node for node, _ in found)

    def check_disjoint(self, propagate, kind) -> None:
        """``propagate_<kind>`` and ``propagate_compound_<kind>`` must not both apply to one sub-flow."""
        plain_value, compound = propagate[kind], propagate["compound_" + kind]
        if not plain_value or not compound:
            return
        key, line = "propagate_compound_" + kind, self.item.value_line("propagate_compound_" + kind)
        if plain_value is True or compound is True:
            self.error(line, "'propagate_%s' and %r exclude each other; list the sub-flows of each instead of "
                       "true" % (kind, key))
            return
        for node in compound:
            if node in plain_value:
                self.error(line, "%r lists %r, which 'propagate_%s' lists too" % (key, node, kind))

    def read_node_args_from_first(self, edges) -> bool:
        item = self.item
        if not self.fields.flag(item, "node_args_from_first", self.where):
            return False
        line = item.value_line("node_args_from_first")
        starting = [edge for edge in edges if edge.is_starting]
        if len(starting) > 1 or any(len(edge.nodes_to) > 1 for edge in starting):
            self.error(line, "'node_args_from_first' needs exactly one starting node, the task whose result "
                       "becomes the node arguments")
        elif starting and starting[0].nodes_to and starting[0].nodes_to[0] not in self.known.tasks:
            self.error(line, "'node_args_from_first': the starting node %r is a flow; it must be a task"
                       % starting[0].nodes_to[0])
        return True

    def read_eager_failures(self, nowait) -> Union[bool, Tuple[str, ...]]:
        item = self.item
        value = item.get("eager_failures")
        if not value or value is True:
            return bool(value)
        found = self.names(item, "eager_failures", self.where, expected="true, false or task or flow names")
        for node, line in found:
            if node not in self.used:
                self.error(line, "'eager_failures' lists %r, which the flow does not use" % node)
            elif node in nowait:
                self.error(line, "'eager_failures' lists %r, which is in 'nowait', so its failure is not seen" % node)
            elif node in self.failed:
                self.error(line, "'eager_failures' lists %r, whose failure a 'failures' entry handles" % node)
        return tuple(node for node, _ in found)
