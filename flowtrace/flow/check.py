"""Checking flow YAML: every problem, each with its file and line.

:func:`check_paths` reads the files, checks them together and builds the
:class:`~flowtrace.flow.config.FlowConfig` when nothing is wrong. It never
raises for anything written in the files: each problem becomes a
:class:`~flowtrace.flow.config.Problem`, and the checking goes on, so one run
reports everything. ``flowtrace check`` and :func:`flowtrace.load_flows` both
use it.

The sections are read in dependency order, whatever file they are in:
``global`` (queues and predicates), ``storages``, ``tasks``, the ``flows``
listing, then ``flow-definitions``, and last the checks that need all of them
(a task no flow uses, a listed flow without a definition).
"""

from __future__ import annotations

import difflib
import math
import os
import re
from pathlib import Path
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

from flowtrace.flow import _flowcheck, _yaml, predicates
from flowtrace.flow._words import a, plain, show, unknown
from flowtrace.flow.config import Flow, FlowConfig, FrozenMap, Location, Problem, Settings, Storage, Task

__all__ = ["CheckResult", "check_paths", "yaml_files", "KEYS", "SELINON_ONLY"]

#: The keys each part of the YAML may have.
KEYS = {
    "top level": ("tasks", "flows", "storages", "global", "flow-definitions"),
    "global": ("trace", "predicates_module", "default_task_queue", "default_dispatcher_queue"),
    "storage": ("name", "import", "classname", "configuration"),
    "task": ("name", "import", "classname", "max_retry", "retry_countdown", "storage", "storage_readonly",
             "storage_task_name", "queue", "output_schema"),
    "flow": ("name", "edges", "failures", "max_retry", "retry_countdown", "queue", "nowait",
             "propagate_node_args", "propagate_parent", "propagate_finished", "propagate_failures"),
    "edge": ("from", "to", "condition", "foreach"),
    "foreach": ("import", "function", "propagate_result"),
    "failure": ("nodes", "fallback", "propagate_failure", "condition"),
    "predicate": ("name", "node", "args"),
}

#: Keys Selinon knows that flowtrace does not implement; they are reported as such, not as typos.
SELINON_ONLY = {
    "global": ("migration_dir",),
    "storage": ("cache",),
    "task": ("throttling", "selective_run_function"),
    "flow": ("cache", "sampling", "throttling", "node_args_from_first", "eager_failures",
             "propagate_parent_failures", "propagate_compound_finished", "propagate_compound_failures"),
    "edge": ("selective",),
}

_NODE_NAME = re.compile(r"^[_a-zA-Z][_a-zA-Z0-9]*$")  # Selinon's rule for task and flow names
_ENV_REF = re.compile(r"\{([^{}]*)\}")


class CheckResult(NamedTuple):
    """What :func:`check_paths` found.

    Attributes:
        config: the :class:`~flowtrace.flow.config.FlowConfig`, or None when there are problems.
        problems: every :class:`~flowtrace.flow.config.Problem`, in file and line order.
        files: the YAML files read, in the order read.

    .. versionadded:: 0.1.0
    """

    config: Optional[FlowConfig]
    problems: Tuple[Problem, ...]
    files: Tuple[str, ...]


def yaml_files(paths) -> Tuple[List[str], List[Problem]]:
    """Expand files and folders into the YAML files to read.

    A folder gives the ``*.yml`` and ``*.yaml`` files in it and in its
    sub-folders, except hidden ones (whose name starts with a dot), sorted by
    their path inside the folder. A file given twice is read once.

    Returns:
        The files, and a problem for each path that is missing or a folder without YAML.

    .. versionadded:: 0.1.0
    """
    files, problems, seen = [], [], set()
    for path in paths:
        path = os.fspath(path)
        if os.path.isdir(path):
            candidates = _folder(path)
            if not candidates:
                problems.append(Problem(path, 1, "the folder holds no .yml or .yaml file"))
        elif os.path.exists(path):
            candidates = [path]
        else:
            problems.append(Problem(path, 1, "no such file or folder"))
            candidates = []
        for candidate in candidates:
            key = os.path.realpath(candidate)
            if key not in seen:
                seen.add(key)
                files.append(candidate)
    return files, problems


