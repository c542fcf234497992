"""The embedded broker: Celery's ``filesystem://`` transport, safe for several processes.

flowtrace's demo and tests run real workers without a broker server, on
kombu's filesystem transport. Out of the box that transport creates each
message file under its final name and only then writes it, so a worker polling
the folder can read a file that is still empty and stop with "Unrecoverable
error: JSONDecodeError" (celery/kombu #1551). :class:`AtomicFilesystemTransport`
writes the file under a name no queue reads and renames it into place.

Use :func:`celery_config` for a ready set of settings::

    app.conf.update(flowtrace.celery.embedded.celery_config("/tmp/flows"))

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import os
import time
import uuid
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.json import dumps

__all__ = ["AtomicFilesystemTransport", "celery_config"]


class _AtomicChannel(filesystem.Channel):
    # kombu's filesystem.Channel names the argument "payload" where its base class says "message".
    def _put(self, queue: str, payload: dict[str, Any], **kwargs: Any) -> None:  # type: ignore[override]
        # kombu's own naming: consumers take files in name order, so the queue stays in order.
        name = "%d_%s.%s.msg" % (round(time.monotonic() * 1000), uuid.uuid4(), queue)
        final = os.path.join(self.data_folder_out, name)
        partial = final + ".partial"  # does not end in .msg: no consumer picks it up
        try:
            with open(partial, "wb") as f:
                f.write(dumps(payload).encode("utf-8"))
            os.replace(partial, final)
        except OSError as exc:
            try:
                os.unlink(partial)
            except OSError:
                pass
            raise ChannelError("cannot add a message file to %r: %s" % (self.data_folder_out, exc)) from exc


class AtomicFilesystemTransport(filesystem.Transport):
    """kombu's filesystem transport, with message files that are never seen half-written.

    .. versionadded:: 0.1.0
    """

    Channel = _AtomicChannel


def celery_config(folder: str | os.PathLike[str], *, results: bool = True,
                  polling_interval: float = 0.05) -> dict[str, Any]:
    """Return Celery settings for a broker (and a result backend) kept in ``folder``.

    The producer and every worker must use the same folder. Taken messages are
    moved to a ``processed`` folder on the same file system, so taking one is
    an atomic rename and two workers never both get it; broadcasts such as
    ``app.control.revoke`` go through the ``control`` folder.

    Args:
        folder: where the queues (and results) live; created if missing.
        results: also set a ``file://`` result backend in ``folder/results``.
        polling_interval: how often consumers look for new messages, in seconds.

    Returns:
        A dict for ``app.conf.update()``.

    .. versionadded:: 0.1.0
    """
    folder = os.path.abspath(os.fspath(folder))
    parts = {name: os.path.join(folder, name) for name in ("queue", "processed", "control", "results")}
    for path in parts.values():
        os.makedirs(path, exist_ok=True)
    config: dict[str, Any] = {
        "broker_url": "filesystem://",
        "broker_transport": AtomicFilesystemTransport,  # takes precedence over the URL's scheme
        "broker_transport_options": {
            "data_folder_in": parts["queue"],
            "data_folder_out": parts["queue"],
            "processed_folder": parts["processed"],
            "store_processed": True,
            "control_folder": parts["control"],
            "polling_interval": polling_interval,
        },
        "broker_connection_retry_on_startup": True,
    }
    if results:
        config["result_backend"] = "file://" + parts["results"]
    return config
