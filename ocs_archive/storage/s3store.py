"""The ``s3`` store: every stored frame is one version of an object in a bucket.

The object key is the frame's store path and the version's ``key`` is S3's version id,
so the bucket must have versioning enabled; a bucket without it is refused before
anything is written.

Uploads stream. A frame smaller than ``S3_MULTIPART_THRESHOLD`` bytes goes up in one
PUT; a larger one in parts of ``S3_MULTIPART_PART_SIZE`` bytes, read in order from
the frame and sent ``S3_MULTIPART_CONCURRENCY`` at a time, so an upload holds about
part size x concurrency bytes in memory however large the frame. Every request
carries a checksum of its body, so the server refuses bytes that were corrupted on
the way: a single PUT its md5 (``Content-MD5``), which is the frame's md5 anyway; a
part its CRC32 (``x-amz-checksum-crc32``), five times cheaper to compute than a
second md5 of every byte (a server that refuses S3 checksums gets ``Content-MD5`` on
its parts instead). The md5 a store returns is computed while reading the frame,
never taken from an ETag (a multipart or SSE-KMS ETag is not an md5). A multipart
upload that fails is aborted, leaving no parts behind.

Every botocore or network failure becomes a :class:`FileStoreConnectionError`
(network trouble, throttling, server errors: retrying may help) or a
:class:`FileStoreSpecificationError` (credentials, permissions, a missing bucket,
settings: it will not), after botocore's own bounded retries. boto3 is imported when
a client is first needed, not when this module is imported.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import itertools
import logging
import os
import queue
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as futures_wait
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import IO, TYPE_CHECKING, Any, NamedTuple
from urllib.parse import quote

from ocs_archive.hashing import remaining_size
from ocs_archive.settings import settings
from ocs_archive.storage.filestore import (
    FileStore,
    FileStoreConnectionError,
    FileStoreError,
    FileStoreSpecificationError,
    Version,
    check_store_path,
)

if TYPE_CHECKING:
    from ocs_archive.input.file import DataFile

__all__ = ["S3Store", "strip_quotes_from_etag"]

logger = logging.getLogger(__name__)

MIB = 1024 * 1024

# S3's limits on uploads (the same on AWS, MinIO and SeaweedFS).
MIN_PART_SIZE = 5 * MIB
MAX_PART_SIZE = 5 * 1024 * MIB
MAX_PARTS = 10_000
MAX_SINGLE_PUT = 5 * 1024 * MIB
# Presigned URLs (signature version 4) are valid for 1 s to 7 days.
MIN_URL_SECONDS = 1
MAX_URL_SECONDS = 7 * 24 * 3600
# How long a bucket's confirmed versioning is trusted before it is asked again.
VERSIONING_RECHECK_SECONDS = 60.0

STANDARD = "STANDARD"
STANDARD_IA = "STANDARD_IA"

# Environment variables boto3 reads credentials from: a client is rebuilt when one
# of them changes, as it is when a setting changes.
_CREDENTIAL_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_CONFIG_FILE",
)

# Error codes for which retrying the same request later may succeed, although their
# HTTP status is a 4xx. BadDigest: the body was corrupted on the way.
_TRANSIENT_ERROR_CODES = frozenset(
    {
        "BadDigest",
        "IncompleteBody",
        "NoSuchUpload",
        "OperationAborted",
        "RequestTimeout",
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "TooManyRequests",
        "XAmzContentSHA256Mismatch",
    }
)
_TRANSIENT_STATUSES = frozenset({408, 429})

# What to do about the errors a misconfigured store meets most often.
_ERROR_HINTS = {
    "AccessDenied": "check that the credentials may read and write the bucket",
    "AllAccessDisabled": "check that the credentials may read and write the bucket",
    "AuthorizationHeaderMalformed": "check AWS_DEFAULT_REGION",
    "ExpiredToken": "renew AWS_SESSION_TOKEN",
    "InvalidAccessKeyId": "check AWS_ACCESS_KEY_ID",
    "InvalidBucketName": "check BUCKET",
    "NoSuchBucket": "create the bucket or correct BUCKET",
    "PermanentRedirect": "check S3_ENDPOINT_URL and AWS_DEFAULT_REGION",
    "SignatureDoesNotMatch": "check AWS_SECRET_ACCESS_KEY and S3_SIGNATURE_VERSION",
    "403": "check the credentials and that they may use the bucket",
}


def strip_quotes_from_etag(etag: str) -> str | None:
    """``'"abc"'`` gives ``'abc'``; a value with unbalanced quotes gives None."""
    if len(etag) >= 2 and etag.startswith('"') and etag.endswith('"'):
        return etag[1:-1]
    return None


# Clients


class _ClientSettings(NamedTuple):
    """Everything that goes into building a client: the key of the client cache."""

    signature_version: str
    addressing_style: str
    endpoint_url: str
    region: str
    connect_timeout: float
    read_timeout: float
    max_attempts: int
    pool_size: int
    credentials: str


@dataclass
class _Connection:
    """A client and what has been learnt about its buckets."""

    client: Any
    # Buckets whose versioning was confirmed, or may not be read with these
    # credentials (then each upload's version id is the only check), and when.
    checked_buckets: dict[str, float] = field(default_factory=dict)
    refused_storage_classes: set[tuple[str, str]] = field(default_factory=set)
    # Buckets whose server refused multipart uploads with an S3 checksum.
    refused_part_checksums: set[str] = field(default_factory=set)


class _ClientCache:
    """The S3 clients in use: one per configuration, the most recent few kept.

    Called, it returns the client for the settings as they are now, building one
    when they changed. ``cache_clear()`` forgets every client.
    """

    def __init__(self, maxsize: int = 4):
        self.maxsize = maxsize
        self._connections: OrderedDict[_ClientSettings, _Connection] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self) -> Any:
        return self.connection().client

    def connection(self) -> _Connection:
        configuration = _current_client_settings()
        with self._lock:
            connection = self._connections.get(configuration)
            if connection is None:
                connection = _Connection(_build_client(configuration))
                self._connections[configuration] = connection
                while len(self._connections) > self.maxsize:
                    self._connections.popitem(last=False)
            self._connections.move_to_end(configuration)
            return connection

    def cache_clear(self) -> None:
        with self._lock:
            self._connections.clear()


_clients = _ClientCache()


def _current_client_settings() -> _ClientSettings:
    concurrency = _UploadSettings.concurrency_setting()
    return _ClientSettings(
        signature_version=settings.S3_SIGNATURE_VERSION,
        addressing_style=settings.S3_ADDRESSING_STYLE,
        endpoint_url=settings.S3_ENDPOINT_URL,
        region=settings.AWS_DEFAULT_REGION,
        connect_timeout=_seconds_setting("S3_CONNECT_TIMEOUT"),
        read_timeout=_seconds_setting("S3_READ_TIMEOUT"),
        max_attempts=_int_setting("S3_MAX_ATTEMPTS", 1, 20),
        # One connection per part in flight, and a few for other requests.
        pool_size=max(10, concurrency + 2),
        credentials=_credentials_fingerprint(),
    )


def _credentials_fingerprint() -> str:
    # A digest, so that the cache key never holds a secret in a second place.
    values = "\0".join(os.environ.get(name, "") for name in _CREDENTIAL_VARIABLES)
    return hashlib.sha256(values.encode("utf-8", "surrogatepass")).hexdigest()


def _build_client(configuration: _ClientSettings) -> Any:
    """A client for ``configuration``.

    Over HTTPS the bodies of uploads are not SHA-256 signed: TLS protects them on
    the way and each carries a checksum the server verifies, the rule botocore
    itself applies to ``Content-MD5`` but not to the CRC32 the store sends with
    parts. Over plain HTTP they are signed, as a CRC32 alone could be forged.
    """
    endpoint = configuration.endpoint_url.lower()
    sign_payloads = bool(endpoint) and not endpoint.startswith("https://")
    client = _new_client(configuration, sign_payloads)
    # Without S3_ENDPOINT_URL, botocore finds the endpoint itself (AWS, or an
    # AWS_ENDPOINT_URL variable): only the client knows whether it is HTTPS.
    if not sign_payloads and not client.meta.endpoint_url.startswith("https://"):
        client = _new_client(configuration, sign_payloads=True)
    return client


def _new_client(configuration: _ClientSettings, sign_payloads: bool) -> Any:
    import boto3.session
    from botocore.config import Config

    s3_options: dict[str, Any] = {"addressing_style": configuration.addressing_style}
    if not sign_payloads:
        s3_options["payload_signing_enabled"] = False
    options: dict[str, Any] = {
        "signature_version": configuration.signature_version,
        "s3": s3_options,
        "connect_timeout": configuration.connect_timeout,
        "read_timeout": configuration.read_timeout,
        "retries": {
            "total_max_attempts": configuration.max_attempts,
            "mode": "standard",
        },
        "max_pool_connections": configuration.pool_size,
    }
    # The store puts a checksum on each request itself; botocore's default CRC32 on
    # top would cost another pass over the bytes.
    if "request_checksum_calculation" in Config.OPTION_DEFAULTS:
        options["request_checksum_calculation"] = "when_required"
    try:
        return boto3.session.Session().client(
            "s3",
            endpoint_url=configuration.endpoint_url or None,
            region_name=configuration.region or None,
            config=Config(**options),
        )
    except ValueError as exc:
        # botocore's answer to an endpoint URL or region it cannot use.
        raise FileStoreSpecificationError(
            f"cannot build an S3 client for S3_ENDPOINT_URL="
            f"{configuration.endpoint_url!r}, AWS_DEFAULT_REGION="
            f"{configuration.region!r}: {exc}"
        ) from exc


def _int_setting(name: str, low: int, high: int) -> int:
    """A whole-number setting, read now, checked against what S3 allows."""
    value = getattr(settings, name)
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not low <= value <= high
    ):
        raise FileStoreSpecificationError(
            f"{name}={value!r} is not usable (expected a whole number from {low} "
            f"to {high})"
        )
    return value


def _seconds_setting(name: str) -> float:
    value = getattr(settings, name)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise FileStoreSpecificationError(
            f"{name}={value!r} is not usable (expected a number of seconds above 0)"
        )
    return float(value)


# The store


class S3Store(FileStore):
    """Keeps each stored frame as a version of the object at its store path.

    ``bucket`` defaults to the ``BUCKET`` setting, read whenever the store is used.
    The client comes from :meth:`get_s3_client`. ``store_file`` returns
    ``{'key': <version id>, 'md5': <md5 of the bytes>, 'extension': ...}``; the other
    operations take that version id, and an empty one means the latest version.
    """

    def __init__(self, bucket: str | None = None):
        self._bucket = bucket

    @property
    def bucket(self) -> str:
        """The bucket this store uses (``BUCKET`` unless one was given)."""
        bucket = settings.BUCKET if self._bucket is None else self._bucket
        if not bucket:
            raise FileStoreSpecificationError(
                "the s3 file store needs a bucket: set BUCKET or pass bucket"
            )
        return bucket

    def store_file(self, data_file: DataFile) -> Version:
        """Upload the frame to its store path as a new version; return the version.

        Raises :class:`FileStoreSpecificationError` when the bucket has no versioning
        or the store is misconfigured, :class:`FileStoreConnectionError` when the
        upload failed and may be retried.
        """
        bucket = self.bucket
        path = check_store_path(data_file.get_filestore_path())
        open_file = data_file.open_file
        arguments = self._object_arguments(data_file, path)
        upload_settings = _UploadSettings.current()
        started = time.monotonic()

        with _translated("store", _location(bucket, path)):
            connection = _clients.connection()
            _require_versioning(connection, bucket)
            signature = open_file.content_signature()
            source = open_file.get_from_start()
            expected_size = remaining_size(source)
            uploaded = _upload(
                connection, _Target(bucket, path, arguments), source, upload_settings
            )
            if expected_size is not None and uploaded.size != expected_size:
                _discard_wrong_size_upload(
                    connection.client, bucket, path, uploaded, expected_size
                )
                raise FileStoreConnectionError(
                    f"read {uploaded.size} of the {expected_size} bytes of "
                    f"{data_file.name} while storing it at {_location(bucket, path)}: "
                    "the file changed or could not be read; the upload was deleted"
                )
        open_file.fileobj.seek(0)
        open_file.remember_md5(uploaded.md5, signature)

        logger.info(
            "stored %s version %s (%d bytes, md5 %s, %s) in %.3f s",
            _location(bucket, path),
            uploaded.version_id,
            uploaded.size,
            uploaded.md5,
            uploaded.method,
            time.monotonic() - started,
        )
        return self.make_version(uploaded.version_id, uploaded.md5, data_file)

    def delete_file(self, path: str, version_id: str) -> None:
        """Delete one version for good; an empty version id deletes the latest.

        Deleting the latest version makes the one before it the latest again. A
        version or path that holds nothing is fine.
        """
        bucket = self.bucket
        check_store_path(path)

        with _translated("delete", _location(bucket, path, version_id)):
            client = self.get_s3_client()
            if not version_id:
                version_id = _latest_version_id(client, bucket, path)
                if version_id is None:
                    logger.debug("delete of %s: nothing is stored there", path)
                    return
            client.delete_object(Bucket=bucket, Key=path, VersionId=version_id)
        logger.info("deleted %s", _location(bucket, path, version_id))

    def get_url(self, path: str, version_id: str, expiration: float) -> str:
        """A presigned GET URL of the version, valid for ``expiration`` seconds.

        An empty version id gives a URL of whatever version is the latest when the
        URL is used. Signing needs no request to the server.
        """
        bucket = self.bucket
        check_store_path(path)
        if not MIN_URL_SECONDS <= expiration <= MAX_URL_SECONDS:
            raise FileStoreSpecificationError(
                f"a download URL can be valid from {MIN_URL_SECONDS} to "
                f"{MAX_URL_SECONDS} seconds (7 days), not {expiration!r}"
            )
        with _translated("sign a URL for", _location(bucket, path, version_id)):
            return self.get_s3_client().generate_presigned_url(
                "get_object",
                Params=_object_address(bucket, path, version_id),
                ExpiresIn=int(expiration),
            )

    @contextlib.contextmanager
    def get_fileobj(
        self, path: str, version_id: str | None = None
    ) -> Iterator[IO[bytes] | None]:
        """Yield the stored version as a readable stream, or None when it is missing.

        The stream downloads as it is read, so a large frame is never held in memory
        unless the caller asks for all of it at once (``read()``, or ``getvalue()``
        as on the in-memory file earlier versions of this store yielded). It cannot
        seek. Failures while reading raise the store's exceptions.
        """
        from botocore.exceptions import ClientError

        bucket = self.bucket
        check_store_path(path)
        location = _location(bucket, path, version_id)

        with _translated("read", location):
            try:
                response = self.get_s3_client().get_object(
                    **_object_address(bucket, path, version_id)
                )
            except ClientError as exc:
                if not _is_missing(exc):
                    raise
                response = None
        if response is None:
            yield None
            return
        with _ObjectStream(response["Body"], location) as stream:
            yield stream

    def get_file_size(self, path: str, version_id: str | None = None) -> int:
        """The size in bytes of the stored version; FileNotFoundError when missing."""
        from botocore.exceptions import ClientError

        bucket = self.bucket
        check_store_path(path)
        location = _location(bucket, path, version_id)

        with _translated("measure", location):
            try:
                response = self.get_s3_client().head_object(
                    **_object_address(bucket, path, version_id)
                )
            except ClientError as exc:
                if not _is_missing(exc):
                    raise
                response = None
            if response is None:
                _require_bucket(self.get_s3_client(), bucket)
                raise FileNotFoundError(f"nothing is stored at {location}")
        return int(response["ContentLength"])

    def get_storage_class(self, observation_datetime: datetime | date | str) -> str:
        """``STANDARD_IA`` for frames observed over ``S3_DAYS_TO_IA_STORAGE`` days ago.

        Frames that old are archive uploads, rarely read again; newer ones are
        ``STANDARD``. Accepts a datetime (naive means UTC, as FITS dates are), a date,
        or the header's ISO 8601 text (``2024-03-05T01:02:03.456Z``). Anything else
        raises :class:`FileStoreSpecificationError`.
        """
        age = datetime.now(UTC) - _as_utc(observation_datetime)
        if age > timedelta(days=settings.S3_DAYS_TO_IA_STORAGE):
            return STANDARD_IA
        return STANDARD

    # A cached boto3 client for the settings as they are at each call; it exposes
    # ``cache_clear()``, which clients call after changing settings or credentials.
    get_s3_client = staticmethod(_clients)

    def _object_arguments(self, data_file: DataFile, path: str) -> dict[str, str]:
        """The headers every stored version gets: name, type and storage class."""
        open_file = data_file.open_file
        file_name = f"{open_file.basename or ''}{open_file.extension or ''}"
        arguments = {
            "ContentDisposition": _content_disposition(file_name),
            "StorageClass": self._storage_class_of(data_file, path),
        }
        content_type = data_file.get_filestore_content_type()
        if content_type:
            arguments["ContentType"] = content_type
        return arguments

    def _storage_class_of(self, data_file: DataFile, path: str) -> str:
        observation_date = data_file.get_header_data().get_observation_date()
        try:
            return self.get_storage_class(observation_date)
        except FileStoreSpecificationError as exc:
            # The class only affects the price; refusing the frame would lose data.
            logger.warning("%s; storing %s as %s", exc, path, STANDARD)
            return STANDARD


# Uploads


@dataclass(frozen=True)
class _UploadSettings:
    """How uploads are cut up: read from the settings when a store starts one."""

    threshold: int
    part_size: int
    concurrency: int

    @classmethod
    def current(cls) -> _UploadSettings:
        return cls(
            threshold=_int_setting("S3_MULTIPART_THRESHOLD", 1, MAX_SINGLE_PUT),
            part_size=_int_setting(
                "S3_MULTIPART_PART_SIZE", MIN_PART_SIZE, MAX_PART_SIZE
            ),
            concurrency=cls.concurrency_setting(),
        )

    @staticmethod
    def concurrency_setting() -> int:
        return _int_setting("S3_MULTIPART_CONCURRENCY", 1, 64)

    def part_size_for(self, size: int | None) -> int:
        """The part size, grown when a frame of ``size`` needs over 10 000 parts."""
        if size is None or size <= self.part_size * MAX_PARTS:
            return self.part_size
        needed = -(-size // MAX_PARTS)
        return -(-needed // MIB) * MIB


@dataclass(frozen=True)
class _Target:
    """Where an upload goes, and the headers the stored version gets."""

    bucket: str
    key: str
    arguments: dict[str, str]


@dataclass(frozen=True)
class _Uploaded:
    version_id: str
    md5: str
    size: int
    method: str


def _discard_wrong_size_upload(
    client: Any, bucket: str, path: str, uploaded: _Uploaded, expected_size: int
) -> None:
    client.delete_object(Bucket=bucket, Key=path, VersionId=uploaded.version_id)
    logger.warning(
        "deleted %s: it holds %d bytes, not the %d the file had when the upload began",
        _location(bucket, path, uploaded.version_id),
        uploaded.size,
        expected_size,
    )


def _require_versioning(connection: _Connection, bucket: str) -> None:
    """Refuse a bucket without versioning, before anything is written to it."""
    from botocore.exceptions import ClientError

    checked = connection.checked_buckets.get(bucket)
    if checked is not None and time.monotonic() - checked < VERSIONING_RECHECK_SECONDS:
        return
    try:
        status = connection.client.get_bucket_versioning(Bucket=bucket).get("Status")
    except ClientError as exc:
        if _error_code(exc) not in ("AccessDenied", "403"):
            raise
        logger.warning(
            "may not read the versioning of bucket %r (%s); relying on the version "
            "id of each upload instead",
            bucket,
            _error_code(exc),
        )
        status = "unknown"
    if status not in ("Enabled", "unknown"):
        raise _unversioned_bucket(bucket, status or "never enabled")
    connection.checked_buckets[bucket] = time.monotonic()


def _unversioned_bucket(bucket: str, state: str) -> FileStoreSpecificationError:
    return FileStoreSpecificationError(
        f"bucket {bucket!r} has versioning {state}: the s3 file store keeps every "
        "frame as an object version, so versioning must be enabled on the bucket "
        f"(e.g. aws s3api put-bucket-versioning --bucket {bucket} "
        "--versioning-configuration Status=Enabled)"
    )


def _upload(
    connection: _Connection,
    target: _Target,
    source: IO[bytes],
    upload_settings: _UploadSettings,
) -> _Uploaded:
    size = remaining_size(source)
    if size is not None and size < upload_settings.threshold:
        return _put_whole(connection, target, source)
    return _put_in_parts(connection, target, source, upload_settings, size)


def _put_whole(
    connection: _Connection, target: _Target, source: IO[bytes]
) -> _Uploaded:
    body = source.read()
    md5 = hashlib.md5(body)

    def put(object_arguments: dict[str, str]) -> dict[str, Any]:
        return connection.client.put_object(
            Bucket=target.bucket,
            Key=target.key,
            Body=body,
            ContentMD5=_base64(md5.digest()),
            **object_arguments,
        )

    response = _with_storage_class_fallback(connection, target, put)
    version_id = _version_id_of(connection.client, target, response)
    return _Uploaded(version_id, md5.hexdigest(), len(body), "single PUT")


def _put_in_parts(
    connection: _Connection,
    target: _Target,
    source: IO[bytes],
    upload_settings: _UploadSettings,
    size: int | None,
) -> _Uploaded:
    client = connection.client
    created, part_checksum = _create_multipart_upload(connection, target)
    upload = _MultipartUpload(client, target, created["UploadId"], part_checksum)
    try:
        parts, md5, sent = upload.send_parts(
            source,
            upload_settings.part_size_for(size),
            upload_settings.concurrency,
        )
        response = client.complete_multipart_upload(
            Bucket=target.bucket,
            Key=target.key,
            UploadId=upload.upload_id,
            MultipartUpload={"Parts": parts},
        )
    except BaseException:
        upload.abort()
        raise
    version_id = _version_id_of(client, target, response)
    method = "1 part" if len(parts) == 1 else f"{len(parts)} parts"
    return _Uploaded(version_id, md5, sent, method)


# What a server answers to a checksum it does not support.
_UNSUPPORTED_CHECKSUM_CODES = frozenset(
    {"InvalidArgument", "InvalidRequest", "NotImplemented"}
)


def _create_multipart_upload(
    connection: _Connection, target: _Target
) -> tuple[dict[str, Any], bool]:
    """Start a multipart upload whose parts carry CRC32 checksums, if the server
    takes them; else one whose parts carry ``Content-MD5``.

    Returns the server's answer and whether parts are to carry a CRC32. A refusal is
    remembered for this client and bucket, so it costs one request and one warning.
    """
    from botocore.exceptions import ClientError

    def create(part_checksum: bool) -> dict[str, Any]:
        def request(object_arguments: dict[str, str]) -> dict[str, Any]:
            if part_checksum:
                object_arguments = {**object_arguments, "ChecksumAlgorithm": "CRC32"}
            return connection.client.create_multipart_upload(
                Bucket=target.bucket, Key=target.key, **object_arguments
            )

        return _with_storage_class_fallback(connection, target, request)

    if target.bucket in connection.refused_part_checksums:
        return create(part_checksum=False), False
    try:
        return create(part_checksum=True), True
    except ClientError as exc:
        if _error_code(exc) not in _UNSUPPORTED_CHECKSUM_CODES:
            raise
        logger.warning(
            "bucket %r refuses multipart uploads with a CRC32 checksum (%s); its "
            "parts carry Content-MD5 instead",
            target.bucket,
            _error_code(exc),
        )
    connection.refused_part_checksums.add(target.bucket)
    return create(part_checksum=False), False


class _MultipartUpload:
    """One multipart upload in progress: sends its parts, or aborts it.

    Each part carries a CRC32 checksum when ``part_checksum`` is true (the upload
    was created with it), else its ``Content-MD5``.
    """

    def __init__(
        self, client: Any, target: _Target, upload_id: str, part_checksum: bool
    ):
        self.client = client
        self.bucket = target.bucket
        self.key = target.key
        self.upload_id = upload_id
        self.part_checksum = part_checksum

    def send_parts(
        self, source: IO[bytes], part_size: int, concurrency: int
    ) -> tuple[list[dict[str, Any]], str, int]:
        """Read parts in order, hashing them, and send up to ``concurrency`` at once.

        Returns the part list for completing the upload, the md5 of every byte read
        and their number. A part that failed raises once the parts in flight are
        done; no part is read after a failure.
        """
        digest = hashlib.md5()
        size = 0
        buffers = _PartBuffers(part_size, concurrency)
        futures: list[Future[dict[str, Any]]] = []
        hashed: list[Future[None]] = []

        # One thread hashes the parts in order while others send them, so that the
        # reader goes on to the next part at once. Both only read a part's buffer;
        # it is handed back for the next part once it is sent and hashed.
        with (
            ThreadPoolExecutor(1, thread_name_prefix="s3-md5") as hasher,
            ThreadPoolExecutor(concurrency, thread_name_prefix="s3-part") as pool,
        ):
            for number in itertools.count(1):
                buffer = buffers.take()
                if buffers.failed.is_set():
                    break
                count = _fill(source, buffer)
                if not count and number > 1:
                    break
                hashed.append(hasher.submit(_hash_into, digest, buffer, count))
                futures.append(
                    pool.submit(
                        self._send_part, number, buffer, count, buffers, hashed[-1]
                    )
                )
                size += count
                if count < part_size:
                    break
        for done in hashed:
            done.result()
        parts = [future.result() for future in futures]
        return parts, digest.hexdigest(), size

    def _send_part(
        self,
        number: int,
        buffer: bytearray,
        count: int,
        buffers: _PartBuffers,
        hashed: Future[None],
    ) -> dict[str, Any]:
        # botocore takes a bytearray but not a memoryview: only the last, short
        # part is copied.
        body = buffer if count == len(buffer) else buffer[:count]
        try:
            if self.part_checksum:
                checksum = {"ChecksumCRC32": _base64(_crc32(body))}
            else:
                checksum = {"ContentMD5": _base64(hashlib.md5(body).digest())}
            response = self.client.upload_part(
                Bucket=self.bucket,
                Key=self.key,
                UploadId=self.upload_id,
                PartNumber=number,
                Body=body,
                **checksum,
            )
        except BaseException:
            buffers.failed.set()
            raise
        finally:
            futures_wait([hashed])
            buffers.give_back(buffer)
        part = {"PartNumber": number, "ETag": response["ETag"]}
        if self.part_checksum:
            # Completing an upload created with a checksum names each part's.
            part["ChecksumCRC32"] = checksum["ChecksumCRC32"]
        return part

    def abort(self) -> None:
        """Abort the upload so that the server drops its parts; never raises."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.abort_multipart_upload(
                Bucket=self.bucket, Key=self.key, UploadId=self.upload_id
            )
        except (BotoCoreError, ClientError) as exc:
            logger.warning(
                "could not abort multipart upload %s of %s (%s); its parts stay "
                "until the bucket's lifecycle rule for incomplete uploads removes "
                "them",
                self.upload_id,
                _location(self.bucket, self.key),
                exc,
            )
        else:
            logger.debug(
                "aborted multipart upload %s of %s",
                self.upload_id,
                _location(self.bucket, self.key),
            )


