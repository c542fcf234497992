"""Sphinx configuration for the flowtrace documentation.

Build with ``make docs``; warnings are errors there (``-W``).
"""

import ast
import inspect
import os
import sys

# Document the working tree, not whatever flowtrace happens to be installed.
sys.path.insert(0, os.path.abspath(".."))

import flowtrace  # noqa: E402

project = "flowtrace"
author = "the flowtrace authors"
copyright = "the flowtrace authors"
release = flowtrace.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
]

exclude_patterns = ["_build"]
templates_path = []
html_static_path = []

html_theme = "alabaster"
html_title = "flowtrace %s" % release

# Google-style docstrings (Args: / Returns: / Raises:), as STYLE.md asks.
napoleon_google_docstring = True
napoleon_numpy_docstring = False

autodoc_member_order = "bysource"
autodoc_typehints = "signature"

# Every cross-reference to flowtrace must resolve; a broken one fails the -W
# build. References into the standard library and third-party packages
# (lower-case top-level modules other than flowtrace) cannot be checked
# without fetching their inventories over the network, so they are let through.
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(?!flowtrace(\.|$))[a-z_][a-z0-9_]*(\..+)?"),
    # Private names in flowtrace's annotations (type variables such as _SinkT), which are not documented.
    (r"py:.*", r"flowtrace(\.[a-z_]\w*)*\._\w+"),
]


def _resolve_trace(app, env, node, contnode):
    """Let any docstring write ``Trace.X`` for ``flowtrace.Trace.X``, whatever its module."""
    target = node.get("reftarget", "")
    if node.get("refdomain") != "py" or not (target == "Trace" or target.startswith("Trace.")):
        return None
    return env.get_domain("py").resolve_xref(
        env, node["refdoc"], app.builder, node["reftype"], "flowtrace." + target, node, contnode
    )


_TYPE_CHECKING_RUN = set()


def _run_type_checking_imports(app, obj, bound_method):
    """Run the ``if TYPE_CHECKING:`` block of an object's flowtrace module before autodoc reads its signature.

    flowtrace imports what only annotations need under ``if TYPE_CHECKING:``,
    so that importing it stays cheap and free of cycles. autodoc evaluates
    annotations at run time; without those names it would show them
    unqualified, and the references would not resolve.
    """
    module = sys.modules.get(getattr(obj, "__module__", None) or "")
    name = getattr(module, "__name__", "")
    if not (name == "flowtrace" or name.startswith("flowtrace.")) or name in _TYPE_CHECKING_RUN:
        return
    _TYPE_CHECKING_RUN.add(name)
    for node in ast.parse(inspect.getsource(module)).body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            exec(compile(ast.Module(body=node.body, type_ignores=[]), module.__file__, "exec"), vars(module))


def setup(app):
    app.connect("missing-reference", _resolve_trace)
    app.connect("autodoc-before-process-signature", _run_type_checking_imports)
