"""The tracing examples run as a user runs them, and make the trace they promise.

examples/resize_image (a producer script and a worker) and
examples/fastapi_orders (uvicorn serving the FastAPI app, and a worker) run
as subprocesses, exporting over OTLP/HTTP to a receiver on 127.0.0.1. Each
test runs on the embedded broker and on every broker in FLOWTRACE_TEST_BROKERS.
"""

import os
import signal
import socket
import subprocess
import sys
import time
import uuid

import httpx
import pytest

from tests.integration.harness import ROOT
from tests.integration.otlp_receiver import OtlpReceiver

pytestmark = pytest.mark.integration

EXAMPLES = os.path.join(ROOT, "examples")


@pytest.fixture
def otlp():
    with OtlpReceiver() as receiver:
        yield receiver
    assert [] == receiver.errors


class Process:
    """A subprocess in its own process group, with its output in a log file."""

    def __init__(self, args, cwd, env, log_path):
        self.log_path = log_path
        with open(log_path, "ab") as log:
            self.proc = subprocess.Popen(args, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_log(self, text, timeout=60.0):
        deadline = time.monotonic() + timeout
        while text not in self.log():
            assert self.proc.poll() is None, "exited with %s:\n%s" % (self.proc.returncode, self.log()[-4000:])
            assert time.monotonic() < deadline, "no %r within %ss:\n%s" % (text, timeout, self.log()[-4000:])
            time.sleep(0.05)

    def stop(self, grace=15.0):
        """SIGTERM (a warm shutdown, which flushes), then SIGKILL to the group after ``grace`` seconds."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(grace)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait(10)


@pytest.fixture
def processes():
    started = []
    yield started
    for process in reversed(started):
        process.stop()


def example_env(otlp, broker, tmp_path, prefix):
    """The environment of an example's processes: the broker, a queue of its own, the receiver."""
    queue = "%s-%s" % (prefix.lower(), uuid.uuid4().hex[:10])
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
               OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=otlp.endpoint, OTEL_BSP_SCHEDULE_DELAY="200")
    env[prefix + "_QUEUE"] = queue
    if broker.startswith("filesystem:"):
        env[prefix + "_DIR"] = str(tmp_path / "broker")
    else:
        env[prefix + "_BROKER_URL"] = broker
    return env, queue


def delete_queue(broker, queue):
    """Remove the example's queue from a real broker, so that nothing outlives the test."""
    if broker.startswith("filesystem:"):
        return
    from kombu import Connection

    with Connection(broker) as connection:
        channel = connection.default_channel
        try:
            channel.queue_delete(queue)
        except Exception:
            pass


def worker(cwd, module, env, queue, tmp_path, processes):
    """``celery -A module worker`` in the example's folder, on its queue; waits until it is ready."""
    process = Process([sys.executable, "-m", "celery", "-A", module, "worker", "--pool=prefork", "--concurrency=2",
                       "-l", "info", "-Q", queue, "--without-gossip", "--without-mingle", "--without-heartbeat",
                       "-n", "%s@%%h" % queue], cwd, env, str(tmp_path / ("%s.log" % module)))
    processes.append(process)
    process.wait_log(" ready.")
    return process


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tree(spans):
    """name -> (service, name of the parent or None), for spans with unique names."""
    by_id = {s.span_id: s for s in spans}
    return {s.name: (s.service, by_id[s.parent_span_id].name if s.parent_span_id in by_id else s.parent_span_id)
            for s in spans}


