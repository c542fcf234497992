"""Tests for flowtrace/celery/_order.py: flowtrace's receivers around OpenTelemetry's CeleryInstrumentor."""

from celery import signals

from flowtrace.celery import _order, instrument


class TestReceiverOrder:
    """flowtrace's receivers around OpenTelemetry's CeleryInstrumentor."""

    def test_instrumentor_connected_later(self, app):
        """After CeleryInstrumentor: publish and prerun run after it, postrun before it."""
        from opentelemetry.instrumentation.celery import CeleryInstrumentor

        instrument(app)
        instrumentor = CeleryInstrumentor()
        instrumentor.instrument()
        try:
            _order.check()

            def order(signal):
                names = []
                for key, receiver in signal.receivers:
                    if key[0] and str(key[0]).startswith("flowtrace.celery"):
                        names.append("flowtrace")
                    elif _order._is_opentelemetry(receiver):
                        names.append("otel")
                return names

            assert (["otel", "flowtrace"], ["otel", "flowtrace"], ["flowtrace", "otel"]) == (
                order(signals.before_task_publish), order(signals.task_prerun), order(signals.task_postrun))
        finally:
            instrumentor.uninstrument()
