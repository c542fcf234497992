"""One condition of an edge or a failure: a tree of ``and``, ``or`` and ``not`` over predicates.

Each predicate is looked up as the dispatcher will look it up
(:func:`flowtrace.flow.predicates.resolve`), and its arguments and the result
it reads are checked against the edge it is written on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional, Tuple

from flowtrace.flow import predicates
from flowtrace.flow.load import _yaml
from flowtrace.flow.load._fields import Fields
from flowtrace.flow.load._words import a, and_list, nearest, plain, show, unknown
from flowtrace.flow.model import ALWAYS_TRUE, And, FrozenMap, Location, Not, Or, Predicate

if TYPE_CHECKING:
    from flowtrace.flow.load._flows import Known


class ConditionReader:
    """Reads a condition tree and checks its predicates against the edge."""

    def __init__(self, fields: Fields, known: Known, where: str, nodes_from: Tuple[str, ...], starting: bool,
                 subject: str = "a starting edge"):
        self.fields = fields
        self.known = known
        self.where = where + ", condition"
        self.nodes_from = nodes_from
        self.starting = starting
        self.subject = subject  # what has no result to read, when starting

    def error(self, line, message):
        self.fields.error(line, "%s: %s" % (self.where, message))

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
                self.fields.error(value.key_line(key), unknown("key", key, ("name", "and", "or", "not"), self.where))
            return ALWAYS_TRUE
        form = forms[0]
        here = Location(self.fields.path, value.line)
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
        known = self.known
        self.fields.keys(value, "predicate", self.where)
        name, name_line = value["name"], value.value_line("name")
        if not isinstance(name, str):
            self.error(name_line, "the predicate 'name' must be a string, not %s" % a(name))
            return ALWAYS_TRUE
        module = known.settings.predicates_module
        try:
            fn = predicates.resolve(name, None if known.predicates_broken else module)
        except LookupError as exc:
            if known.predicates_broken:
                return ALWAYS_TRUE  # the import failure is reported; the name may be in that module
            match = nearest(name, predicates.names(module))
            self.error(name_line, str(exc) + ("; did you mean %r?" % match if match else ""))
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
        node, line = value.get("node"), value.value_line("node")
        if not signature.reads_result:
            if node is None:
                return None
            if isinstance(node, str) and node in self.nodes_from:  # Selinon accepts it and ignores it
                self.fields.warn(line, "%s: predicate %r does not read a task result, so its 'node' %r is not used"
                                 % (self.where, name, node))
            else:
                self.error(line, "predicate %r does not read a task result, so it takes no 'node'; and %s is "
                           "not one of the edge's 'from' nodes" % (name, show(node)))
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
        task = self.known.tasks.get(node)
        if task is None:
            self.error(line, "predicate %r reads a task result, and %r is a flow" % (name, node))
        elif task.storage is None:
            self.error(line, "predicate %r reads the result of %r, which has no 'storage' to read it from"
                       % (name, node))
        elif task.storage_readonly:
            self.error(line, "predicate %r reads the result of %r, whose storage is read-only (storage_readonly), "
                       "so its result is not stored" % (name, node))
        return node
