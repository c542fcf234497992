"""The wording of problems: how values, types and suggestions are written."""

from __future__ import annotations

import difflib
from typing import Dict, Optional


def show(value) -> str:
    """``value`` as the problem quotes it: a string in quotes, anything else with its kind."""
    if isinstance(value, str):
        return repr(value)
    return "%r (a %s)" % (value, kind(value))


def kind(value) -> str:
    """The YAML kind of ``value``: null, boolean, number, string, mapping, list."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "mapping"
    if isinstance(value, list):
        return "list"
    return type(value).__name__


def a(value) -> str:
    """``value``'s kind with its article: 'a string', 'an int', or 'null'."""
    name = kind(value)
    if name == "null":
        return "null"
    return ("an " if name[0] in "aeiou" else "a ") + name


def unknown(what: str, value, choices, where: str) -> str:
    """'<where>: unknown <what> <value>', with the nearest of ``choices`` or all of them when they are few."""
    message = "%s: unknown %s %s" % (where, what, show(value))
    match = nearest(value, choices) if isinstance(value, str) else None
    if match is not None:
        return message + "; did you mean %r?" % match
    if choices and len(choices) <= 12:
        return message + "; expected one of: %s" % ", ".join(_choice(name) for name in choices)
    return message


def nearest(word: str, choices) -> Optional[str]:
    """The one of ``choices`` closest to ``word``, or None when none is close; never a name not in ``choices``.

    Case is ignored when measuring (``fieldequal`` and ``FIELDEQUAL`` find
    ``fieldEqual``); of names that differ only in case, the first in sorted
    order is given.
    """
    by_folded: Dict[str, str] = {}
    for choice in sorted(name for name in choices if isinstance(name, str)):
        by_folded.setdefault(choice.casefold(), choice)
    found = difflib.get_close_matches(word.casefold(), list(by_folded), n=1)
    return by_folded[found[0]] if found else None


def _choice(name) -> str:
    """A name in a list of choices: bare when it reads unambiguously, else quoted (a newline, padding, empty)."""
    if isinstance(name, str) and name and name.isprintable() and name.strip() == name:
        return name
    return repr(name)


def plain(value):
    """A deep copy of YAML data as plain dicts and lists."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def and_list(names) -> str:
    """"'a', 'b' and 'c'"."""
    names = ["%r" % name for name in names]
    return names[0] if len(names) == 1 else "%s and %s" % (", ".join(names[:-1]), names[-1])
