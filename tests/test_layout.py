"""The house plan of ``flowtrace/`` (docs/internals.rst): no import circles, and no arrow the layout forbids.

The imports are read with :mod:`ast` from the package's own files, those
inside functions included; an import under ``if TYPE_CHECKING:`` is for type
checkers only and does not count. ``from flowtrace import Trace`` is an
import of the package face, ``flowtrace/__init__.py``, which imports
:mod:`flowtrace.trace` in turn.
"""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "flowtrace"

#: The command line and ``python -m flowtrace`` sit above everything: they may import any part.
TOP = {"flowtrace.cli", "flowtrace.__main__"}
EMITTERS = ("flowtrace.celery", "flowtrace.flow")


def _modules():
    """``{dotted name: path}`` of every module of the package; the demo apps are a user's modules, not the package's."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[:3] == ["flowtrace", "demo", "apps"]:
            continue
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _type_checking_only(tree):
    """The ids of the nodes inside ``if TYPE_CHECKING:`` blocks."""
    hidden = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            hidden.update(id(inner) for statement in node.body for inner in ast.walk(statement))
    return hidden


def _known(name):
    """The module of the package that importing ``name`` runs, or None outside the package."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module, path):
    """The package's modules that ``module`` imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    hidden = _type_checking_only(tree)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if id(node) in hidden:
            continue
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            # `from pkg import name` runs pkg.name when it is a module, else pkg.
            targets = [base + "." + alias.name if (base + "." + alias.name) in MODULES else base
                       for alias in node.names]
        else:
            continue
        found.update(t for t in map(_known, targets) if t is not None and t != module)
    return found


GRAPH = {module: _imports(module, path) for module, path in MODULES.items()}


def _circles(graph):
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def _under(module, prefix):
    return module == prefix or module.startswith(prefix + ".")


def _arrows(allowed):
    """Every ``(importer, imported)`` pair for which ``allowed`` is false."""
    return sorted((source, target) for source, targets in GRAPH.items() for target in targets
                  if not allowed(source, target))


class TestLayout:
    def test_no_import_circles(self):
        """No module of flowtrace/ reaches itself again through the modules it imports."""
        assert [] == _circles(GRAPH)

    def test_the_checker_finds_a_circle(self):
        """A circle made on purpose is found, so that the test above can fail."""
        graph = dict(GRAPH, **{"flowtrace.trace": GRAPH["flowtrace.trace"] | {"flowtrace.testing"},
                               "flowtrace.testing": GRAPH["flowtrace.testing"] | {"flowtrace.trace"}})
        assert True is any({"flowtrace.testing", "flowtrace.trace"} <= set(c) for c in _circles(graph))

    def test_sinks_never_import_an_emitter(self):
        """flowtrace.sinks knows neither the Celery integration nor the flow dispatcher."""
        assert [] == _arrows(lambda source, target: not (
            _under(source, "flowtrace.sinks") and any(_under(target, e) for e in EMITTERS)))

    def test_the_emitters_never_import_each_other(self):
        """flowtrace.celery and flowtrace.flow share only the core; registering flows may call the integration's face."""
        assert [] == _arrows(lambda source, target: not (
            (_under(source, "flowtrace.celery") and _under(target, "flowtrace.flow"))
            or (_under(source, "flowtrace.flow") and _under(target, "flowtrace.celery")
                and (source, target) != ("flowtrace.flow._registration", "flowtrace.celery"))))

    def test_the_core_never_imports_an_emitter(self):
        """The top-level modules (but the command line) and the sinks import neither emitter."""
        def core(module):
            return module not in TOP and (module.count(".") <= 1 and module not in
                                          {"flowtrace.celery", "flowtrace.flow", "flowtrace.view",
                                           "flowtrace.demo", "flowtrace.storages"}
                                          or _under(module, "flowtrace.sinks"))

        assert [] == _arrows(lambda source, target: not (
            core(source) and any(_under(target, e) for e in EMITTERS)))
