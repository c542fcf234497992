"""``S3Storage``: each result and error as a JSON object in an S3 bucket.

Needs boto3: ``pip install 'flowtrace[s3]'``. Works with AWS and with any
endpoint that speaks the S3 API (MinIO, Ceph, moto's server) through
``endpoint_url``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from flowtrace._deps import require
from flowtrace.storages.base import (DataStorage, ExcInfo, check_connected, dumps, error_record, expand_env, loads,
                                     not_found)

if TYPE_CHECKING:
    import boto3
    import botocore.config
    import botocore.exceptions
else:
    boto3 = require("boto3", "s3", "flowtrace.storages.s3")
    import botocore.config
    import botocore.exceptions

__all__ = ["S3Storage"]

_MISSING = {"404", "NoSuchKey", "NotFound"}


class S3Storage(DataStorage):
    """Keep each task's result, and its error, as a JSON object in one S3 bucket.

    A result is the object ``PREFIX/FLOW_NAME/TASK_NAME/TASK_ID.json`` and
    an error ``PREFIX/FLOW_NAME/TASK_NAME/TASK_ID.error.json`` (each part
    percent-encoded if it holds a ``/``), with content type
    ``application/json``. The keyword arguments are those of Selinon's S3
    adapter (``bucket``, ``location``, ``endpoint_url``, ``use_ssl``,
    ``aws_access_key_id``, ``aws_secret_access_key``, ``region_name``), and
    each string may name environment variables as ``{NAME}``. Left out, the
    credentials and region come from boto3's usual places (environment,
    ``~/.aws``, an instance role). Results are always JSON, so Selinon's
    ``serialize_json`` is accepted only as true.

    Args:
        bucket: the bucket; created on :meth:`connect` if it is missing.
        location: the region to create a missing bucket in (its
            ``LocationConstraint``); the client's region if ``None``.
        endpoint_url: the S3 endpoint, for a service other than AWS.
        use_ssl: whether to talk TLS to the endpoint; ``None`` lets the
            endpoint URL decide.
        aws_access_key_id: the access key id.
        aws_secret_access_key: the secret access key; never logged or put
            in an error message.
        region_name: the region of the client.
        prefix: the first part of every key, so that several setups can share
            a bucket; ``""`` for none.
        connect_timeout: seconds to wait for a connection to the endpoint.
        read_timeout: seconds to wait for an answer.
        serialize_json: Selinon's switch; only ``True`` is accepted (flowtrace
            always stores JSON), and ``False`` is refused rather than silently
            changing what is stored.

    Raises:
        ValueError: for an empty bucket, ``serialize_json`` false, a
            non-positive timeout, or a string naming an unset variable.
        flowtrace.MissingDependency: when the module is imported without boto3.

    .. versionadded:: 0.1.0
    """

    def __init__(self, bucket: str, location: str | None = None, endpoint_url: str | None = None,
                 use_ssl: bool | str | None = None, aws_access_key_id: str | None = None,
                 aws_secret_access_key: str | None = None, region_name: str | None = None,
                 prefix: str = "flowtrace", connect_timeout: float = 5.0, read_timeout: float = 30.0,
                 serialize_json: bool = True) -> None:
        if not isinstance(bucket, str) or not bucket:
            raise ValueError("S3Storage needs a bucket name, got %r" % (bucket,))
        if not serialize_json:
            raise ValueError("S3Storage always stores results as JSON; serialize_json must be true, got %r"
                             % (serialize_json,))
        for name, value in (("connect_timeout", connect_timeout), ("read_timeout", read_timeout)):
            if not (isinstance(value, (int, float)) and value > 0):
                raise ValueError("S3Storage %s must be a positive number of seconds, got %r" % (name, value))
        self.bucket = expand_env(bucket, "the S3Storage bucket")
        self.location = _optional(location, "the S3Storage location")
        self.endpoint_url = _optional(endpoint_url, "the S3Storage endpoint_url")
        if isinstance(use_ssl, str):
            use_ssl = expand_env(use_ssl, "the S3Storage use_ssl").strip().lower() in ("1", "true", "yes", "on")
        self.use_ssl = use_ssl
        self.region_name = _optional(region_name, "the S3Storage region_name")
        self.prefix = prefix.strip("/")
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        # The credentials are kept on the session only, out of repr() and vars().
        self._session = boto3.session.Session(
            aws_access_key_id=_optional(aws_access_key_id, "the S3Storage aws_access_key_id"),
            aws_secret_access_key=_optional(aws_secret_access_key, "the S3Storage aws_secret_access_key"),
            region_name=self.region_name)
        self._client: Any = None

    def __repr__(self) -> str:
        return "S3Storage(bucket=%r, endpoint_url=%r, prefix=%r)" % (self.bucket, self.endpoint_url, self.prefix)

    def connect(self) -> None:
        """Open a client and check the bucket, creating it if it is missing, so that bad credentials fail here.

        .. versionadded:: 0.1.0
        """
        config = botocore.config.Config(signature_version="s3v4", connect_timeout=self.connect_timeout,
                                        read_timeout=self.read_timeout, retries={"max_attempts": 2})
        options: dict[str, Any] = {"config": config, "endpoint_url": self.endpoint_url}
        if self.use_ssl is not None:
            options["use_ssl"] = bool(self.use_ssl)
        client = self._session.client("s3", **options)
        try:
            client.head_bucket(Bucket=self.bucket)
        except botocore.exceptions.ClientError as exc:
            if _code(exc) not in _MISSING:
                raise
            region = self.location or client.meta.region_name
            if region and region != "us-east-1":
                # us-east-1 is the one region S3 refuses to be named in.
                client.create_bucket(Bucket=self.bucket, CreateBucketConfiguration={"LocationConstraint": region})
            else:
                client.create_bucket(Bucket=self.bucket)
        self._client = client

    def is_connected(self) -> bool:
        """Return whether a client is open.

        .. versionadded:: 0.1.0
        """
        return self._client is not None

    def disconnect(self) -> None:
        """Close the client and its connections.

        .. versionadded:: 0.1.0
        """
        client, self._client = self._client, None
        if client is not None:
            client.close()

    def key(self, flow_name: str, task_name: str, task_id: str, what: str = "result") -> str:
        """Return the object key of a task's result (``what="result"``) or error (``what="error"``).

        .. versionadded:: 0.1.0
        """
        parts = [quote(str(part), safe="") for part in (flow_name, task_name, task_id)]
        parts[-1] += ".json" if what == "result" else ".error.json"
        return "/".join(([self.prefix] if self.prefix else []) + parts)

    def retrieve(self, flow_name: str, task_name: str, task_id: str) -> Any:
        """Return the task's result object, decoded from JSON.

        Raises:
            flowtrace.storages.MissingResult: if there is no such object.

        .. versionadded:: 0.1.0
        """
        return self._read(flow_name, task_name, task_id, "result")

    def retrieve_error(self, flow_name: str, task_name: str, task_id: str) -> dict[str, Any]:
        """Return the error stored for a failed task, as :func:`~flowtrace.storages.base.error_record` made it.

        Raises:
            flowtrace.storages.MissingResult: if no error is stored for the task.

        .. versionadded:: 0.1.0
        """
        return self._read(flow_name, task_name, task_id, "error")

    def store(self, node_args: Any, flow_name: str, task_name: str, task_id: str, result: Any) -> str:
        """Write the result as a JSON object, replacing any stored before.

        Returns:
            The object key.

        .. versionadded:: 0.1.0
        """
        return self._write(self.key(flow_name, task_name, task_id), dumps(result))

    def store_error(self, node_args: Any, flow_name: str, task_name: str, task_id: str, exc_info: ExcInfo) -> str:
        """Write :func:`~flowtrace.storages.base.error_record` of the exception as a JSON object.

        Returns:
            The object key.

        .. versionadded:: 0.1.0
        """
        return self._write(self.key(flow_name, task_name, task_id, "error"), dumps(error_record(exc_info)))

    def delete(self, flow_name: str, task_name: str, task_id: str) -> None:
        """Delete the task's result and error objects.

        Raises:
            flowtrace.storages.MissingResult: if neither object exists.

        .. versionadded:: 0.1.0
        """
        client = self._connected_client()
        found = False
        for what in ("result", "error"):
            key = self.key(flow_name, task_name, task_id, what)
            try:
                # S3's DeleteObject succeeds for a missing key, so ask first.
                client.head_object(Bucket=self.bucket, Key=key)
            except botocore.exceptions.ClientError as exc:
                if _code(exc) not in _MISSING:
                    raise
                continue
            client.delete_object(Bucket=self.bucket, Key=key)
            found = True
        if not found:
            raise not_found(flow_name, task_name, task_id)

    def _connected_client(self) -> Any:
        check_connected(self)
        return self._client

    def _read(self, flow_name: str, task_name: str, task_id: str, what: str) -> Any:
        client = self._connected_client()
        try:
            answer = client.get_object(Bucket=self.bucket, Key=self.key(flow_name, task_name, task_id, what))
        except botocore.exceptions.ClientError as exc:
            if _code(exc) in _MISSING:
                raise not_found(flow_name, task_name, task_id, what) from None
            raise
        with answer["Body"] as body:
            return loads(body.read())

    def _write(self, key: str, text: str) -> str:
        self._connected_client().put_object(Bucket=self.bucket, Key=key, Body=text.encode("utf-8"),
                                            ContentType="application/json")
        return key


def _optional(value: str | None, what: str) -> str | None:
    return expand_env(value, what) if value else None


def _code(exc: botocore.exceptions.ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
