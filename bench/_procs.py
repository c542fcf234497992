"""What the bench scripts share: stopping a worker they started, reading its log, reaching Redis."""

import os
import signal
import subprocess
import sys


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


def tail(path, size=4000):
    """The last ``size`` characters of the file at ``path``; empty when it cannot be read."""
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")[-size:]
    except OSError:
        return ""


def connect_redis(url, prog, hint, socket_timeout=30):
    """A Redis client for ``url``; exits with status 2 and ``prog: ... ; hint`` when Redis does not answer."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=socket_timeout)
    try:
        client.ping()
    except redis.RedisError as exc:
        print("%s: Redis at %s is unreachable (%s); %s" % (prog, url, exc, hint), file=sys.stderr)
        sys.exit(2)
    return client