class _PartBuffers:
    """At most ``limit`` part buffers, made when first needed and then reused.

    A part is read only into a free buffer, which bounds an upload's memory to
    ``limit`` parts; reusing them spares the allocator and the page faults of a
    fresh buffer per part. ``failed`` is set when a part could not be sent.
    """

    def __init__(self, size: int, limit: int):
        self.size = size
        self.limit = limit
        self.failed = threading.Event()
        self._free: queue.SimpleQueue[bytearray] = queue.SimpleQueue()
        self._made = 0

    def take(self) -> bytearray:
        """A free buffer, waiting for one when all are in use (one taker only)."""
        with contextlib.suppress(queue.Empty):
            return self._free.get_nowait()
        if self._made < self.limit:
            self._made += 1
            return bytearray(self.size)
        return self._free.get()

    def give_back(self, buffer: bytearray) -> None:
        self._free.put(buffer)


def _hash_into(digest: Any, buffer: bytearray, count: int) -> None:
    with memoryview(buffer) as view, view[:count] as part:
        digest.update(part)


def _fill(source: IO[bytes], buffer: bytearray) -> int:
    """Read into ``buffer`` until it is full or ``source`` ends; the bytes read."""
    filled = 0
    readinto = getattr(source, "readinto", None)
    with memoryview(buffer) as view:
        while filled < len(view):
            if readinto is not None:
                count = readinto(view[filled:])
            else:
                data = source.read(len(view) - filled)
                count = len(data)
                view[filled : filled + count] = data
            if not count:
                break
            filled += count
    return filled


