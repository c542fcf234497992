"""One tracer set-up for the order API and the order worker: the SDK, OTLP/HTTP, and flowtrace's span sink.

Each process calls :func:`init_tracing` with its own service name; the
exporter's endpoint comes from ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``.
"""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from flowtrace import Trace


def init_tracing(service_name: str) -> TracerProvider:
    """Set the global tracer provider for ``service_name`` and turn flowtrace's task events into its spans."""
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    Trace.trace_by_otel()
    return provider
