"""Reading the values of one YAML file, each wrong one reported as a problem of that file.

A :class:`Fields` is made for each file. Every reader returns what it could
read, or a neutral value (None, 0, False, an empty list) after reporting
why, so that the checking goes on and one run reports every problem.
"""

from __future__ import annotations

import math
import os
import re
from typing import Any, Dict, List, Optional

from flowtrace.flow import predicates
from flowtrace.flow.load import _yaml
from flowtrace.flow.load._words import a, show, unknown
from flowtrace.flow.load.schema import KEYS, SELINON_ONLY
from flowtrace.flow.model import Problem

_ENV_REF = re.compile(r"\{([^{}]*)\}")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class Fields:
    """The readers of one file's values.

    Args:
        path: the file; every problem reported names it.
        problems: where problems go, shared by every file of a check.
        imports: module name to the module or the :class:`ImportError` its
            import raised, shared by every file, so each module is imported once.
        warnings: where warnings go: what Selinon accepts with a warning
            (``flowtrace check --strict`` makes them errors).
    """

    def __init__(self, path: str, problems: List[Problem], imports: Dict[str, Any],
                 warnings: Optional[List[Problem]] = None):
        self.path = path
        self.problems = problems
        self.imports = imports
        self.warnings = problems if warnings is None else warnings

    def error(self, line: int, message: str) -> None:
        self.problems.append(Problem(self.path, line, message))

    def warn(self, line: int, message: str) -> None:
        self.warnings.append(Problem(self.path, line, message))

    def keys(self, mapping, part: str, where: str) -> None:
        """Report every key of ``mapping`` that ``part`` does not have."""
        known, selinon_only = KEYS[part], SELINON_ONLY.get(part, ())
        for key in mapping:
            if key in known:
                continue
            line = mapping.key_line(key)
            if key in selinon_only:
                self.error(line, "%s: %r is a Selinon option that flowtrace does not support" % (where, key))
            else:
                self.error(line, unknown("key", key, known, where))

    def mapping(self, value, line, where, what) -> bool:
        if isinstance(value, _yaml.Map):
            return True
        self.error(line, "%s: %s must be a mapping, not %s" % (where, what, a(value)))
        return False

    def items(self, data, key):
        """``(item, line)`` of the list at ``key``; none when it is null or not a list."""
        value = data[key]
        if value is None:
            return []
        if not isinstance(value, _yaml.Seq):
            self.error(data.value_line(key), "%r must be a list, not %s" % (key, a(value)))
            return []
        return list(zip(value, value.item_lines))

    def text(self, mapping, key, where, required=False) -> Optional[str]:
        """The non-empty string at ``key``; None when absent, null or wrong."""
        value = mapping.get(key)
        if value is None:
            if required:
                self.error(mapping.line, "%s: %r is missing" % (where, key))
            return None
        if isinstance(value, str) and value.strip():
            return value
        self.error(mapping.value_line(key), "%s: %r must be a non-empty string, not %s" % (where, key, a(value)))
        return None

    def flag(self, mapping, key, where) -> bool:
        value = mapping.get(key)
        if value is None:
            return False
        if isinstance(value, bool):
            return value
        self.error(mapping.value_line(key), "%s: %r must be true or false, not %s" % (where, key, show(value)))
        return False

    def number(self, mapping, key, where, whole: bool):
        value = mapping.get(key)
        if value is None:
            return 0
        kinds = int if whole else (int, float)
        if isinstance(value, kinds) and not isinstance(value, bool) and value >= 0 and math.isfinite(value):
            return value
        wanted = "a whole number" if whole else "a number of seconds"
        self.error(mapping.value_line(key), "%s: %r must be %s, 0 or more, not %s" % (where, key, wanted, show(value)))
        return 0

    def queue(self, mapping, key, where, default) -> str:
        value = self.text(mapping, key, where)
        if value is None:
            return default
        return self.expand(mapping.value_line(key), value, where, key)

    def expand(self, line, value, where, key) -> str:
        """Replace each ``{VAR}`` with the environment variable, as Selinon does for queue names."""
        def one(match):
            name = match.group(1)
            if not _ENV_NAME.match(name):
                self.error(line, "%s: %r: {%s} is not an environment variable reference" % (where, key, name))
                return match.group(0)
            if name not in os.environ:
                self.error(line, "%s: %r refers to the environment variable %s, which is not set" % (where, key, name))
                return match.group(0)
            return os.environ[name]

        return _ENV_REF.sub(one, value)

    def module(self, line, name, where, what):
        """Import module ``name``; report and return None when that fails."""
        if name not in self.imports:
            try:
                self.imports[name] = predicates.import_module(name)
            except ImportError as exc:
                self.imports[name] = exc
        found = self.imports[name]
        if isinstance(found, ImportError):
            self.error(line, "%s: cannot import %s %r: %s" % (where, what, name, found))
            return None
        return found

    def attribute(self, item, module_key, attr_key, where, what, default=None):
        """Import ``item[module_key]`` and return its attribute ``item[attr_key]`` (or ``default``).

        Returns None, having reported why, when either cannot be found.
        """
        module_name = item[module_key]
        module = self.module(item.value_line(module_key), module_name, where, "the module")
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
                self.error(item.value_line(attr_key), "%s: module %r has no %r (the %s)"
                           % (where, module_name, attr, what))
            else:
                self.error(item.value_line(module_key), "%s: module %r has no %r (the %s: without a %r, "
                           "the name)" % (where, module_name, attr, what, attr_key))
        return found