def _with_storage_class_fallback(
    connection: _Connection,
    target: _Target,
    request: Callable[[dict[str, str]], dict[str, Any]],
) -> dict[str, Any]:
    """Make ``request``; again without a storage class if the server refuses it.

    S3-compatible servers offer fewer storage classes than AWS. A frame stored in
    the bucket's default class beats a frame not stored; the refusal is remembered
    for this client and bucket, so it costs one request and one warning.
    """
    from botocore.exceptions import ClientError

    bucket, arguments = target.bucket, target.arguments
    storage_class = arguments.get("StorageClass")
    if (bucket, storage_class) in connection.refused_storage_classes:
        return request(_without_storage_class(arguments))
    try:
        return request(arguments)
    except ClientError as exc:
        if storage_class is None or _error_code(exc) != "InvalidStorageClass":
            raise
    logger.warning(
        "bucket %r refuses storage class %s; storing in its default class instead",
        bucket,
        storage_class,
    )
    connection.refused_storage_classes.add((bucket, storage_class))
    return request(_without_storage_class(arguments))


def _without_storage_class(arguments: dict[str, str]) -> dict[str, str]:
    return {name: value for name, value in arguments.items() if name != "StorageClass"}


def _version_id_of(client: Any, target: _Target, response: dict) -> str:
    """The version id S3 gave the upload; refuses an upload that got none.

    An unversioned bucket answers with no id, a suspended one with ``null``; the
    object just written is deleted again so that nothing unversioned is left.
    """
    version_id = response.get("VersionId")
    if version_id and version_id != "null":
        return version_id
    # Versioning was switched off since it was checked. On a suspended bucket the
    # upload is the version "null": deleting that version removes exactly it, where
    # a plain delete would add a delete marker that hides the versions before it.
    client.delete_object(Bucket=target.bucket, Key=target.key, VersionId="null")
    raise _unversioned_bucket(
        target.bucket, "off or suspended (the upload got no version id)"
    )


