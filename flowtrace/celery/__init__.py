"""The Celery integration: lifecycle events for every task of an instrumented app.

:func:`instrument` connects receivers to Celery's signals; which hook
observes which state, and why, is documented in ``docs/celery.rst``.
:mod:`flowtrace.celery.embedded` gives the settings of a broker kept in a
folder, for demos and tests.

Its private modules are split by the process that runs them: ``_publish``
in the producer; ``_main`` and ``_patches`` in the worker's main process;
``_execute`` in the process that runs the task. The trace context follows the
same split: written by the producer (``_inject``), stamped by the main
process (``_stamp``) and made current for the attempt (``_attempt``), over the
headers all three read (``_headers``). ``_instrument`` connects the hooks,
``_registry`` holds what is instrumented, ``_msg`` builds the msg dicts and
``_order`` keeps the receivers in order around OpenTelemetry's.

.. versionadded:: 0.1.0
"""

from flowtrace.celery._instrument import ensure_instrumented, instrument, is_instrumented, uninstrument

__all__ = ["instrument", "uninstrument", "is_instrumented", "ensure_instrumented"]
