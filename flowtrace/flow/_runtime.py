"""What the dispatcher and the flow tasks share in one process: the app's configuration and storage pool."""

from __future__ import annotations

import os
import threading
import weakref
from typing import Any

from flowtrace.flow.model import FlowConfig
from flowtrace.storages.pool import StoragePool

#: The ``app.conf`` key the configuration is kept under (public as ``flowtrace.flow.APP_SETTING``).
APP_SETTING = "flowtrace_flows"

#: The Celery name of the dispatcher task.
DISPATCHER_NAME = "flowtrace.dispatcher"

_pools: weakref.WeakKeyDictionary[Any, tuple[int, FlowConfig, StoragePool]] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def config_of(app) -> FlowConfig:
    """The flow configuration registered on ``app``.

    Raises:
        ValueError: if none is.
    """
    config = app.conf.get(APP_SETTING)
    if config is None:
        raise ValueError("app %r has no flows: call flowtrace.load_flows(..., app=app) first" % (app.main,))
    return config


def pool_of(app: Any) -> StoragePool:
    """The :class:`~flowtrace.storages.pool.StoragePool` of ``app``'s flows in this process.

    Made on first use in each process: a pool made before a fork would share
    its connections with the children.
    """
    config = config_of(app)
    pid = os.getpid()
    held = _pools.get(app)
    if held is not None and held[0] == pid and held[1] is config:
        return held[2]
    with _lock:
        held = _pools.get(app)
        if held is None or held[0] != pid or held[1] is not config:
            held = (pid, config, StoragePool.from_config(config))
            _pools[app] = held
    return held[2]


class RetrylessBackend:
    """The app's result backend, minus the RETRY state: the backend of the dispatcher and the flow tasks.

    Celery stores RETRY after the retry's message is sent, so the next attempt
    can run, and store SUCCESS or FAILURE, before the attempt it replaces
    stores RETRY on top. A dispatcher that is nudged awake at once, or a
    task retried with no countdown, hits that race, and the node would look
    running forever. The dispatcher only reads SUCCESS and FAILURE, so the
    RETRY state is simply not stored: only the last attempt writes a state.
    """

    __slots__ = ("_app",)

    def __init__(self, app):
        self._app = app

    def mark_as_retry(self, *args, **kwargs):
        return None

    def __getattr__(self, name):
        # app.backend is per thread in Celery: look it up at each use.
        return getattr(self._app.backend, name)
