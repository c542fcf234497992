"""The top-level sections of every file, read together into one :class:`~flowtrace.flow.model.FlowConfig`.

The sections are read in dependency order, whatever file they are in:
``global`` (queues and predicates), ``storages``, ``tasks``, the ``flows``
listing, then ``flow-definitions`` (:mod:`flowtrace.flow.load._flows`), and
last the checks that need all of them (a task no flow uses, a listed flow
without a definition).
"""

from __future__ import annotations

import difflib
import re
from typing import Any, Dict, List, Optional, Set, Tuple

from flowtrace.flow.load import _options, _yaml
from flowtrace.flow.load._fields import Fields
from flowtrace.flow.load._flows import Known, read_flow
from flowtrace.flow.load._words import a, plain, show, unknown
from flowtrace.flow.load.schema import KEYS
from flowtrace.flow.model import import_attribute
from flowtrace.flow.model import Flow, FlowConfig, FrozenMap, Location, Problem, Settings, Storage, Task, TraceStorage
from flowtrace.flow.task import check_task_class
from flowtrace.storages.base import check_adapter_class
from flowtrace.storages.equivalents import equivalent

_NODE_NAME = re.compile(r"^[_a-zA-Z][_a-zA-Z0-9]*$")  # Selinon's rule for task and flow names


def _one(entry, key):
    """The mapping of ``entry``'s one ``key``, with its lines."""
    part = _yaml.Map(entry.key_line(key))
    part[key] = entry[key]
    part.key_lines[key], part.value_lines[key] = entry.key_line(key), entry.value_line(key)
    return part