def _folder(path: str) -> List[str]:
    found = []
    for folder, subfolders, names in os.walk(path):
        subfolders[:] = [name for name in subfolders if not name.startswith(".")]
        for name in names:
            if name.endswith((".yml", ".yaml")) and not name.startswith("."):
                full = os.path.join(folder, name)
                found.append((Path(os.path.relpath(full, path)).parts, full))
    return [full for _, full in sorted(found)]


def check_paths(*paths) -> CheckResult:
    """Read and check flow YAML files and folders; never raises for their content.

    Args:
        paths: files and folders, as for :func:`flowtrace.load_flows`.

    .. versionadded:: 0.1.0
    """
    files, problems = yaml_files(paths)
    checker = _Checker()
    checker.problems.extend(problems)
    documents = []
    for path in files:
        try:
            document = _yaml.load(path)
        except OSError as exc:
            checker.error(path, 1, "cannot read the file: %s" % (exc.strerror or exc))
            continue
        except _yaml.YamlError as exc:
            checker.error(path, exc.line or 1, exc.message)
            continue
        for line, key, first in document.duplicates:
            checker.error(path, line, "the key %s is written twice in one mapping (first at line %d)"
                          % (show(key), first))
        documents.append((path, document.data))
    config = checker.run(documents, tuple(files))
    order = {path: index for index, path in enumerate(files)}
    ordered = sorted(checker.problems, key=lambda p: (order.get(p.path, -1), p.line))
    return CheckResult(None if ordered else config, tuple(ordered), tuple(files))


# --- the checker ----------------------------------------------------------------


