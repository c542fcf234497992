"""``flowtrace demo``: run a flow, or every outcome of a Celery task, through a real worker process.

``flowtrace demo`` (``flowtrace demo flow``) runs the document ingestion flow;
:mod:`flowtrace.demo._flow` describes it. ``flowtrace demo outcomes`` runs one
task for each outcome a Celery task can have; :mod:`flowtrace.demo._outcomes`
describes it.

The apps both demos start a worker on ship inside the package, in
:data:`APPS`, so the demo runs from any folder once flowtrace is installed. In
a source checkout, ``examples/flow_demo`` and ``examples/celery_demo`` link to
the same files for reading.

Either way, once everything is in, the worker is stopped by its process id
(see :mod:`flowtrace.demo._worker`), and the demo prints the events as JSON
lines, the ``flowtrace view`` trees of the same lines and a summary.
Progress goes to standard error.

The command line imports this package only when the demo runs, and the
package imports Celery only inside :func:`run`, so that ``flowtrace events``
stays quick.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import argparse
import importlib.resources
import shutil
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from flowtrace.demo._worker import DemoFailed, note
from flowtrace.errors import CliError

if TYPE_CHECKING:
    from flowtrace.demo._flow import FlowDemo
    from flowtrace.demo._outcomes import OutcomeDemo

__all__ = ["run", "APPS", "DEMOS", "FLOW", "OUTCOMES", "DemoFailed"]

#: The two demos, as ``flowtrace demo`` names them; the first is the default.
FLOW = "flow"
OUTCOMES = "outcomes"
DEMOS = (FLOW, OUTCOMES)

#: The demo apps, package data: ``ingest.yml`` with ``ingest_app`` and
#: ``ingest_tasks`` for the flow demo, ``demo_app`` for the outcome tour.
APPS = importlib.resources.files(__name__) / "apps"


def run(args: argparse.Namespace) -> int:
    """Run ``flowtrace demo``: print the events of a flow (or of every task outcome), their trees and a summary.

    Args:
        args: the parsed command line; ``args.which`` is :data:`FLOW` or
            :data:`OUTCOMES` (``FLOW`` when missing), and ``args.keep`` the
            folder to run in and keep, or ``None`` for a temporary one.

    Returns:
        0 when the flow (or every task) ended as it should.

    Raises:
        flowtrace.errors.CliError: when the worker did not start, the flow or an
            outcome did not arrive in time or was not the expected one, the
            demo app is missing from the installed package, or ``--keep``
            names a folder that is not empty.

    .. versionadded:: 0.1.0
    """
    demo_class: type[FlowDemo | OutcomeDemo]
    if (getattr(args, "which", None) or FLOW) == FLOW:
        from flowtrace.demo._flow import FlowDemo as demo_class
    else:
        from flowtrace.demo._outcomes import OutcomeDemo as demo_class
    # A folder on disk, as the worker's import path needs: the package's own
    # folder in a normal install (as_file copies it out of a zipped one).
    with importlib.resources.as_file(APPS) as app_dir:
        app_file = app_dir / (demo_class.APP_MODULE + ".py")
        if not app_file.is_file():
            raise CliError("the demo app %s is missing from the installed flowtrace package; reinstall flowtrace"
                           % app_file)
        if args.keep:
            folder = Path(args.keep).resolve()
            if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
                raise CliError("--keep needs a new or empty folder, and %s is not one" % folder)
            folder.mkdir(parents=True, exist_ok=True)
        else:
            folder = Path(tempfile.mkdtemp(prefix="flowtrace-demo-"))
        try:
            demo = demo_class(folder, app_dir)
            try:
                demo.run()
            except DemoFailed as exc:
                note("failed; the worker's last log lines:\n%s" % demo.worker.log_tail())
                raise CliError(str(exc)) from None
            demo.print_report(sys.stdout)
        finally:
            if args.keep:
                note("the demo's files are in %s" % folder)
            else:
                shutil.rmtree(folder, ignore_errors=True)
    return 0
