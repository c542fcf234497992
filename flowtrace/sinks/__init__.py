"""Built-in sinks: each is a callable ``sink(event, msg_dict)`` in a module of its own.

:class:`Sink` is the protocol they, and any sink of yours, follow.
"""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["Sink"]


class Sink(Protocol):
    """Any callable ``sink(event, msg_dict)``: the one thing a sink must be.

    :meth:`flowtrace.Trace.log` calls it with the event value and the merged,
    redacted msg dict, both positionally; what it returns is not used. A plain
    function, a bound method or an object with ``__call__`` will do; the
    parameter names are free.

    :class:`~flowtrace.Trace` looks for the following with :func:`getattr`
    and uses each only when the sink has it, so none of them is part of the
    protocol:

    - ``name`` (``str``): the name shown in :meth:`flowtrace.Trace.stats` and
      in failure reports, unless ``add_sink(name=...)`` gives one.
    - ``enabled_for(event: int) -> bool``: asked before the msg dict is
      built; an event for which every sink it would reach answers false
      costs no merge and no redaction.
    - ``flush(timeout: float) -> None``: called by
      :meth:`flowtrace.Trace.flush` (``flush()`` without arguments when it
      takes none).
    - ``close() -> None``: called by :meth:`flowtrace.Trace.reset`.
    - ``stats() -> dict[str, Any]``: merged into the sink's row of
      :meth:`flowtrace.Trace.stats`.
    - ``failures`` (a ``flowtrace._report.FailureCounter``): failures the
      sink caught and counted itself, added to its ``errors``.
    - ``wants_enrichment`` (a tuple of ``"time"`` and ``"ids"``): the sink is then
      called as ``sink(event, msg_dict, enrichment)`` with the event's
      ``flowtrace._enrich.Enrichment``, ``(time, (trace_id, span_id))``, made
      once per event for every sink that asks (the JSON sink, the Sentry
      sink's trace ids).

    .. versionadded:: 0.1.0
    """

    def __call__(self, event: int, msg_dict: dict[str, Any], /) -> object:
        """Receive one event.

        Args:
            event: the event value, such as ``Trace.TASK_START``.
            msg_dict: the event's msg dict; a fresh dict per event, shared by
                every sink that receives it.

        Returns:
            Anything; :meth:`flowtrace.Trace.log` does not use it.

        .. versionadded:: 0.1.0
        """
