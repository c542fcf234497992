"""A local HTTP server for the httpStatus tests: HEAD /health is 200, /moved is 301, anything else 404."""

import http.server
import socket
import threading
from contextlib import contextmanager

STATUS = {"/health": 200, "/moved": 301}


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_HEAD(self):  # noqa: N802 (http.server's name)
        self.send_response(STATUS.get(self.path, 404))
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format, *args):  # keep the test output clean
        pass


@contextmanager
def serving():
    """Serve in a thread; yields the ``host:port`` to ask."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield "127.0.0.1:%d" % server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def silent():
    """A port that accepts connections and never answers; yields its ``host:port``."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        yield "127.0.0.1:%d" % listener.getsockname()[1]


def closed_port() -> str:
    """A ``host:port`` where nothing listens."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return "127.0.0.1:%d" % probe.getsockname()[1]
