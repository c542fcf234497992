"""A tiny Sentry ingestion endpoint for tests: it records and decodes the envelopes sentry-sdk posts.

The envelope format (https://develop.sentry.dev/sdk/data-model/envelopes/):
one line of JSON for the envelope header, then for each item a line of JSON
for the item header followed by the payload. The payload is either exactly
``length`` bytes (when the item header has ``length``, then an optional
newline) or everything up to the next newline. The HTTP body may be
compressed; ``Content-Encoding`` says how. Only ``gzip`` and identity are
decoded here, so tests configure sentry-sdk to use one of them.
"""

from __future__ import annotations

import gzip
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import NamedTuple


class Item(NamedTuple):
    """One envelope item: its header and its payload (parsed JSON, or bytes when not JSON)."""

    header: dict
    payload: object


class Envelope(NamedTuple):
    """One decoded envelope and the request that carried it."""

    path: str
    headers: dict
    content_encoding: str
    body: bytes  # the decoded (decompressed) body, byte for byte
    header: dict
    items: tuple


def decode_body(raw: bytes, content_encoding) -> bytes:
    """Undo the ``Content-Encoding`` of a request body.

    Raises:
        ValueError: for an encoding this receiver does not understand.
    """
    encoding = (content_encoding or "identity").strip().lower()
    if encoding == "identity":
        return raw
    if encoding == "gzip":
        return gzip.decompress(raw)
    raise ValueError("the receiver cannot decode Content-Encoding %r; configure sentry-sdk to send gzip" % encoding)


def parse_envelope(body: bytes):
    """Split a decoded envelope body into its header and a tuple of :class:`Item`."""
    first, sep, rest = body.partition(b"\n")
    header = json.loads(first)
    items = []
    while rest.strip():
        line, sep, rest = rest.partition(b"\n")
        if not line.strip():
            continue
        item_header = json.loads(line)
        length = item_header.get("length")
        if length is not None:
            if len(rest) < length:
                raise ValueError("item payload is %d bytes, shorter than its length %d" % (len(rest), length))
            payload, rest = rest[:length], rest[length:]
            if rest.startswith(b"\n"):
                rest = rest[1:]
        else:
            payload, sep, rest = rest.partition(b"\n")
        try:
            parsed = json.loads(payload)
        except ValueError:
            parsed = payload
        items.append(Item(item_header, parsed))
    return header, tuple(items)


class SentryReceiver:
    """An HTTP server on 127.0.0.1 (port chosen by the OS) that stores every envelope it gets.

    Use it as a context manager, or call :meth:`start` and :meth:`close`.
    A request the receiver cannot decode is answered with 400 and recorded in
    :attr:`errors`, so that a test can fail on it instead of timing out.
    """

    PUBLIC_KEY = "publickey"
    PROJECT_ID = "1"

    def __init__(self):
        self.envelopes = []
        self.errors = []
        self._changed = threading.Condition()
        self._server = None
        self._thread = None

    # --- lifecycle --------------------------------------------------------

    def start(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver._record(self.path, dict(self.headers.items()), raw)
                with receiver._changed:
                    ok = not receiver.errors
                self.send_response(200 if ok else 400)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, format, *args):  # keep pytest's output clean
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        # A short poll interval: shutdown() waits up to one interval.
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="sentry-receiver", daemon=True)
        self._thread.start()
        return self

    def close(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=10)
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.close()

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def dsn(self) -> str:
        return "http://%s@127.0.0.1:%d/%s" % (self.PUBLIC_KEY, self.port, self.PROJECT_ID)

    # --- recording --------------------------------------------------------

    def _record(self, path, headers, raw):
        encoding = headers.get("Content-Encoding")
        try:
            body = decode_body(raw, encoding)
            header, items = parse_envelope(body)
            envelope = Envelope(path, headers, encoding, body, header, items)
        except Exception as exc:  # reported to the test through self.errors
            with self._changed:
                self.errors.append("%s %s: %s: %s" % (path, encoding, type(exc).__name__, exc))
                self._changed.notify_all()
            return
        with self._changed:
            self.envelopes.append(envelope)
            self._changed.notify_all()

    # --- reading ----------------------------------------------------------

    def events(self) -> list:
        """Return the payloads of every ``event`` item received so far, in arrival order."""
        with self._changed:
            return self._events_locked()

    def bodies(self) -> list:
        """Return every decoded request body received so far."""
        with self._changed:
            return [env.body for env in self.envelopes]

    def wait_for_events(self, count: int, timeout: float = 10.0) -> list:
        """Wait up to ``timeout`` seconds until at least ``count`` events arrived; return them all.

        Raises:
            AssertionError: on timeout or when a request could not be decoded.
        """

        def ready():
            return self.errors or len(self._events_locked()) >= count

        with self._changed:
            self._changed.wait_for(ready, timeout=timeout)
            if self.errors:
                raise AssertionError("the receiver could not decode a request: %s" % self.errors)
            events = self._events_locked()
        if len(events) < count:
            raise AssertionError("expected %d Sentry events within %ss, received %d: %r"
                                 % (count, timeout, len(events), events))
        return events

    def _events_locked(self):
        return [item.payload for env in self.envelopes for item in env.items if item.header.get("type") == "event"]


def refusing_port():
    """Return ``(socket, port)``: a TCP port bound on 127.0.0.1 that nobody listens on.

    Connecting to it is refused at once. Keeping the socket bound (and closing
    it after the test) stops another process from taking the port meanwhile.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    return sock, sock.getsockname()[1]
