"""What changed between two configurations, flow by flow, as Selinon's migrator computes it.

Only the edges matter: a queued dispatcher message refers to its flow's
nodes and edges, and nothing else of the YAML. The files are read as YAML
(safely, with the line of every value) and not loaded as a configuration,
so the task modules they name need not be importable, as with Selinon.

For each flow defined in both configurations, each old edge is matched with
the first new edge not matched yet that has the same ``from`` and ``to``
nodes (in any order). Then:

- ``tainted_edges``: each old edge left unmatched, with its condition
  (``{"name": "alwaysTrue"}`` when it has none): a flow in which it fired
  ran what the new configuration would not have;
- ``tainting_nodes``: each new edge left unmatched that has ``from`` nodes:
  a flow in which they have all finished would have run it;
- ``translation``: the old index of each edge that moved to its new index,
  and of each unmatched old edge to null.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Tuple

from flowtrace.errors import MigrationError
from flowtrace.flow._values import Problem
from flowtrace.flow.load import _yaml
from flowtrace.flow.load._fields import Fields
from flowtrace.flow.load.check import yaml_files

#: Selinon's condition of an edge that has none.
DEFAULT_CONDITION = {"name": "alwaysTrue"}


class Configuration:
    """The edges of each flow of a set of YAML files, and their ``global: migration_dir``.

    Attributes:
        edges: flow name to its edges, each ``(from names, to names, condition)``.
        migration_dir: the ``global: migration_dir`` of the files, ``{VAR}`` references expanded, or None.
        files: the YAML files read.
    """

    def __init__(self, paths):
        files, problems = yaml_files(paths)
        if problems:
            raise MigrationError(problems[0].path, problems[0].line, problems[0].message)
        if not files:
            raise MigrationError(", ".join(map(str, paths)) or ".", None, "no YAML file given")
        self.files = files
        self.edges: Dict[str, List[Tuple[frozenset, frozenset, Any]]] = {}
        self.migration_dir = None
        for path in files:
            self._read(path)

    def _read(self, path: str) -> None:
        try:
            data = _yaml.load(path).data
        except _yaml.YamlError as exc:
            raise MigrationError(path, exc.line, exc.message) from None
        if data is None:
            return
        if not isinstance(data, _yaml.Map):
            raise MigrationError(path, getattr(data, "line", 1), "a flow YAML file is a mapping")
        section = data.get("global")
        if isinstance(section, _yaml.Map) and section.get("migration_dir"):
            # Expanded as the loader expands it, so the file goes where the workers look for it.
            problems: List[Problem] = []
            line = section.value_line("migration_dir")
            self.migration_dir = Fields(path, problems, {}).expand(line, str(section["migration_dir"]), "global",
                                                                   "migration_dir")
            if problems:
                raise MigrationError(path, problems[0].line, problems[0].message)
        definitions = data.get("flow-definitions") or _yaml.Seq(data.line)
        if not isinstance(definitions, _yaml.Seq):
            raise MigrationError(path, data.value_line("flow-definitions"), "flow-definitions must be a list")
        for index, definition in enumerate(definitions):
            line = definitions.item_line(index)
            if not isinstance(definition, _yaml.Map) or not isinstance(definition.get("name"), str):
                raise MigrationError(path, line, "a flow definition needs a name")
            raw_edges = definition.get("edges")
            if not isinstance(raw_edges, _yaml.Seq):
                raise MigrationError(path, definition.value_line("edges"),
                                     "flow %s: edges must be a list" % definition["name"])
            self.edges[definition["name"]] = [_edge(path, raw_edges.item_line(i), raw)
                                              for i, raw in enumerate(raw_edges)]


def _edge(path: str, line: int, raw) -> Tuple[frozenset, frozenset, Any]:
    if not isinstance(raw, _yaml.Map) or "from" not in raw or "to" not in raw:
        raise MigrationError(path, line, "an edge needs from and to")
    ends = []
    for key in ("from", "to"):
        value = raw[key]
        names = [] if value is None else value if isinstance(value, list) else [value]
        if not all(isinstance(name, str) for name in names):
            raise MigrationError(path, raw.value_line(key), "%s must be node names" % key)
        ends.append(frozenset(names))
    # A JSON round trip: plain dicts and lists, as the migration file will hold them.
    condition = json.loads(json.dumps(raw["condition"])) if raw.get("condition") else dict(DEFAULT_CONDITION)
    return ends[0], ends[1], condition


def flow_migration(old_edges, new_edges) -> Dict[str, Dict[str, Any]]:
    """The ``translation``, ``tainted_edges`` and ``tainting_nodes`` of one flow whose edges changed."""
    matched_new: Dict[int, int] = {}
    new_of_old: Dict[int, int] = {}
    for old_index, (old_from, old_to, _) in enumerate(old_edges):
        for new_index, (new_from, new_to, _) in enumerate(new_edges):
            if new_index not in matched_new and (old_from, old_to) == (new_from, new_to):
                matched_new[new_index] = old_index
                new_of_old[old_index] = new_index
                break
    tainted = {str(index): {"from": sorted(nodes_from), "to": sorted(nodes_to), "condition_str": condition}
               for index, (nodes_from, nodes_to, condition) in enumerate(old_edges) if index not in new_of_old}
    tainting = {str(index): sorted(nodes_from) for index, (nodes_from, _, _) in enumerate(new_edges)
                if index not in matched_new and nodes_from}
    translation = {str(index): new_of_old.get(index) for index in range(len(old_edges))
                   if new_of_old.get(index) != index}
    return {"translation": translation, "tainted_edges": tainted, "tainting_nodes": tainting}


def compute(old: Configuration, new: Configuration) -> Dict[str, Dict[str, Any]]:
    """The ``migration`` of a migration file: every flow both configurations define, by name.

    As in Selinon, once one flow changed, the flows that did not are listed
    too, with empty tables; flows added or removed need no migration.

    Returns:
        An empty dict when no flow changed.
    """
    migration = {name: flow_migration(old.edges[name], new.edges[name])
                 for name in sorted(old.edges) if name in new.edges}
    if not any(any(entry.values()) for entry in migration.values()):
        return {}
    return migration