class TestResizeImage:
    """examples/resize_image: seed 001's producer and worker."""

    def test_one_trace_from_upload_to_worker(self, broker, otlp, tmp_path, processes):
        """handle_upload, the task and its three steps are one trace in two services."""
        cwd = os.path.join(EXAMPLES, "resize_image")
        env, queue = example_env(otlp, broker, tmp_path, "RESIZE")
        try:
            worker(cwd, "celery_app", env, queue, tmp_path, processes)
            proc = subprocess.run([sys.executable, "producer.py", "img-42"], cwd=cwd, env=env, capture_output=True,
                                  text=True, timeout=120)
            assert 0 == proc.returncode, proc.stderr[-4000:]
            trace_id = proc.stdout.strip().splitlines()[-1]
            spans = otlp.wait(lambda spans: {"handle_upload", "images.resize", "download", "transform", "upload"}
                              <= {s.name for s in spans})
        finally:
            delete_queue(broker, queue)
        assert ({trace_id}, 5) == ({s.trace_id for s in spans}, len(spans))
        assert {
            "handle_upload": ("web-api", None),
            "images.resize": ("image-worker", "handle_upload"),
            "download": ("image-worker", "images.resize"),
            "transform": ("image-worker", "images.resize"),
            "upload": ("image-worker", "images.resize"),
        } == tree(spans)
        attempt = next(s for s in spans if s.name == "images.resize")
        assert ("img-42", "celery", "process") == (attempt.attributes["image.id"],
                                                   attempt.attributes["messaging.system"],
                                                   attempt.attributes["messaging.operation.type"])


class TestFastapiOrders:
    """examples/fastapi_orders: seed 003's order service, on FastAPI and uvicorn."""

    def test_one_trace_per_order(self, broker, otlp, tmp_path, processes):
        """POST /orders, its validation and saving, the task and the task's own spans: one trace, one root."""
        cwd = os.path.join(EXAMPLES, "fastapi_orders")
        env, queue = example_env(otlp, broker, tmp_path, "ORDERS")
        port = free_port()
        try:
            worker(cwd, "tasks", env, queue, tmp_path, processes)
            api = Process([sys.executable, "-m", "uvicorn", "main:app", "--host", "127.0.0.1", "--port", str(port)],
                          cwd, env, str(tmp_path / "uvicorn.log"))
            processes.append(api)
            api.wait_log("Uvicorn running")
            with httpx.Client(base_url="http://127.0.0.1:%d" % port, timeout=30) as client:
                rejected = client.post("/orders", json={"user_id": "u1", "product_id": "p1", "quantity": 0})
                accepted = client.post("/orders", json={"user_id": "u123", "product_id": "p456", "quantity": 2})
            assert (400, 200, "processing") == (rejected.status_code, accepted.status_code,
                                                accepted.json()["status"])
            trace_id = accepted.json()["trace_id"]
            spans = otlp.wait(lambda spans: {"orders.process_order", "send_confirmation_email", "update_inventory"}
                              <= {s.name for s in spans if s.trace_id == trace_id})
            api.stop()  # its lifespan shutdown exports the rest
            spans = otlp.wait(lambda spans: len([s for s in spans if s.trace_id == trace_id]) == 6)
        finally:
            delete_queue(broker, queue)
        order = [s for s in spans if s.trace_id == trace_id]
        roots = [s.name for s in order if s.parent_span_id is None]
        assert (["POST /orders"], {"order-api", "order-worker"}) == (roots, {s.service for s in order})
        assert {
            "POST /orders": ("order-api", None),
            "validate_order": ("order-api", "POST /orders"),
            "save_order": ("order-api", "POST /orders"),
            "orders.process_order": ("order-worker", "POST /orders"),
            "send_confirmation_email": ("order-worker", "orders.process_order"),
            "update_inventory": ("order-worker", "orders.process_order"),
        } == tree(order)
        attempt = next(s for s in order if s.name == "orders.process_order")
        assert (accepted.json()["order_id"], "orders.process_order", 0) == (
            attempt.attributes["order.id"], attempt.attributes["flowtrace.task_name"],
            attempt.attributes["order.retry_count"])
        # The rejected order sent no task: its request is a trace of its own, without a worker span.
        rejected_traces = {s.trace_id for s in spans if s.name == "POST /orders"} - {trace_id}
        assert [{"POST /orders", "validate_order"}] == [
            {s.name for s in spans if s.trace_id == t} for t in rejected_traces]