def _content_disposition(file_name: str) -> str:
    if file_name.isascii() and file_name.isprintable() and '"' not in file_name:
        return f"attachment; filename={file_name}"
    # HTTP headers are Latin-1: other names go in the RFC 6266 extended form.
    fallback = file_name.encode("ascii", "replace").decode("ascii").replace('"', "_")
    return (
        f'attachment; filename="{fallback}"; '
        f"filename*=UTF-8''{quote(file_name, safe='')}"
    )


def _crc32(body: bytes | bytearray) -> bytes:
    """The CRC32 of ``body`` as S3 wants it: four bytes, most significant first."""
    return zlib.crc32(body).to_bytes(4, "big")


def _base64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


# Reads


class _ObjectStream(io.RawIOBase):
    """A stored version, downloaded as it is read.

    ``getvalue()`` returns the whole object, as the in-memory file of earlier
    versions of this store did; it loads the object into memory, so large frames
    are better read in chunks.
    """

    def __init__(self, body: Any, location: str):
        super().__init__()
        self._body = body
        self._location = location
        self._position = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if self.closed:
            raise ValueError("I/O operation on a closed stored object")
        amount = None if size is None or size < 0 else size
        with _translated("read", self._location):
            data = self._body.read(amount)
        self._position += len(data)
        return data

    def readall(self) -> bytes:
        return self.read()

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)

    def tell(self) -> int:
        return self._position

    def getvalue(self) -> bytes:
        """The whole stored object; only before anything was read."""
        if self._position:
            raise io.UnsupportedOperation(
                f"getvalue() of {self._location} after {self._position} bytes were "
                "read: the stream cannot go back"
            )
        return self.read()

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()