class Sections:
    """What has been read so far from the sections of every file.

    Args:
        problems: where every problem found goes.
        warnings: where every warning goes (what Selinon accepts but warns of).
    """

    def __init__(self, problems: List[Problem], warnings: Optional[List[Problem]] = None):
        self.problems = problems
        self.warnings = problems if warnings is None else warnings
        self.imports: Dict[str, Any] = {}  # shared by every file's Fields: each module is imported once
        self.settings = Settings()
        self.predicates_broken = False  # predicates_module failed to import
        self.storages: Dict[str, Storage] = {}
        self.storage_classes: Dict[str, type] = {}  # the adapter class of each storage that imported
        self.tasks: Dict[str, Task] = {}
        self.listed: Dict[str, Location] = {}
        self.flows: Dict[str, Flow] = {}
        self.defined: Dict[str, Location] = {}
        self.used: Set[str] = set()

    def error(self, location: Location, message: str) -> None:
        self.problems.append(Problem(location.path, location.line, message))

    def read(self, documents, files) -> FlowConfig:
        """Read ``(path, data)`` documents and return what they configure, problems or not."""
        sections: Dict[str, List[Tuple[Fields, Any, str]]] = {key: [] for key in KEYS["top level"]}
        for path, data in documents:
            fields = Fields(path, self.problems, self.imports, self.warnings)
            if data is None:
                fields.error(1, "the file is empty; expected a mapping with any of: %s" % ", ".join(KEYS["top level"]))
                continue
            if not isinstance(data, _yaml.Map):
                fields.error(1, "the file must hold a mapping with any of: %s; not %s"
                             % (", ".join(KEYS["top level"]), a(data)))
                continue
            for key in data:  # Selinon skips them with a warning
                if key not in KEYS["top level"]:
                    fields.warn(data.key_line(key), unknown("key", key, KEYS["top level"], "top level").replace(
                        "unknown key", "skipping the unknown key", 1))
            for key in KEYS["top level"]:
                if key in data:
                    sections[key].append((fields, data, key))
        for fields, data, key in sections["storages"]:
            for item, line in fields.items(data, key):
                self.read_storage(fields, item, line)
        self.read_global(sections["global"])  # after the storages, which its trace entries may name
        for fields, data, key in sections["tasks"]:
            for item, line in fields.items(data, key):
                self.read_task(fields, item, line)
        for fields, data, key in sections["flows"]:
            for item, line in fields.items(data, key):
                self.read_listing(fields, item, line)
        known = Known(self.tasks, self.listed, self.settings, self.predicates_broken)
        for fields, data, key in sections["flow-definitions"]:
            for item, line in fields.items(data, key):
                self.read_flow(fields, known, item, line)
        for name, location in self.listed.items():
            if name not in self.defined:
                self.error(location, "flow %r is listed under 'flows' but has no definition under 'flow-definitions'"
                           % name)
        for task in self.tasks.values():
            if task.name not in self.used and task.location is not None:  # read_task gives each one
                self.warnings.append(Problem(task.location.path, task.location.line,
                                             "task %r is not used by any flow" % task.name))
        flows = {name: self.flows[name] for name in self.listed if name in self.flows}
        return FlowConfig(tasks=FrozenMap(self.tasks), flows=FrozenMap(flows), storages=FrozenMap(self.storages),
                          settings=self.settings, files=files)

    # --- global --------------------------------------------------------------

    def read_global(self, sections) -> None:
        first = None
        for fields, data, key in sections:
            if first is not None:
                fields.error(data.key_line(key), "a second 'global' section; the first is at %s" % (first,))
                continue
            first = Location(fields.path, data.key_line(key))
            section = data[key]
            if section is None:
                continue
            if not fields.mapping(section, data.value_line(key), "global", "the section"):
                continue
            fields.keys(section, "global", "global")
            module = fields.text(section, "predicates_module", "global")
            if module is not None:
                if fields.module(section.value_line("predicates_module"), module, "global",
                                 "predicates_module") is None:
                    self.predicates_broken = True
            trace, trace_storages = self.read_trace(fields, section) if "trace" in section else ((), ())
            migration_dir = None
            if section.get("migration_dir"):  # Selinon takes null and "" as no folder
                migration_dir = fields.text(section, "migration_dir", "global")
                if migration_dir is not None:
                    migration_dir = fields.expand(section.value_line("migration_dir"), migration_dir, "global",
                                                  "migration_dir")
            self.settings = Settings(
                trace=trace,
                trace_storages=trace_storages,
                migration_dir=migration_dir,
                predicates_module=module,
                default_task_queue=fields.queue(section, "default_task_queue", "global",
                                                self.settings.default_task_queue),
                default_dispatcher_queue=fields.queue(section, "default_dispatcher_queue", "global",
                                                      self.settings.default_dispatcher_queue),
                location=Location(fields.path, section.line),
            )

    def read_trace(self, fields: Fields, section) -> Tuple[tuple, tuple]:
        """The sink entries of ``trace``, and its ``storage`` entries."""
        from flowtrace.flow import _trace

        value, line = section["trace"], section.value_line("trace")
        if value is None or value is False:
            return (), ()
        if isinstance(value, _yaml.Map):  # Selinon also takes a single entry
            entries = [(value, line)]
        elif isinstance(value, _yaml.Seq):
            entries = list(zip(value, value.item_lines))
        else:
            fields.error(line, "global: 'trace' must be a list of sinks, not %s" % a(value))
            return (), ()
        flat: List[Tuple[Any, int]] = []
        storages: List[TraceStorage] = []
        for entry, entry_line in entries:
            if isinstance(entry, _yaml.Map) and len(entry) > 1:  # Selinon reads every sink key of an entry
                flat.extend((_one(entry, key), entry.key_line(key)) for key in entry)
            else:
                flat.append((entry, entry_line))
        result = []
        for index, (entry, entry_line) in enumerate(flat):
            if isinstance(entry, _yaml.Map) and list(entry) == ["storage"]:
                storage = self.read_trace_storage(fields, index, entry)
                if storage is not None:
                    storages.append(storage)
                continue
            entry = plain(entry)
            problem = _trace.problem(index, entry)
            if problem:
                fields.error(entry_line, problem)
            result.append(entry)
        return tuple(result), tuple(storages)

    def read_trace_storage(self, fields: Fields, index: int, entry) -> Optional[TraceStorage]:
        value, line = entry["storage"], entry.value_line("storage")
        where = "global.trace entry %d (storage)" % (index + 1)
        if not fields.mapping(value, line, where, "the entry"):
            return None
        fields.keys(value, "trace storage", where)
        name = fields.text(value, "name", where, required=True)
        method = fields.text(value, "method", where) if "method" in value else "trace"
        if name is not None and name not in self.storages:
            fields.error(value.value_line("name"), unknown("storage", name, list(self.storages), where))
            return None
        if name is None or method is None:
            return None
        cls = self.storage_classes.get(name)
        if cls is not None and not callable(getattr(cls, method, None)):
            fields.error(value.value_line("method" if "method" in value else "name"),
                         "%s: the storage %r (%s.%s) has no method %r, which is called with each event"
                         % (where, name, cls.__module__, cls.__qualname__, method))
            return None
        return TraceStorage(name, method, Location(fields.path, value.line))

    # --- storages and tasks ---------------------------------------------------

    def read_storage(self, fields: Fields, item, line) -> None:
        if not fields.mapping(item, line, "storages", "an entry"):
            return
        name = fields.text(item, "name", "storage at line %d" % line, required=True)
        where = "storage %r" % name if name else "storage at line %d" % line
        fields.keys(item, "storage", where)
        import_path = fields.text(item, "import", where, required=True)
        class_name = fields.text(item, "classname", where) or name
        configuration = item.get("configuration")
        if configuration is not None and not fields.mapping(configuration, item.value_line("configuration"),
                                                            where, "'configuration'"):
            configuration = None
        cls = None
        if import_path and class_name:
            runs_on = equivalent(import_path, class_name)
            if runs_on != (import_path, class_name):  # one of Selinon's, run on flowtrace's own adapter
                cls = import_attribute(*runs_on)
            else:
                cls = fields.attribute(item, "import", "classname", where, "storage class", default=name)
            for problem in check_adapter_class(cls) if cls is not None else ():
                fields.error(item.value_line("classname" if "classname" in item else "import"),
                             "%s: %s" % (where, problem))
        if name is not None and self.first(fields, item, "storage", name, self.storages):
            if cls is not None:
                self.storage_classes[name] = cls
            self.storages[name] = Storage(name, import_path or "", class_name or name,
                                          FrozenMap(plain(configuration or {})),
                                          Location(fields.path, item.value_line("name")),
                                          cache=_options.cache(fields, item, where))

    def first(self, fields: Fields, item, what: str, name: str, entries) -> bool:
        """Whether ``entries`` has no ``name`` yet; if it has, reports the entry ``item`` as defined twice."""
        if name in entries:
            fields.error(item.value_line("name"), "%s %r is defined twice; the first is at %s"
                         % (what, name, entries[name].location))
            return False
        return True

    def node_name(self, fields: Fields, item, where) -> Optional[str]:
        name = fields.text(item, "name", where, required=True)
        if name is not None and not _NODE_NAME.match(name):
            fields.error(item.value_line("name"), "%s: %r is not a valid name: use letters, digits and "
                         "underscores, not starting with a digit" % (where, name))
            return None
        return name

    def read_task(self, fields: Fields, item, line) -> None:
        if not fields.mapping(item, line, "tasks", "an entry"):
            return
        name = self.node_name(fields, item, "task at line %d" % line)
        where = "task %r" % name if name else "task at line %d" % line
        fields.keys(item, "task", where)
        import_path = fields.text(item, "import", where, required=True)
        class_name = fields.text(item, "classname", where) or name
        if import_path and class_name:
            cls = fields.attribute(item, "import", "classname", where, "task class", default=name)
            for problem in check_task_class(cls) if cls is not None else ():
                fields.error(item.value_line("classname" if "classname" in item else "import"),
                             "%s: %s.%s %s" % (where, import_path, class_name, problem))
        storage = fields.text(item, "storage", where)
        if storage is not None and storage not in self.storages:
            fields.error(item.value_line("storage"), unknown("storage", storage, list(self.storages), where))
        storage_task_name = fields.text(item, "storage_task_name", where)
        if storage_task_name is not None and storage is None:
            fields.error(item.key_line("storage_task_name"), "%s: 'storage_task_name' needs a 'storage'" % where)
        task = Task(
            name=name or "",
            import_path=import_path or "",
            class_name=class_name or "",
            max_retry=fields.number(item, "max_retry", where, whole=True),
            retry_countdown=fields.number(item, "retry_countdown", where, whole=False),
            storage=storage,
            storage_readonly=fields.flag(item, "storage_readonly", where),
            storage_task_name=storage_task_name or name,
            queue=fields.queue(item, "queue", where, self.settings.default_task_queue),
            output_schema=fields.text(item, "output_schema", where),
            location=Location(fields.path, item.value_line("name")),
            throttling=_options.throttling(fields, item, where),
            selective_run_function=_options.selective_run_function(fields, item, where),
        )
        if name is not None and self.first(fields, item, "task", name, self.tasks):
            self.tasks[name] = task

    def read_listing(self, fields: Fields, item, line) -> None:
        if not isinstance(item, str) or not _NODE_NAME.match(item):
            fields.error(line, "'flows' lists flow names; %s is not a valid name" % show(item))
            return
        if item in self.listed:
            fields.error(line, "flow %r is listed twice; the first is at %s" % (item, self.listed[item]))
        elif item in self.tasks:
            fields.error(line, "%r is the name of a task (at %s) and of a flow" % (item, self.tasks[item].location))
        else:
            self.listed[item] = Location(fields.path, line)

    # --- flows ---------------------------------------------------------------

    def read_flow(self, fields: Fields, known: Known, item, line) -> None:
        if not fields.mapping(item, line, "flow-definitions", "an entry"):
            return
        name = self.node_name(fields, item, "flow definition at line %d" % line)
        where = "flow %r" % name if name else "flow definition at line %d" % line
        here = Location(fields.path, item.value_line("name"))
        if name is not None:
            if name in self.defined:
                fields.error(here.line, "flow %r is defined twice; the first is at %s" % (name, self.defined[name]))
                name = None
            elif name in self.tasks:
                fields.error(here.line, "flow-definitions: %r is a task, not a flow listed under 'flows'" % name)
                name = None
            elif name not in self.listed:
                matches = difflib.get_close_matches(name, list(self.listed), n=1)
                fields.error(here.line, "flow-definitions: flow %r is not listed under 'flows'%s"
                             % (name, "; did you mean %r?" % matches[0] if matches else ""))
                name = None
            else:
                self.defined[name] = here
        fields.keys(item, "flow", where)
        flow, used = read_flow(fields, known, item, where, name or "", here)
        self.used.update(used)
        if name is not None:
            self.flows[name] = flow
