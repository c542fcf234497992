"""Reading and checking flow YAML.

- ``load_flows`` (documented as :func:`flowtrace.load_flows`) reads and checks
  files and folders, and returns the :class:`~flowtrace.flow.model.FlowConfig`.
- :mod:`flowtrace.flow.load.check` finds every problem, as ``file:line: message``,
  without raising; ``flowtrace check`` prints them.
- :mod:`flowtrace.flow.load.schema` lists the keys each part of the YAML may have.

Inside: ``_yaml`` loads YAML with the line of every value, ``_fields`` reads
typed values and reports the wrong ones, ``_sections`` reads the top-level
sections of every file together, ``_flows`` one flow definition,
``_conditions`` one condition, ``_options`` the Selinon options several parts
share (throttling, caches, sampling, selective runs), and ``_words`` words
the problems.
"""

from __future__ import annotations

import os
import warnings
from typing import TYPE_CHECKING

from flowtrace.errors import FlowConfigWarning
from flowtrace.flow._registration import register
from flowtrace.flow.load.check import check_paths
from flowtrace.flow.model import FlowConfig, FlowConfigError

if TYPE_CHECKING:
    from celery import Celery

__all__ = ["load_flows"]


def load_flows(*paths: str | os.PathLike[str], app: Celery | None = None, strict: bool = False) -> FlowConfig:
    """Load and check Selinon-style flow YAML from files and folders.

    Every path is a YAML file or a folder, whose ``*.yml`` and ``*.yaml``
    files are read in name order; together they make one configuration, as
    Selinon's ``nodes.yml`` and flow definition files do. Everything that
    ``flowtrace check`` reports is checked, and every problem is reported at
    once.

    Args:
        paths: files and folders.
        app: a Celery app to register the flows on, with
            :func:`flowtrace.flow.register`, which also applies
            ``global: trace``.
        strict: make warnings errors, as ``flowtrace check --strict`` does.
            Otherwise each warning (what Selinon accepts but warns of, such
            as a task no flow uses) is issued with :func:`warnings.warn` as a
            :class:`~flowtrace.FlowConfigWarning`, and the configuration loads.

    Returns:
        The :class:`~flowtrace.flow.model.FlowConfig`.

    Raises:
        FlowConfigError: listing every problem as ``file:line: message``.
        ValueError: if no path is given.

    .. versionadded:: 0.1.0
    """
    if not paths:
        raise ValueError("load_flows() needs at least one file or folder")
    result = check_paths(*paths, strict=strict)
    if result.problems or result.config is None:  # a result without problems has its config
        raise FlowConfigError(result.problems)
    for problem in result.warnings:
        warnings.warn(FlowConfigWarning(problem), stacklevel=2)
    if app is not None:
        register(app, result.config)
    return result.config