def _latest_version_id(client: Any, bucket: str, key: str) -> str | None:
    from botocore.exceptions import ClientError

    try:
        return client.head_object(Bucket=bucket, Key=key).get("VersionId")
    except ClientError as exc:
        if not _is_missing(exc):
            raise
        _require_bucket(client, bucket)
        return None


def _require_bucket(client: Any, bucket: str) -> None:
    """Raise NoSuchBucket when ``bucket`` does not exist.

    A HEAD request that finds nothing answers a bare 404, which cannot tell a
    missing object from a missing bucket; this asks about the bucket itself.
    """
    from botocore.exceptions import ClientError

    try:
        client.head_bucket(Bucket=bucket)
    except ClientError as exc:
        if _error_code(exc) not in ("NoSuchBucket", "NotFound", "404"):
            raise
        raise FileStoreSpecificationError(
            f"bucket {bucket!r} does not exist (NoSuchBucket): correct BUCKET or "
            "create the bucket"
        ) from exc


# Dates


def _as_utc(value: datetime | date | str) -> datetime:
    """``value`` as an aware UTC datetime; a naive one is taken to be UTC."""
    if isinstance(value, str):
        value = _parse_date(value)
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    raise FileStoreSpecificationError(
        f"observation date {value!r} is not a date (expected a datetime or ISO 8601 "
        "text such as '2024-03-05T01:02:03.456Z')"
    )


