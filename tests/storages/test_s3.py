"""Tests for flowtrace.storages.s3, on moto's S3 server listening on loopback (a real HTTP endpoint, not a mock)."""

import socket
import sys

import boto3
import botocore.exceptions
import pytest
from moto.server import ThreadedMotoServer

from flowtrace import Trace
from flowtrace.storages import MissingResult, S3Storage, StorageError
from flowtrace.storages.base import error_record
from flowtrace.storages.pool import StoragePool
from flowtrace.testing import capture_events
from tests.storages.conftest import unique


FLOW, TASK, TASK_ID = "orders", "charge", "5f1c0b9e-6d0c-4c43-9a57-2f0c2d1f0a11"
KEYS = {"aws_access_key_id": "AKIDFLOWTRACETEST", "aws_secret_access_key": "s3cr3t-never-printed",
        "region_name": "eu-west-1"}


def free_port():
    """Return a local TCP port that nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def endpoint():
    """moto's S3 server on a free loopback port, for this module's tests."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    yield "http://127.0.0.1:%d" % port
    server.stop()


@pytest.fixture
def s3(endpoint):
    """A boto3 client of the same server, to look at the bucket from outside the adapter."""
    client = boto3.client("s3", endpoint_url=endpoint, **KEYS)
    yield client
    client.close()


@pytest.fixture
def storage(endpoint):
    """An S3Storage on a fresh bucket name, not connected yet."""
    adapter = S3Storage(bucket=unique("flowtrace-test").replace("_", "-"), endpoint_url=endpoint, **KEYS)
    yield adapter
    adapter.disconnect()


def failure():
    """Return the ``sys.exc_info()`` of a real exception."""
    try:
        raise ValueError("card declined")
    except ValueError:
        return sys.exc_info()


class TestS3Storage:
    """S3Storage on a real S3 endpoint."""

    def test_connect_creates_the_bucket_in_its_region(self, storage, s3):
        """connect() creates a missing bucket, in the client's region, and connects."""
        storage.connect()
        assert (True, "eu-west-1") == (
            storage.is_connected(), s3.get_bucket_location(Bucket=storage.bucket)["LocationConstraint"])

    def test_store_and_retrieve(self, storage, s3):
        """store() writes PREFIX/FLOW/TASK/ID.json as JSON and returns the key; retrieve() reads the value back."""
        storage.connect()
        result = {"paid": True, "amount": 5.0, "big": 2 ** 70, "items": ["a", None]}
        key = storage.store(None, FLOW, TASK, TASK_ID, result)
        body = s3.get_object(Bucket=storage.bucket, Key=key)
        assert ("flowtrace/orders/charge/%s.json" % TASK_ID, "application/json",
                b'{"paid":true,"amount":5.0,"big":1180591620717411303424,"items":["a",null]}', result) == (
            key, body["ContentType"], body["Body"].read(), storage.retrieve(FLOW, TASK, TASK_ID))

    def test_store_replaces(self, storage):
        """A second store() for the same task replaces the first."""
        storage.connect()
        storage.store(None, FLOW, TASK, TASK_ID, 1)
        storage.store(None, FLOW, TASK, TASK_ID, 2)
        assert 2 == storage.retrieve(FLOW, TASK, TASK_ID)

    def test_store_error_and_retrieve_error(self, storage):
        """store_error() writes the error record beside the result's key."""
        storage.connect()
        exc_info = failure()
        key = storage.store_error(None, FLOW, TASK, TASK_ID, exc_info)
        assert ("flowtrace/orders/charge/%s.error.json" % TASK_ID, error_record(exc_info)) == (
            key, storage.retrieve_error(FLOW, TASK, TASK_ID))

    def test_missing_result(self, storage):
        """retrieve() of a task with nothing stored raises MissingResult."""
        storage.connect()
        with pytest.raises(MissingResult) as caught:
            storage.retrieve(FLOW, TASK, TASK_ID)
        assert "no result is stored for task charge (id %s) of flow orders" % TASK_ID == str(caught.value)

    def test_delete_removes_result_and_error(self, storage, s3):
        """delete() removes both objects; a second delete() raises MissingResult."""
        storage.connect()
        storage.store(None, FLOW, TASK, TASK_ID, 1)
        storage.store_error(None, FLOW, TASK, TASK_ID, failure())
        storage.delete(FLOW, TASK, TASK_ID)
        with pytest.raises(MissingResult):
            storage.delete(FLOW, TASK, TASK_ID)
        assert 0 == s3.list_objects_v2(Bucket=storage.bucket)["KeyCount"]

    def test_slash_in_names_is_encoded(self, storage):
        """A '/' inside a name is percent-encoded, and the prefix may be empty."""
        assert ("flowtrace/a%2Fb/c/1.json", "a/c/1.error.json") == (
            storage.key("a/b", "c", "1"), S3Storage("b", prefix="").key("a", "c", "1", "error"))

    def test_connection_failure(self):
        """connect() to a port nothing listens on raises botocore's error and leaves the adapter disconnected."""
        adapter = S3Storage("results", endpoint_url="http://127.0.0.1:%d" % free_port(), connect_timeout=1,
                            read_timeout=1, **KEYS)
        with pytest.raises(botocore.exceptions.EndpointConnectionError):
            adapter.connect()
        assert False is adapter.is_connected()

    def test_environment_variables(self, monkeypatch, endpoint):
        """``{NAME}`` in Selinon's keys is the environment variable NAME; use_ssl may be such a string."""
        monkeypatch.setenv("FLOWTRACE_TEST_BUCKET", "from-env")
        monkeypatch.setenv("FLOWTRACE_TEST_SSL", "false")
        adapter = S3Storage("{FLOWTRACE_TEST_BUCKET}", use_ssl="{FLOWTRACE_TEST_SSL}", endpoint_url=endpoint)
        assert ("from-env", False) == (adapter.bucket, adapter.use_ssl)

    def test_secrets_stay_out_of_repr(self, endpoint):
        """The access keys are in neither repr() nor the adapter's attributes."""
        adapter = S3Storage("results", endpoint_url=endpoint, **KEYS)
        text = repr(adapter) + repr(vars(adapter))
        assert (False, False) == (KEYS["aws_secret_access_key"] in text, KEYS["aws_access_key_id"] in text)

    @pytest.mark.parametrize("options, message", [
        ({"bucket": ""}, "S3Storage needs a bucket name, got ''"),
        ({"bucket": "b", "serialize_json": False},
         "S3Storage always stores results as JSON; serialize_json must be true, got False"),
        ({"bucket": "b", "read_timeout": 0}, "S3Storage read_timeout must be a positive number of seconds, got 0"),
        ({"bucket": "b", "aws_secret_access_key": "{FLOWTRACE_TEST_UNSET_SECRET}"},
         "the S3Storage aws_secret_access_key refers to the environment variable FLOWTRACE_TEST_UNSET_SECRET, "
         "which is not set"),
    ])
    def test_bad_options_are_named(self, options, message):
        """A bad option raises ValueError naming it."""
        with pytest.raises(ValueError) as caught:
            S3Storage(**options)
        assert message == str(caught.value)


