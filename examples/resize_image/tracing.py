"""OpenTelemetry for both sides of the example: the SDK, exporting over OTLP/HTTP, and flowtrace's span sink.

The producer and the worker each call :func:`init_tracing` with their own
service name, so that the trace shows which side every span comes from.
"""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from flowtrace import Trace


def init_tracing(service_name: str) -> TracerProvider:
    """Set the global tracer provider and make flowtrace's events spans of it.

    The exporter's endpoint comes from OpenTelemetry's usual variables
    (``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``, default http://localhost:4318/v1/traces).
    No propagator needs configuring: flowtrace writes W3C ``traceparent``
    into every task message through whatever ``OTEL_PROPAGATORS`` says.
    """
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    Trace.trace_by_otel()
    return provider