def _parse_date(text: str) -> datetime:
    from dateutil.parser import ParserError, isoparse, parse

    try:
        return isoparse(text.strip())
    except ValueError:
        pass
    try:
        return parse(text)
    except (ParserError, ValueError, OverflowError):
        raise FileStoreSpecificationError(
            f"observation date {text!r} is not a date (expected ISO 8601 such as "
            "'2024-03-05T01:02:03.456Z')"
        ) from None


# Errors


@contextlib.contextmanager
def _translated(action: str, location: str) -> Iterator[None]:
    """Turn any botocore failure inside the block into the store's exceptions."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except (BotoCoreError, ClientError) as exc:
        raise _store_error(exc, action, location) from exc


def _store_error(exc: Exception, action: str, location: str) -> FileStoreError:
    """The store's exception for a botocore failure to ``action`` ``location``."""
    from botocore import exceptions as botocore_errors

    if isinstance(exc, botocore_errors.ClientError):
        return _error_from_response(exc, action, location)
    configuration_errors = (
        botocore_errors.NoCredentialsError,
        botocore_errors.PartialCredentialsError,
        botocore_errors.NoRegionError,
        botocore_errors.ParamValidationError,
        botocore_errors.UnknownSignatureVersionError,
        botocore_errors.InvalidS3AddressingStyleError,
        botocore_errors.InvalidRegionError,
        botocore_errors.UnknownEndpointError,
        botocore_errors.ProfileNotFound,
    )
    if isinstance(exc, configuration_errors):
        return FileStoreSpecificationError(
            f"cannot {action} {location}: {exc} (check the S3 settings and the AWS "
            "credentials)"
        )
    return FileStoreConnectionError(f"could not {action} {location}: {exc}")


