"""Stopping a worker a benchmark started: shared by the bench scripts."""

import os
import signal
import subprocess


def stop_group(proc, grace):
    """Warm shutdown (SIGTERM, ``grace`` seconds), then SIGKILL whatever is left of the process group.

    The worker must have been started with ``start_new_session=True``, which
    makes it the leader of a group that holds its pool processes too.
    """
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait(10)
