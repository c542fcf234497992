"""Host name and process id, cached and refreshed after fork."""

from __future__ import annotations

import os
import platform

node = platform.node()
pid = os.getpid()


def _after_fork():
    global pid
    pid = os.getpid()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)