def _error_from_response(exc: Any, action: str, location: str) -> FileStoreError:
    code = _error_code(exc)
    error = exc.response.get("Error", {})
    metadata = exc.response.get("ResponseMetadata", {})
    status = metadata.get("HTTPStatusCode") or 0
    retries = metadata.get("RetryAttempts") or 0
    detail = f"{code}: {error.get('Message') or 'no message'} (HTTP {status})"

    transient = (
        code in _TRANSIENT_ERROR_CODES or status in _TRANSIENT_STATUSES or status >= 500
    )
    if transient or not 400 <= status < 500:
        tried = f" after {retries + 1} attempts" if retries else ""
        return FileStoreConnectionError(
            f"could not {action} {location}{tried}: {detail}"
        )
    hint = _ERROR_HINTS.get(code)
    return FileStoreSpecificationError(
        f"S3 refused to {action} {location}: {detail}" + (f"; {hint}" if hint else "")
    )


def _error_code(exc: Any) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


def _is_missing(exc: Any) -> bool:
    return _error_code(exc) in ("NoSuchKey", "NoSuchVersion", "NotFound", "404")


def _object_address(bucket: str, key: str, version_id: str | None) -> dict[str, str]:
    address = {"Bucket": bucket, "Key": key}
    if version_id:
        address["VersionId"] = version_id
    return address


def _location(bucket: str, key: str, version_id: str | None = None) -> str:
    location = f"s3://{bucket}/{key}"
    return f"{location} (version {version_id})" if version_id else location
