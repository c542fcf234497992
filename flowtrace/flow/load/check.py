"""Checking flow YAML: every problem, each with its file and line.

:func:`check_paths` reads the files, checks them together and builds the
:class:`~flowtrace.flow.model.FlowConfig` when nothing is wrong. It never
raises for anything written in the files: each problem becomes a
:class:`~flowtrace.flow.model.Problem`, and the checking goes on, so one run
reports everything. ``flowtrace check`` and :func:`flowtrace.load_flows` both
use it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import List, NamedTuple, Optional, Tuple

from flowtrace.flow.load import _yaml
from flowtrace.flow.load._sections import Sections
from flowtrace.flow.load._words import show
from flowtrace.flow.model import FlowConfig, Problem

__all__ = ["CheckResult", "check_paths", "yaml_files"]


class CheckResult(NamedTuple):
    """What :func:`check_paths` found.

    Attributes:
        config: the :class:`~flowtrace.flow.model.FlowConfig`, or None when there are problems.
        problems: every error, a :class:`~flowtrace.flow.model.Problem`, in file and line order.
        files: the YAML files read, in the order read.
        warnings: every warning, in file and line order: what Selinon accepts
            but warns of (a task no flow uses, a key written twice in one
            mapping, ...). They do not stop the configuration from loading;
            in strict mode they are in ``problems`` instead.

    .. versionadded:: 0.1.0
    """

    config: Optional[FlowConfig]
    problems: Tuple[Problem, ...]
    files: Tuple[str, ...]
    warnings: Tuple[Problem, ...] = ()


def yaml_files(paths) -> Tuple[List[str], List[Problem]]:
    """Expand files and folders into the YAML files to read.

    A folder gives the ``*.yml`` and ``*.yaml`` files in it and in its
    sub-folders, except hidden ones (whose name starts with a dot), sorted by
    their path inside the folder. A file given twice is read once.

    Args:
        paths: files and folders, as strings or path-like objects.

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


def check_paths(*paths, strict: bool = False) -> CheckResult:
    """Read and check flow YAML files and folders; never raises for their content.

    Args:
        paths: files and folders, as for :func:`flowtrace.load_flows`.
        strict: make every warning an error, as ``flowtrace check --strict`` does.

    Returns:
        A :class:`CheckResult`: the configuration when nothing is wrong, and every problem found.

    .. versionadded:: 0.1.0
    """
    files, problems = yaml_files(paths)
    warnings: List[Problem] = []
    documents = []
    for path in files:
        try:
            document = _yaml.load(path)
        except OSError as exc:
            problems.append(Problem(path, 1, "cannot read the file: %s" % (exc.strerror or exc)))
            continue
        except _yaml.YamlError as exc:
            problems.append(Problem(path, exc.line or 1, exc.message))
            continue
        for line, key, first in document.duplicates:  # PyYAML, and so Selinon, keep the last value
            warnings.append(Problem(path, line, "the key %s is written twice in one mapping (first at line %d); "
                                    "the last value is used" % (show(key), first)))
        documents.append((path, document.data))
    config = Sections(problems, warnings).read(documents, tuple(files))
    if strict:
        problems, warnings = problems + warnings, []
    order = {path: index for index, path in enumerate(files)}

    def in_order(found):
        return tuple(sorted(found, key=lambda p: (order.get(p.path, -1), p.line)))

    ordered = in_order(problems)
    return CheckResult(None if ordered else config, ordered, tuple(files), in_order(warnings))
