"""What the s3 store decides without a server: classes, clients, settings, URLs."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from ocs_archive.settings import settings
from ocs_archive.storage.filestore import FileStoreSpecificationError
from ocs_archive.storage.filestorefactory import FileStoreFactory
from ocs_archive.storage.s3store import S3Store, strip_quotes_from_etag

STORE_PATH = "lsc/fa04/20240305/raw/lsc1m009-fa04-20240305-0101-e00.fits"


@pytest.fixture
def local_endpoint(monkeypatch):
    """Settings for a client that could only ever talk to 127.0.0.1 (never asked)."""
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test-access")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret")
    monkeypatch.setattr(settings, "S3_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setattr(settings, "BUCKET", "test-bucket")
    monkeypatch.setattr(settings, "AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setattr(settings, "S3_ADDRESSING_STYLE", "path")
    S3Store.get_s3_client.cache_clear()
    yield
    S3Store.get_s3_client.cache_clear()


def test_importing_the_store_does_not_import_boto3():
    code = (
        "import sys, ocs_archive.storage.s3store, ocs_archive.storage.filestorefactory;"
        "print(sorted(m for m in ('boto3', 'botocore') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_the_factory_serves_the_s3_store():
    assert FileStoreFactory.get_file_store_class("s3") is S3Store


@pytest.mark.parametrize(
    ("etag", "expected"),
    [('"abc"', "abc"), ('"wrong', None), ("wrong", None), ('""', ""), ('"', None)],
)
def test_strip_quotes_from_etag(etag, expected):
    assert strip_quotes_from_etag(etag) == expected


# Storage classes

NOW = datetime.now(UTC)


@pytest.mark.parametrize(
    ("observed", "storage_class"),
    [
        (NOW.replace(tzinfo=None) - timedelta(days=61), "STANDARD_IA"),
        (NOW.replace(tzinfo=None) - timedelta(days=59), "STANDARD"),
        (NOW - timedelta(days=61), "STANDARD_IA"),
        (NOW - timedelta(days=59), "STANDARD"),
        # 59 days and 23 hours ago in UTC, written in UTC-5.
        (
            (NOW - timedelta(days=59, hours=23)).astimezone(
                timezone(-timedelta(hours=5))
            ),
            "STANDARD",
        ),
        (NOW.date() - timedelta(days=61), "STANDARD_IA"),
        ("2024-03-05T01:02:03.456Z", "STANDARD_IA"),
        ("2024-03-05T01:02:03.456", "STANDARD_IA"),
        ("2024-03-05", "STANDARD_IA"),
        ((NOW - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "STANDARD"),
        ((NOW - timedelta(days=1)).isoformat(), "STANDARD"),
    ],
)
def test_the_storage_class_depends_on_the_age_of_the_observation(
    observed, storage_class
):
    assert S3Store("any").get_storage_class(observed) == storage_class


def test_the_age_limit_is_read_when_asked(monkeypatch):
    observed = datetime.now(UTC) - timedelta(days=10)
    monkeypatch.setattr(settings, "S3_DAYS_TO_IA_STORAGE", 5)
    assert S3Store().get_storage_class(observed) == "STANDARD_IA"
    monkeypatch.setattr(settings, "S3_DAYS_TO_IA_STORAGE", 1_000_000)
    assert S3Store().get_storage_class(observed) == "STANDARD"


@pytest.mark.parametrize("observed", ["yesterday-ish", "", None, 20240305])
def test_an_observation_date_that_is_no_date_is_refused(observed):
    with pytest.raises(FileStoreSpecificationError, match="is not a date"):
        S3Store().get_storage_class(observed)


# Clients


def test_the_client_is_cached_for_unchanged_settings(local_endpoint):
    first = S3Store.get_s3_client()
    assert S3Store().get_s3_client() is first
    assert first.meta.endpoint_url == "http://127.0.0.1:9"
    assert first.meta.region_name == "us-east-1"
    assert first.meta.config.s3 == {"addressing_style": "path"}
    assert first.meta.config.signature_version == "s3v4"


def test_cache_clear_forgets_the_client(local_endpoint):
    first = S3Store.get_s3_client()
    S3Store.get_s3_client.cache_clear()
    assert S3Store.get_s3_client() is not first


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("S3_ENDPOINT_URL", "http://127.0.0.1:10"),
        ("S3_ADDRESSING_STYLE", "virtual"),
        ("S3_SIGNATURE_VERSION", "s3"),
        ("AWS_DEFAULT_REGION", "eu-west-1"),
        ("S3_CONNECT_TIMEOUT", 3),
        ("S3_READ_TIMEOUT", 7),
        ("S3_MAX_ATTEMPTS", 9),
    ],
)
def test_a_changed_setting_gives_a_new_client(local_endpoint, monkeypatch, name, value):
    first = S3Store.get_s3_client()
    monkeypatch.setattr(settings, name, value, raising=False)
    assert S3Store.get_s3_client() is not first


def test_changed_credentials_give_a_new_client(local_endpoint, monkeypatch):
    first = S3Store.get_s3_client()
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "another-secret")
    second = S3Store.get_s3_client()
    assert second is not first
    assert second.meta.region_name == "us-east-1"


def test_the_client_has_timeouts_and_bounded_retries(local_endpoint, monkeypatch):
    monkeypatch.setattr(settings, "S3_CONNECT_TIMEOUT", 4, raising=False)
    monkeypatch.setattr(settings, "S3_READ_TIMEOUT", 40, raising=False)
    monkeypatch.setattr(settings, "S3_MAX_ATTEMPTS", 6, raising=False)
    config = S3Store.get_s3_client().meta.config
    assert config.connect_timeout == 4
    assert config.read_timeout == 40
    assert config.retries == {"total_max_attempts": 6, "mode": "standard"}


def test_the_cache_keeps_few_clients(local_endpoint, monkeypatch):
    clients = []
    for port in range(10, 20):
        monkeypatch.setattr(settings, "S3_ENDPOINT_URL", f"http://127.0.0.1:{port}")
        clients.append(S3Store.get_s3_client())
    monkeypatch.setattr(settings, "S3_ENDPOINT_URL", "http://127.0.0.1:19")
    assert S3Store.get_s3_client() is clients[-1]
    monkeypatch.setattr(settings, "S3_ENDPOINT_URL", "http://127.0.0.1:10")
    assert S3Store.get_s3_client() is not clients[0]


# Settings


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("S3_MULTIPART_PART_SIZE", 1024),
        ("S3_MULTIPART_PART_SIZE", "8MB"),
        ("S3_MULTIPART_CONCURRENCY", 0),
        ("S3_MULTIPART_THRESHOLD", 0),
        ("S3_MULTIPART_THRESHOLD", 6 * 1024**3),
        ("S3_CONNECT_TIMEOUT", 0),
        ("S3_READ_TIMEOUT", "soon"),
        ("S3_MAX_ATTEMPTS", 0),
    ],
)
def test_an_unusable_setting_is_refused_by_name_before_any_request(
    local_endpoint, monkeypatch, make_test_frame, open_data_file, name, value
):
    monkeypatch.setattr(settings, name, value, raising=False)
    with pytest.raises(FileStoreSpecificationError, match=f"{name}={value!r}"):
        S3Store().store_file(open_data_file(make_test_frame()))


def test_a_store_without_bucket_is_refused(monkeypatch):
    monkeypatch.setattr(settings, "BUCKET", "")
    with pytest.raises(FileStoreSpecificationError, match="set BUCKET or pass"):
        S3Store().get_url(STORE_PATH, "v1", 60)


def test_the_bucket_setting_is_read_when_the_store_is_used(monkeypatch):
    store = S3Store()
    monkeypatch.setattr(settings, "BUCKET", "later-bucket")
    assert store.bucket == "later-bucket"
    assert S3Store("given-bucket").bucket == "given-bucket"


def test_an_unusable_endpoint_is_a_specification_error(local_endpoint, monkeypatch):
    monkeypatch.setattr(settings, "S3_ENDPOINT_URL", "not a url")
    with pytest.raises(
        FileStoreSpecificationError, match="S3_ENDPOINT_URL='not a url'"
    ):
        S3Store().get_url(STORE_PATH, "v1", 60)


@pytest.mark.parametrize(
    "path", ["../etc/passwd", "/lsc/fa04/x.fits", "lsc//x.fits", "lsc/./x.fits"]
)
def test_an_unsafe_store_path_is_refused(local_endpoint, path):
    with pytest.raises(FileStoreSpecificationError, match="not a safe relative path"):
        S3Store().get_url(path, "v1", 60)


# URLs


def test_a_url_names_the_version_and_its_lifetime(local_endpoint):
    url = S3Store().get_url(STORE_PATH, "3HL4kqtJlcpXroDTDmJ", 600)
    assert url.startswith(f"http://127.0.0.1:9/test-bucket/{STORE_PATH}?")
    assert "versionId=3HL4kqtJlcpXroDTDmJ" in url
    assert "X-Amz-Expires=600" in url


@pytest.mark.parametrize("version_id", ["", None])
def test_a_url_without_version_id_serves_the_latest(local_endpoint, version_id):
    url = S3Store().get_url(STORE_PATH, version_id, 60)
    assert "versionId" not in url
    assert url.startswith(f"http://127.0.0.1:9/test-bucket/{STORE_PATH}?")


def test_virtual_addressing_puts_the_bucket_in_the_host(local_endpoint, monkeypatch):
    monkeypatch.setattr(settings, "S3_ADDRESSING_STYLE", "virtual")
    monkeypatch.setattr(settings, "S3_ENDPOINT_URL", "http://localhost:9")
    url = S3Store().get_url(STORE_PATH, "v1", 60)
    assert url.startswith(f"http://test-bucket.localhost:9/{STORE_PATH}?")


def test_today_is_not_infrequent_access():
    assert S3Store().get_storage_class(date.today()) == "STANDARD"


# Payload signing: over HTTPS the checksum the server verifies is enough, as TLS
# protects the body; over HTTP the body is SHA-256 signed.


class EmptyBody:
    """The raw body of a caught response: nothing."""

    def stream(self, **kwargs):
        yield b""


def sent_content_sha256(store: S3Store) -> list[str]:
    """The x-amz-content-sha256 of each UploadPart, caught before it is sent."""
    from botocore.awsrequest import AWSResponse

    sent: list[str] = []

    def catch(request, **kwargs):
        value = request.headers["X-Amz-Content-SHA256"]
        sent.append(value.decode() if isinstance(value, bytes) else value)
        return AWSResponse(request.url, 200, {"ETag": '"e"'}, EmptyBody())

    store.get_s3_client().meta.events.register("before-send.s3.UploadPart", catch)
    return sent


@pytest.mark.parametrize(
    ("endpoint", "signed"),
    [("http://127.0.0.1:9", True), ("https://127.0.0.1:9", False), ("", False)],
    ids=["http", "https", "AWS default"],
)
def test_part_bodies_are_sha256_signed_only_without_tls(
    local_endpoint, monkeypatch, endpoint, signed
):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    monkeypatch.setattr(settings, "S3_ENDPOINT_URL", endpoint)
    store = S3Store()
    sent = sent_content_sha256(store)
    body = b"part bytes"

    store.get_s3_client().upload_part(
        Bucket="test-bucket",
        Key=STORE_PATH,
        UploadId="upload",
        PartNumber=1,
        Body=body,
        ChecksumCRC32="AAAAAA==",
    )

    expected = hashlib.sha256(body).hexdigest() if signed else "UNSIGNED-PAYLOAD"
    assert sent == [expected]


def test_an_http_endpoint_from_the_environment_gets_signed_bodies(
    local_endpoint, monkeypatch
):
    monkeypatch.setattr(settings, "S3_ENDPOINT_URL", "")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9")
    monkeypatch.delenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", raising=False)
    store = S3Store()
    assert store.get_s3_client().meta.endpoint_url == "http://127.0.0.1:9"
    sent = sent_content_sha256(store)

    store.get_s3_client().upload_part(
        Bucket="test-bucket",
        Key=STORE_PATH,
        UploadId="upload",
        PartNumber=1,
        Body=b"part bytes",
        ChecksumCRC32="AAAAAA==",
    )

    assert sent == [hashlib.sha256(b"part bytes").hexdigest()]