class _Checker:
    """Holds what has been read so far, and the problems."""

    def __init__(self):
        self.problems: List[Problem] = []
        self.settings = Settings()
        self.predicates_broken = False  # predicates_module failed to import
        self.storages: Dict[str, Storage] = {}
        self.tasks: Dict[str, Task] = {}
        self.listed: Dict[str, Location] = {}
        self.flows: Dict[str, Flow] = {}
        self.defined: Dict[str, Location] = {}
        self.used = set()
        self.imports: Dict[str, Any] = {}

    def error(self, path: str, line: int, message: str) -> None:
        self.problems.append(Problem(path, line, message))

    # --- generic readers ---------------------------------------------------

    def keys(self, path, mapping, part: str, where: str) -> None:
        """Report every key of ``mapping`` that ``part`` does not have."""
        known, selinon_only = KEYS[part], SELINON_ONLY.get(part, ())
        for key in mapping:
            if key in known:
                continue
            line = mapping.key_line(key)
            if key in selinon_only:
                self.error(path, line, "%s: %r is a Selinon option that flowtrace does not support" % (where, key))
            else:
                self.error(path, line, unknown("key", key, known, where))

    def mapping(self, path, value, line, where, what) -> bool:
        if isinstance(value, _yaml.Map):
            return True
        self.error(path, line, "%s: %s must be a mapping, not %s" % (where, what, a(value)))
        return False

    def text(self, path, mapping, key, where, required=False) -> Optional[str]:
        """The non-empty string at ``key``; None when absent, null or wrong."""
        value = mapping.get(key)
        if value is None:
            if required:
                self.error(path, mapping.line, "%s: %r is missing" % (where, key))
            return None
        if isinstance(value, str) and value.strip():
            return value
        self.error(path, mapping.value_line(key), "%s: %r must be a non-empty string, not %s" % (where, key, a(value)))
        return None

    def flag(self, path, mapping, key, where) -> bool:
        value = mapping.get(key)
        if value is None:
            return False
        if isinstance(value, bool):
            return value
        self.error(path, mapping.value_line(key), "%s: %r must be true or false, not %s" % (where, key, show(value)))
        return False

    def number(self, path, mapping, key, where, whole: bool):
        value = mapping.get(key)
        if value is None:
            return 0
        kinds = int if whole else (int, float)
        if isinstance(value, kinds) and not isinstance(value, bool) and value >= 0 and math.isfinite(value):
            return value
        wanted = "a whole number" if whole else "a number of seconds"
        self.error(path, mapping.value_line(key), "%s: %r must be %s, 0 or more, not %s"
                   % (where, key, wanted, show(value)))
        return 0

    def queue(self, path, mapping, key, where, default) -> str:
        value = self.text(path, mapping, key, where)
        if value is None:
            return default
        return self.expand(path, mapping.value_line(key), value, where, key)

    def expand(self, path, line, value, where, key) -> str:
        """Replace each ``{VAR}`` with the environment variable, as Selinon does for queue names."""
        def one(match):
            name = match.group(1)
            if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name):
                self.error(path, line, "%s: %r: {%s} is not an environment variable reference" % (where, key, name))
                return match.group(0)
            if name not in os.environ:
                self.error(path, line, "%s: %r refers to the environment variable %s, which is not set"
                           % (where, key, name))
                return match.group(0)
            return os.environ[name]

        return _ENV_REF.sub(one, value)

    def module(self, path, line, name, where, what):
        """Import module ``name``; report and return None when that fails."""
        if name not in self.imports:
            try:
                self.imports[name] = predicates.import_module(name)
            except ImportError as exc:
                self.imports[name] = exc
        found = self.imports[name]
        if isinstance(found, ImportError):
            self.error(path, line, "%s: cannot import %s %r: %s" % (where, what, name, found))
            return None
        return found

    def attribute(self, path, item, module_key, attr_key, where, what, default=None):
        """Import ``item[module_key]`` and return its attribute ``item[attr_key]`` (or ``default``).

        Returns None, having reported why, when either cannot be found.
        """
        module_name = item[module_key]
        module = self.module(path, item.value_line(module_key), module_name, where, "the module")
        if module is None:
            return None
        attr = item.get(attr_key)
        given = isinstance(attr, str) and bool(attr.strip())
        if not given and attr is not None:  # a wrong value, already reported
            return None
        attr = attr if given else default
        if not isinstance(attr, str):
            return None
        found = getattr(module, attr, None)
        if found is None:
            if given:
                self.error(path, item.value_line(attr_key), "%s: module %r has no %r (the %s)"
                           % (where, module_name, attr, what))
            else:
                self.error(path, item.value_line(module_key), "%s: module %r has no %r (the %s: without a %r, "
                           "the name)" % (where, module_name, attr, what, attr_key))
        return found

    def names(self, path, mapping, key, where, expected="a task or flow name or a list of them"):
        """The node name or names at ``key``, with their lines; unknown names are reported and left out."""
        value = mapping.get(key)
        line = mapping.value_line(key)
        if value is None or value == "" or value == []:
            return []
        if isinstance(value, _yaml.Seq):
            items = list(zip(value, value.item_lines))
        elif isinstance(value, str):
            items = [(value, line)]
        else:
            self.error(path, line, "%s: %r must be %s, not %s" % (where, key, expected, a(value)))
            return []
        found = []
        for name, item_line in items:
            if not isinstance(name, str):
                self.error(path, item_line, "%s: %r lists %s; expected the name of a task or flow"
                           % (where, key, a(name)))
            elif name not in self.tasks and name not in self.listed:
                self.error(path, item_line, unknown("task or flow", name, list(self.tasks) + list(self.listed),
                                                     "%s: %r" % (where, key)))
            else:
                found.append((name, item_line))
        return found

    # --- the run -------------------------------------------------------------

    def run(self, documents, files) -> FlowConfig:
        sections: Dict[str, List[Tuple[str, Any, str]]] = {key: [] for key in KEYS["top level"]}
        for path, data in documents:
            if data is None:
                self.error(path, 1, "the file is empty; expected a mapping with any of: %s"
                           % ", ".join(KEYS["top level"]))
                continue
            if not isinstance(data, _yaml.Map):
                self.error(path, 1, "the file must hold a mapping with any of: %s; not %s"
                           % (", ".join(KEYS["top level"]), a(data)))
                continue
            self.keys(path, data, "top level", "top level")
            for key in KEYS["top level"]:
                if key in data:
                    sections[key].append((path, data, key))
        self.read_global(sections["global"])
        for path, data, key in sections["storages"]:
            for item, line in self.items(path, data, key):
                self.read_storage(path, item, line)
        for path, data, key in sections["tasks"]:
            for item, line in self.items(path, data, key):
                self.read_task(path, item, line)
        for path, data, key in sections["flows"]:
            for item, line in self.items(path, data, key):
                self.read_listing(path, item, line)
        for path, data, key in sections["flow-definitions"]:
            for item, line in self.items(path, data, key):
                self.read_flow(path, item, line)
        for name, location in self.listed.items():
            if name not in self.defined:
                self.error(location.path, location.line, "flow %r is listed under 'flows' but has no definition "
                           "under 'flow-definitions'" % name)
        for task in self.tasks.values():
            if task.name not in self.used and task.location is not None:  # read_task gives each one
                self.error(task.location.path, task.location.line, "task %r is not used by any flow" % task.name)
        flows = {name: self.flows[name] for name in self.listed if name in self.flows}
        return FlowConfig(tasks=FrozenMap(self.tasks), flows=FrozenMap(flows), storages=FrozenMap(self.storages),
                          settings=self.settings, files=files)

    def items(self, path, data, key):
        value = data[key]
        if value is None:
            return []
        if not isinstance(value, _yaml.Seq):
            self.error(path, data.value_line(key), "%r must be a list, not %s" % (key, a(value)))
            return []
        return list(zip(value, value.item_lines))

    # --- global --------------------------------------------------------------

    def read_global(self, sections) -> None:
        first = None
        for path, data, key in sections:
            if first is not None:
                self.error(path, data.key_line(key), "a second 'global' section; the first is at %s" % (first,))
                continue
            first = Location(path, data.key_line(key))
            section = data[key]
            if section is None:
                continue
            if not self.mapping(path, section, data.value_line(key), "global", "the section"):
                continue
            self.keys(path, section, "global", "global")
            module = self.text(path, section, "predicates_module", "global")
            if module is not None:
                if self.module(path, section.value_line("predicates_module"), module, "global",
                               "predicates_module") is None:
                    self.predicates_broken = True
            trace = self.read_trace(path, section) if "trace" in section else ()
            self.settings = Settings(
                trace=trace,
                predicates_module=module,
                default_task_queue=self.queue(path, section, "default_task_queue", "global",
                                              self.settings.default_task_queue),
                default_dispatcher_queue=self.queue(path, section, "default_dispatcher_queue", "global",
                                                    self.settings.default_dispatcher_queue),
                location=Location(path, section.line),
            )

    def read_trace(self, path, section) -> tuple:
        from flowtrace.flow import _trace

        value, line = section["trace"], section.value_line("trace")
        if value is None or value is False:
            return ()
        if isinstance(value, _yaml.Map):  # Selinon also takes a single entry
            entries = [(value, line)]
        elif isinstance(value, _yaml.Seq):
            entries = list(zip(value, value.item_lines))
        else:
            self.error(path, line, "global: 'trace' must be a list of sinks, not %s" % a(value))
            return ()
        flat: List[Tuple[Any, int]] = []
        for entry, entry_line in entries:
            if isinstance(entry, _yaml.Map) and len(entry) > 1:  # Selinon reads every sink key of an entry
                flat.extend(({key: entry[key]}, entry.key_line(key)) for key in entry)
            else:
                flat.append((entry, entry_line))
        result = []
        for index, (entry, entry_line) in enumerate(flat):
            entry = plain(entry)
            problem = _trace.problem(index, entry)
            if problem:
                self.error(path, entry_line, problem)
            result.append(entry)
        return tuple(result)

    # --- storages and tasks ---------------------------------------------------

    def read_storage(self, path, item, line) -> None:
        if not self.mapping(path, item, line, "storages", "an entry"):
            return
        name = self.text(path, item, "name", "storage at line %d" % line, required=True)
        where = "storage %r" % name if name else "storage at line %d" % line
        self.keys(path, item, "storage", where)
        import_path = self.text(path, item, "import", where, required=True)
        class_name = self.text(path, item, "classname", where) or name
        configuration = item.get("configuration")
        if configuration is not None and not self.mapping(path, configuration, item.value_line("configuration"),
                                                          where, "'configuration'"):
            configuration = None
        if import_path and class_name:
            self.attribute(path, item, "import", "classname", where, "storage class", default=name)
        if name is None:
            return
        if name in self.storages:
            self.error(path, item.value_line("name"), "storage %r is defined twice; the first is at %s"
                       % (name, self.storages[name].location))
            return
        self.storages[name] = Storage(name, import_path or "", class_name or name,
                                      FrozenMap(plain(configuration or {})), Location(path, item.value_line("name")))

    def node_name(self, path, item, where) -> Optional[str]:
        name = self.text(path, item, "name", where, required=True)
        if name is not None and not _NODE_NAME.match(name):
            self.error(path, item.value_line("name"), "%s: %r is not a valid name: use letters, digits and "
                       "underscores, not starting with a digit" % (where, name))
            return None
        return name

    def read_task(self, path, item, line) -> None:
        if not self.mapping(path, item, line, "tasks", "an entry"):
            return
        name = self.node_name(path, item, "task at line %d" % line)
        where = "task %r" % name if name else "task at line %d" % line
        self.keys(path, item, "task", where)
        import_path = self.text(path, item, "import", where, required=True)
        class_name = self.text(path, item, "classname", where) or name
        if import_path and class_name:
            self.attribute(path, item, "import", "classname", where, "task class", default=name)
        storage = self.text(path, item, "storage", where)
        if storage is not None and storage not in self.storages:
            self.error(path, item.value_line("storage"), unknown("storage", storage, list(self.storages), where))
        storage_task_name = self.text(path, item, "storage_task_name", where)
        if storage_task_name is not None and storage is None:
            self.error(path, item.key_line("storage_task_name"), "%s: 'storage_task_name' needs a 'storage'" % where)
        task = Task(
            name=name or "",
            import_path=import_path or "",
            class_name=class_name or "",
            max_retry=self.number(path, item, "max_retry", where, whole=True),
            retry_countdown=self.number(path, item, "retry_countdown", where, whole=False),
            storage=storage,
            storage_readonly=self.flag(path, item, "storage_readonly", where),
            storage_task_name=storage_task_name or name,
            queue=self.queue(path, item, "queue", where, self.settings.default_task_queue),
            output_schema=self.text(path, item, "output_schema", where),
            location=Location(path, item.value_line("name")),
        )
        if name is None:
            return
        if name in self.tasks:
            self.error(path, item.value_line("name"), "task %r is defined twice; the first is at %s"
                       % (name, self.tasks[name].location))
            return
        self.tasks[name] = task

    def read_listing(self, path, item, line) -> None:
        if not isinstance(item, str) or not _NODE_NAME.match(item):
            self.error(path, line, "'flows' lists flow names; %s is not a valid name" % show(item))
            return
        if item in self.listed:
            self.error(path, line, "flow %r is listed twice; the first is at %s" % (item, self.listed[item]))
        elif item in self.tasks:
            self.error(path, line, "%r is the name of a task (at %s) and of a flow" % (item, self.tasks[item].location))
        else:
            self.listed[item] = Location(path, line)

    # --- flows ---------------------------------------------------------------

    def read_flow(self, path, item, line) -> None:
        if not self.mapping(path, item, line, "flow-definitions", "an entry"):
            return
        name = self.node_name(path, item, "flow definition at line %d" % line)
        where = "flow %r" % name if name else "flow definition at line %d" % line
        here = Location(path, item.value_line("name"))
        if name is not None:
            if name in self.defined:
                self.error(path, here.line, "flow %r is defined twice; the first is at %s" % (name, self.defined[name]))
                name = None
            elif name in self.tasks:
                self.error(path, here.line, "flow-definitions: %r is a task, not a flow listed under 'flows'" % name)
                name = None
            elif name not in self.listed:
                matches = difflib.get_close_matches(name, list(self.listed), n=1)
                self.error(path, here.line, "flow-definitions: flow %r is not listed under 'flows'%s"
                           % (name, "; did you mean %r?" % matches[0] if matches else ""))
                name = None
            else:
                self.defined[name] = here
        self.keys(path, item, "flow", where)
        flow = _flowcheck.FlowReader(self, path, item, where).read(name or "", here)
        if name is not None and flow is not None:
            self.flows[name] = flow
