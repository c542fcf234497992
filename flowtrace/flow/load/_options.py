"""The Selinon options that tasks, storages, flows and edges share: throttling, caches, sampling, selective runs.

Each reader takes the mapping that holds the option and returns the model's
value, or None after reporting what is wrong. A value Selinon takes as "not
set" (null, false, an empty mapping) is None here too.
"""

from __future__ import annotations

import datetime
import inspect
import math
from typing import Any, Mapping, Optional

from flowtrace.flow.load import _yaml
from flowtrace.flow.load._fields import Fields
from flowtrace.flow.load._words import a, and_list, plain, show, unknown
from flowtrace.flow import _sampling
from flowtrace.flow._options import CACHE_NAMES, STRATEGIES
from flowtrace.flow.model import Cache, FrozenMap, Location, Sampling, Selective, SelectiveRunFunction


def throttling(fields: Fields, item, where: str) -> Optional[datetime.timedelta]:
    """``throttling``: :class:`datetime.timedelta` keywords, each a number of 0 or more."""
    value, line = item.get("throttling"), item.value_line("throttling")
    if not value:
        return None
    where += ", throttling"
    if not fields.mapping(value, line, where, "'throttling'"):
        return None
    fields.keys(value, "throttling", where)
    parts = {}
    for key in value:
        number = value[key]
        if not isinstance(key, str) or key not in _TIMEDELTA_KEYS:
            continue  # reported by keys()
        if isinstance(number, bool) or not isinstance(number, (int, float)) or not math.isfinite(number) \
                or number < 0:
            fields.error(value.value_line(key), "%s: %r must be a number, 0 or more, not %s" % (where, key, show(number)))
            continue
        parts[key] = number
    try:
        return datetime.timedelta(**parts)
    except OverflowError:
        fields.error(line, "%s: the time is too long" % where)
        return None


_TIMEDELTA_KEYS = ("days", "seconds", "microseconds", "milliseconds", "minutes", "hours", "weeks")


def _import_and_name(fields: Fields, value, where: str, default_name: str):
    """The ``name`` (``default_name`` when absent) and the ``import`` (None when absent) of ``value``."""
    name = fields.text(value, "name", where) if "name" in value else default_name
    import_path = fields.text(value, "import", where) if "import" in value else None
    return name, import_path


def cache(fields: Fields, item, where: str) -> Optional[Cache]:
    """A storage's or a flow's ``cache``: a mapping of ``name``, ``import`` and ``configuration``."""
    if "cache" not in item:
        return None
    value, line = item["cache"], item.value_line("cache")
    where += ", cache"
    if not fields.mapping(value, line, where, "'cache'"):
        return None
    fields.keys(value, "cache", where)
    name, import_path = _import_and_name(fields, value, where, "LRU")
    configuration: Any = {"max_cache_size": 0}
    if "configuration" in value:
        configuration = value["configuration"]
        if not fields.mapping(configuration, value.value_line("configuration"), where, "'configuration'"):
            return None
    if name is None or ("import" in value and import_path is None):
        return None
    if import_path is None:
        if name not in CACHE_NAMES:
            fields.error(value.value_line("name"), unknown("cache", name, CACHE_NAMES, where + " (without 'import', "
                                                           "one of Selinon's)"))
            return None
    elif import_path == "selinon.caches" and name in CACHE_NAMES:
        pass  # flowtrace's cache of that name runs it (flowtrace.caches.make_cache): Selinon need not be installed
    elif fields.attribute(value, "import", "name", where, "cache class", default=name) is None:
        return None
    return Cache(name, import_path, FrozenMap(plain(configuration)), Location(fields.path, value.line))


def sampling(fields: Fields, item, where: str) -> Optional[Sampling]:
    """A flow's ``sampling``: a strategy ``name``, its ``import`` and its ``args``."""
    value, line = item.get("sampling"), item.value_line("sampling")
    if not value:
        return None
    where += ", sampling"
    if not fields.mapping(value, line, where, "'sampling'"):
        return None
    fields.keys(value, "sampling", where)
    name = fields.text(value, "name", where, required=True)
    import_path = fields.text(value, "import", where) if "import" in value else None
    args = value.get("args")
    if "args" not in value:
        fields.error(value.line, "%s: 'args' is missing; give the strategy's arguments" % where)
        return None
    if not fields.mapping(args, value.value_line("args"), where, "'args'"):
        return None
    if name is None or ("import" in value and import_path is None):
        return None
    given = [key for key in args if isinstance(key, str)]
    for key in args:
        if not isinstance(key, str):
            fields.error(args.key_line(key), "%s: argument names are strings, not %s" % (where, show(key)))
    if import_path is None or (import_path == _sampling.SELINON_MODULE and _sampling.stands_in(import_path)):
        # Without Selinon installed, its module's names are flowtrace's same-named strategies.
        if name not in STRATEGIES:
            fields.error(value.value_line("name"), unknown("sampling strategy", name, list(STRATEGIES),
                                                           where + " (without 'import', one of Selinon's)"))
            return None
        wanted, any_more = STRATEGIES[name], False
    else:
        fn = fields.attribute(value, "import", "name", where, "sampling strategy")
        if fn is None:
            return None
        found = _parameters(fn)
        if found is None or "status" not in found[0]:
            fields.error(value.value_line("name"), "%s: %s.%s must be a function taking 'status' and its args"
                         % (where, import_path, name))
            return None
        wanted, any_more = tuple(param for param in found[0] if param != "status"), found[1]
    missing = [param for param in wanted if param not in given]
    if missing:
        fields.error(value.value_line("args"), "%s: strategy %r needs the argument%s %s"
                     % (where, name, "s" if len(missing) > 1 else "", and_list(missing)))
    for key in given:
        if key not in wanted and not any_more:
            fields.error(args.key_line(key), unknown("argument", key, wanted, "%s: strategy %r" % (where, name)))
    return Sampling(name, import_path, FrozenMap(plain(args)), Location(fields.path, value.line))