class TestS3InThePool:
    """S3Storage through a StoragePool: the events around each operation."""

    def test_events_around_store_retrieve_delete(self, endpoint):
        """Store, retrieve and delete emit the pool's STORAGE_* events; the YAML keys are Selinon's."""
        bucket = unique("flowtrace-pool").replace("_", "-")
        pool = StoragePool({"S3": (S3Storage, {"bucket": bucket, "endpoint_url": endpoint, **KEYS})},
                           {TASK: "S3"})
        msg = {"flow_name": FLOW, "task_name": TASK, "task_id": TASK_ID, "storage_name": "S3",
               "storage_task_name": TASK}
        with capture_events() as captured:
            key = pool.store(None, FLOW, TASK, TASK_ID, {"paid": True})
            value = pool.retrieve(FLOW, TASK, TASK_ID)
            pool.delete(FLOW, TASK, TASK_ID)
        pool.disconnect_all()
        assert ({"paid": True}, [
            (Trace.STORAGE_CONNECT, {"storage_name": "S3"}),
            (Trace.STORAGE_STORE, msg), (Trace.STORAGE_STORED, {**msg, "record_id": key}),
            (Trace.STORAGE_RETRIEVE, msg), (Trace.STORAGE_RETRIEVED, msg),
            (Trace.STORAGE_DELETE, msg), (Trace.STORAGE_DELETED, msg),
        ]) == (value, captured)

    def test_store_error_is_stored(self, endpoint):
        """The pool stores a failed task's error in S3 and says so with STORAGE_STORE_ERROR."""
        pool = StoragePool({"S3": (S3Storage, {"bucket": "flowtrace-errors", "endpoint_url": endpoint, **KEYS})},
                           {TASK: "S3"})
        exc_info = failure()
        with capture_events() as captured:
            stored = pool.store_error(None, FLOW, TASK, TASK_ID, exc_info)
        record = error_record(exc_info)
        assert (True, Trace.STORAGE_STORE_ERROR, record) == (
            stored, captured[-1][0], pool.get_connected_storage("S3").retrieve_error(FLOW, TASK, TASK_ID))
        pool.disconnect_all()

    def test_endpoint_down_is_a_storage_issue(self):
        """An endpoint that does not answer gives STORAGE_ISSUE and a StorageError without the secret key."""
        pool = StoragePool({"S3": (S3Storage, {"bucket": "b", "endpoint_url": "http://127.0.0.1:%d" % free_port(),
                                               "connect_timeout": 1, "read_timeout": 1, **KEYS})}, {TASK: "S3"})
        with capture_events() as captured:
            with pytest.raises(StorageError) as caught:
                pool.retrieve(FLOW, TASK, TASK_ID)
        text = str(caught.value) + repr(captured)
        assert ("connect", [Trace.STORAGE_CONNECT, Trace.STORAGE_ISSUE], False) == (
            caught.value.operation, [event for event, _ in captured], KEYS["aws_secret_access_key"] in text)
