"""A small OTLP/HTTP trace receiver on 127.0.0.1, for tests: what the real exporter sends, decoded.

Processes under test export with ``opentelemetry-exporter-otlp-proto-http``
to :attr:`OtlpReceiver.endpoint`; each request body is an
``ExportTraceServiceRequest`` protobuf (gzip-compressed or not), decoded with
``opentelemetry-proto`` into plain :class:`Span` records.
"""

from __future__ import annotations

import gzip
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import NamedTuple, Optional

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)


class Span(NamedTuple):
    """One exported span, ids as lower-case hex."""

    trace_id: str
    span_id: str
    parent_span_id: Optional[str]
    name: str
    kind: int
    service: Optional[str]
    attributes: dict
    status: int  # 0 unset, 1 ok, 2 error
    events: tuple  # event names, in order
    links: tuple  # (trace_id, span_id) pairs
    start: int
    end: int


def _value(any_value):
    kind = any_value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_value(item) for item in any_value.array_value.values]
    if kind == "kvlist_value":
        return {item.key: _value(item.value) for item in any_value.kvlist_value.values}
    return getattr(any_value, kind)


def _attributes(items) -> dict:
    return {item.key: _value(item.value) for item in items}


def decode(body: bytes) -> list:
    """The spans of one ``ExportTraceServiceRequest``."""
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    spans = []
    for resource_spans in request.resource_spans:
        service = _attributes(resource_spans.resource.attributes).get("service.name")
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append(Span(
                    span.trace_id.hex(), span.span_id.hex(), span.parent_span_id.hex() or None, span.name,
                    span.kind, service, _attributes(span.attributes), span.status.code,
                    tuple(event.name for event in span.events),
                    tuple((link.trace_id.hex(), link.span_id.hex()) for link in span.links),
                    span.start_time_unix_nano, span.end_time_unix_nano))
    return spans


class OtlpReceiver:
    """An OTLP/HTTP receiver for traces, running on a thread while the ``with`` block lasts."""

    def __init__(self):
        self.spans = []
        self.requests = 0
        self.errors = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                try:
                    body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                    if self.headers.get("Content-Encoding") == "gzip":
                        body = gzip.decompress(body)
                    if self.path != "/v1/traces":
                        raise ValueError("unexpected path %s" % self.path)
                    spans = decode(body)
                except Exception as exc:  # recorded for the test, and refused
                    receiver.errors.append(repr(exc))
                    self.send_response(400)
                    self.end_headers()
                    return
                with receiver._lock:
                    receiver.spans.extend(spans)
                    receiver.requests += 1
                payload = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="otlp-receiver", daemon=True)

    @property
    def endpoint(self) -> str:
        """The URL to export traces to (``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``)."""
        return "http://127.0.0.1:%d/v1/traces" % self._server.server_address[1]

    def __enter__(self) -> "OtlpReceiver":
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def snapshot(self) -> list:
        with self._lock:
            return list(self.spans)

    def wait(self, until, timeout: float = 60.0, settle: float = 1.0) -> list:
        """Wait until ``until(spans)`` is true, then ``settle`` seconds more for stragglers; returns the spans."""
        deadline = time.monotonic() + timeout
        while not until(self.snapshot()):
            if time.monotonic() > deadline:
                raise AssertionError("timed out waiting for spans; have %r" % (
                    [(s.service, s.name, s.attributes.get("flowtrace.retries")) for s in self.snapshot()],))
            time.sleep(0.1)
        time.sleep(settle)
        return self.snapshot()