def _parameters(fn):
    """``(names, takes **kwargs)`` of ``fn``'s parameters, or None when it has no signature."""
    if not callable(fn):
        return None
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return None
    named = tuple(p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))
    return named, any(p.kind == p.VAR_KEYWORD for p in parameters)


def selective_run_function(fields: Fields, item, where: str) -> Optional[SelectiveRunFunction]:
    """A task's ``selective_run_function``: a function ``name`` and its ``import``."""
    value, line = item.get("selective_run_function"), item.value_line("selective_run_function")
    if not value:
        return None
    where += ", selective_run_function"
    if not fields.mapping(value, line, where, "'selective_run_function'"):
        return None
    fields.keys(value, "selective_run_function", where)
    name, import_path = _import_and_name(fields, value, where, "always_run")
    if name is None or ("import" in value and import_path is None):
        return None
    if import_path is None:
        if name != "always_run":
            fields.error(value.value_line("name"), "%s: without 'import', the only function is Selinon's "
                         "'always_run', not %s" % (where, show(name)))
            return None
    elif import_path == "selinon.routines" and name == "always_run":
        pass  # flowtrace.flow.routines.always_run runs it (flowtrace.flow._selective): Selinon need not be installed
    else:
        fn = fields.attribute(value, "import", "name", where, "selective run function", default=name)
        if fn is None:
            return None
        if not callable(fn):
            fields.error(value.value_line("name"), "%s: %s.%s is not callable" % (where, import_path, name))
            return None
    return SelectiveRunFunction(name, import_path, Location(fields.path, value.line))


def selective(fields: Fields, raw, where: str, nodes_to, tasks: Mapping[str, Any],
              flows: Mapping[str, Any]) -> Optional[Selective]:
    """An edge's ``selective``: the ``tasks`` of the one sub-flow it starts to run, and how."""
    value, line = raw.get("selective"), raw.value_line("selective")
    if not value:
        return None
    where += ", selective"
    if not fields.mapping(value, line, where, "'selective'"):
        return None
    fields.keys(value, "selective", where)
    if len(nodes_to) != 1 or nodes_to[0] in tasks:
        fields.error(line, "%s: a selective edge starts one sub-flow, not %s"
                     % (where, and_list(nodes_to) if nodes_to else "nothing"))
    names = value.get("tasks")
    if "tasks" not in value:
        fields.error(value.line, "%s: 'tasks' is missing; list the tasks to run" % where)
        names = []
    elif not isinstance(names, _yaml.Seq):
        fields.error(value.value_line("tasks"), "%s: 'tasks' must be a list of task names, not %s" % (where, a(names)))
        names = []
    found = []
    for name, name_line in zip(names, getattr(names, "item_lines", ())):
        if not isinstance(name, str) or name not in tasks:
            fields.error(name_line, unknown("task", name, list(tasks), where + ": 'tasks'"))
        else:
            found.append(name)
    run_subsequent: Any = value.get("run_subsequent", False)
    if isinstance(run_subsequent, _yaml.Seq):
        for name, name_line in zip(run_subsequent, run_subsequent.item_lines):
            if not isinstance(name, str) or name not in flows:
                fields.error(name_line, unknown("flow", name, list(flows), where + ": 'run_subsequent'"))
        run_subsequent = tuple(name for name in run_subsequent if isinstance(name, str) and name in flows)
    elif not isinstance(run_subsequent, bool):
        fields.error(value.value_line("run_subsequent"), "%s: 'run_subsequent' must be true, false or flow names, "
                     "not %s" % (where, show(run_subsequent)))
        run_subsequent = False
    follow = fields.flag(value, "follow_subflows", where)
    return Selective(tuple(found), run_subsequent, follow, Location(fields.path, value.line))
