"""The s3 store against a real S3 server (SeaweedFS on 127.0.0.1)."""

from __future__ import annotations

import base64
import hashlib
import logging
import socket
import time
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from testframes import REAL_PDF_METADATA

from ocs_archive.input import file as file_module
from ocs_archive.settings import settings
from ocs_archive.storage.filestore import (
    FileStoreConnectionError,
    FileStoreSpecificationError,
)
from ocs_archive.storage.s3store import S3Store

pytestmark = pytest.mark.s3

MIB = 1024 * 1024


def md5_of(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def md5_bytes(path: Path) -> bytes:
    return hashlib.md5(path.read_bytes()).digest()


def read_stored(store: S3Store, path: str, version_id: str | None = None) -> bytes:
    with store.get_fileobj(path, version_id) as stored:
        assert stored is not None, f"nothing stored at {path} version {version_id}"
        return stored.read()


def download(url: str) -> bytes:
    with requests.Session() as session:
        session.trust_env = False  # no proxy: the URL is on loopback
        response = session.get(url, timeout=30)
    response.raise_for_status()
    return response.content


@pytest.fixture
def small_multipart(monkeypatch: pytest.MonkeyPatch) -> None:
    """Parts of S3's minimum size, so that multipart tests stay small and fast."""
    monkeypatch.setattr(settings, "S3_MULTIPART_THRESHOLD", 5 * MIB, raising=False)
    monkeypatch.setattr(settings, "S3_MULTIPART_PART_SIZE", 5 * MIB, raising=False)
    monkeypatch.setattr(settings, "S3_MULTIPART_CONCURRENCY", 2, raising=False)


# Storing and reading back


def test_a_stored_frame_reads_back_byte_for_byte(
    s3_setup, open_data_file, make_test_frame
):
    frame = make_test_frame()
    data_file = open_data_file(frame)
    path = data_file.get_filestore_path()

    version = S3Store().store_file(data_file)

    assert version["md5"] == md5_of(frame) == data_file.open_file.get_md5()
    assert version["extension"] == ".fits"
    assert [v["VersionId"] for v in s3_setup.versions()] == [version["key"]]
    store = S3Store()
    assert read_stored(store, path, version["key"]) == frame.read_bytes()
    assert read_stored(store, path) == frame.read_bytes()
    assert store.get_file_size(path, version["key"]) == frame.stat().st_size
    assert store.get_file_size(path) == frame.stat().st_size


def test_a_stored_frame_is_named_typed_and_at_its_store_path(
    s3_setup, open_data_file, make_test_frame
):
    frame = make_test_frame("lsc1m009-fa04-20240305-0101-e00.fits")
    version = S3Store().store_file(open_data_file(frame))

    head = s3_setup.admin.head_object(
        Bucket=s3_setup.bucket,
        Key="lsc/fa04/20240305/raw/lsc1m009-fa04-20240305-0101-e00.fits",
        VersionId=version["key"],
    )
    assert head["ContentDisposition"] == (
        "attachment; filename=lsc1m009-fa04-20240305-0101-e00.fits"
    )
    assert head["ContentType"] == "image/fits"
    # A single PUT: the ETag is the md5 the server computed.
    assert head["ETag"] == f'"{version["md5"]}"'


def test_a_file_without_content_type_is_stored_without_one(
    s3_setup, open_data_file, make_bytes_file, pdf_metadata
):
    pdf = make_bytes_file("cptnrs03-fa13-20150219-0001-e92-summary.pdf", 999)
    version = S3Store().store_file(open_data_file(pdf, pdf_metadata))

    head = s3_setup.admin.head_object(
        Bucket=s3_setup.bucket,
        Key="cpt/nres03/20150219/processed/cptnrs03-fa13-20150219-0001-e92-summary.pdf",
        VersionId=version["key"],
    )
    # The server's default, not one the store sent.
    assert head["ContentType"] in (
        "",
        "binary/octet-stream",
        "application/octet-stream",
    )
    assert head["ContentDisposition"] == (
        "attachment; filename=cptnrs03-fa13-20150219-0001-e92-summary.pdf"
    )


def test_a_name_outside_ascii_gets_an_rfc_6266_disposition(
    s3_setup, open_data_file, make_bytes_file, pdf_metadata
):
    pdf = make_bytes_file("café-résumé.pdf", 100)
    version = S3Store().store_file(open_data_file(pdf, pdf_metadata))

    head = s3_setup.admin.head_object(
        Bucket=s3_setup.bucket,
        Key="cpt/nres03/20150219/processed/café-résumé.pdf",
        VersionId=version["key"],
    )
    assert head["ContentDisposition"] == (
        'attachment; filename="caf?-r?sum?.pdf"; '
        "filename*=UTF-8''caf%C3%A9-r%C3%A9sum%C3%A9.pdf"
    )


def test_the_md5_computed_while_storing_is_reused(
    s3_setup, open_data_file, make_test_frame, monkeypatch
):
    data_file = open_data_file(make_test_frame())
    version = S3Store().store_file(data_file)

    def no_second_read(*args, **kwargs):
        raise AssertionError("the file was hashed again")

    monkeypatch.setattr(file_module, "md5_of_stream", no_second_read)
    assert data_file.open_file.get_md5() == version["md5"]


def test_storing_logs_the_version_and_no_secret(
    s3_setup, open_data_file, make_test_frame, caplog
):
    frame = make_test_frame()
    data_file = open_data_file(frame)
    with caplog.at_level(logging.INFO, logger="ocs_archive.storage.s3store"):
        version = S3Store().store_file(data_file)

    stored = [r.getMessage() for r in caplog.records if "stored" in r.getMessage()]
    assert len(stored) == 1
    assert stored[0].startswith(
        f"stored s3://{s3_setup.bucket}/{data_file.get_filestore_path()} version "
        f"{version['key']} ({frame.stat().st_size} bytes, md5 {version['md5']}"
    )
    assert s3_setup.server.secret_key not in caplog.text


def test_a_missing_object_is_none_and_has_no_size(s3_setup):
    store = S3Store()
    with store.get_fileobj("lsc/fa04/20240305/raw/nothing.fits") as stored:
        assert stored is None
    with pytest.raises(FileNotFoundError, match="nothing is stored at s3://"):
        store.get_file_size("lsc/fa04/20240305/raw/nothing.fits")
    # Deleting what is not there is fine, as on the local store.
    store.delete_file("lsc/fa04/20240305/raw/nothing.fits", "")


def test_a_stored_object_streams_and_offers_getvalue(
    s3_setup, open_data_file, make_test_frame
):
    frame = make_test_frame(data_bytes=100_000)
    data_file = open_data_file(frame)
    path = data_file.get_filestore_path()
    version = S3Store().store_file(data_file)
    store = S3Store()

    with store.get_fileobj(path, version["key"]) as stored:
        assert stored.getvalue() == frame.read_bytes()

    with store.get_fileobj(path, version["key"]) as stored:
        first = stored.read(2880)
        assert first == frame.read_bytes()[:2880]
        assert stored.tell() == 2880
        with pytest.raises(OSError, match="after 2880 bytes were read"):
            stored.getvalue()
        rest = bytearray(frame.stat().st_size)
        count = stored.readinto(rest)
        assert first + bytes(rest[:count]) == frame.read_bytes()
    assert stored.closed


# Versions


@pytest.fixture
def two_versions(s3_setup, open_data_file, make_test_frame):
    """Two versions of one frame at one store path: (path, [(version, bytes)])."""
    frame = make_test_frame(OBJECT="first")
    first_bytes = frame.read_bytes()
    first = S3Store().store_file(open_data_file(frame))
    make_test_frame(OBJECT="second")
    second_bytes = frame.read_bytes()
    data_file = open_data_file(frame)
    second = S3Store().store_file(data_file)
    assert first_bytes != second_bytes
    return data_file.get_filestore_path(), [
        (first, first_bytes),
        (second, second_bytes),
    ]


def test_a_presigned_url_downloads_its_version(two_versions):
    path, [(first, first_bytes), (second, second_bytes)] = two_versions
    store = S3Store()

    assert download(store.get_url(path, first["key"], 60)) == first_bytes
    assert download(store.get_url(path, second["key"], 60)) == second_bytes
    # An empty version id means the latest.
    assert download(store.get_url(path, "", 60)) == second_bytes


def test_a_presigned_url_expires(two_versions):
    path, [(first, _), _] = two_versions
    url = S3Store().get_url(path, first["key"], 1)
    time.sleep(2.5)
    with pytest.raises(requests.HTTPError, match="403"):
        download(url)


def test_deleting_one_version_keeps_the_other(two_versions, s3_setup):
    path, [(first, first_bytes), (second, second_bytes)] = two_versions
    store = S3Store()

    store.delete_file(path, first["key"])

    with store.get_fileobj(path, first["key"]) as stored:
        assert stored is None
    assert read_stored(store, path, second["key"]) == second_bytes
    assert read_stored(store, path) == second_bytes
    assert [v["VersionId"] for v in s3_setup.versions()] == [second["key"]]


def test_deleting_the_latest_version_brings_back_the_one_before(two_versions):
    path, [(first, first_bytes), _] = two_versions
    store = S3Store()

    store.delete_file(path, "")

    assert read_stored(store, path) == first_bytes
    assert store.get_file_size(path) == len(first_bytes)


# Multipart uploads


@pytest.mark.parametrize(
    ("size", "method"),
    [
        (5 * MIB - 1, "single PUT"),
        (5 * MIB, "1 part"),
        (10 * MIB, "2 parts"),
        (12 * MIB + 12345, "3 parts"),
    ],
)
def test_frames_around_the_multipart_threshold_store_whole(
    s3_setup,
    open_data_file,
    make_bytes_file,
    pdf_metadata,
    small_multipart,
    caplog,
    size,
    method,
):
    pdf = make_bytes_file("cptnrs03-fa13-20150219-0001-e92-big.pdf", size)
    data_file = open_data_file(pdf, pdf_metadata)
    path = data_file.get_filestore_path()

    with caplog.at_level(logging.INFO, logger="ocs_archive.storage.s3store"):
        version = S3Store().store_file(data_file)

    assert version["md5"] == md5_of(pdf)
    assert f"{size} bytes, md5 {version['md5']}, {method})" in caplog.text
    stored = S3Store()
    assert stored.get_file_size(path, version["key"]) == size
    assert (
        hashlib.md5(read_stored(stored, path, version["key"])).hexdigest()
        == (version["md5"])
    )
    assert s3_setup.unfinished_uploads() == []


def test_a_multipart_frame_gets_the_true_md5_not_the_etag(
    s3_setup, open_data_file, make_test_frame, small_multipart
):
    frame = make_test_frame(data_bytes=12 * MIB, seed=7)
    data_file = open_data_file(frame)
    version = S3Store().store_file(data_file)

    head = s3_setup.admin.head_object(
        Bucket=s3_setup.bucket,
        Key=data_file.get_filestore_path(),
        VersionId=version["key"],
    )
    assert head["ETag"].endswith('-3"')
    assert version["md5"] == md5_of(frame) == data_file.open_file.get_md5()
    assert head["ContentDisposition"] == f"attachment; filename={frame.name}"
    assert head["ContentType"] == "image/fits"


# Integrity: bytes changed after the store hashed them, as on a faulty network.
# The change is made before botocore signs the request, so that only the
# Content-MD5 the store computed can reveal it.


def corrupt_before_signing(store: S3Store, operation: str, part: int | None = None):
    def corrupt(request, **kwargs):
        if part is not None and f"partNumber={part}" not in request.url:
            return
        original = request.body
        if hasattr(original, "read"):  # botocore wraps a bytes body in a BytesIO
            original = original.read()
        body = bytearray(original)
        body[len(body) // 2] ^= 0xFF
        request.data = bytes(body)

    store.get_s3_client().meta.events.register(f"before-sign.s3.{operation}", corrupt)


def test_a_corrupted_single_put_is_refused(s3_setup, open_data_file, make_test_frame):
    store = S3Store()
    corrupt_before_signing(store, "PutObject")

    with pytest.raises(FileStoreConnectionError, match="BadDigest"):
        store.store_file(open_data_file(make_test_frame()))
    assert s3_setup.versions() == []


def test_a_corrupted_part_is_refused_and_the_upload_aborted(
    s3_setup, open_data_file, make_test_frame, small_multipart
):
    store = S3Store()
    corrupt_before_signing(store, "UploadPart", part=2)

    with pytest.raises(FileStoreConnectionError, match="BadDigest"):
        store.store_file(open_data_file(make_test_frame(data_bytes=12 * MIB)))
    assert s3_setup.unfinished_uploads() == []
    assert s3_setup.versions() == []


def record_checksum_headers(store: S3Store, operation: str) -> list[dict[str, str]]:
    """The checksum headers of every ``operation`` request the store signs."""
    seen: list[dict[str, str]] = []

    def record(request, **kwargs):
        headers = {name.lower(): value for name, value in request.headers.items()}
        seen.append(
            {
                name: headers[name]
                for name in ("content-md5", "x-amz-checksum-crc32")
                if name in headers
            }
        )

    store.get_s3_client().meta.events.register(f"before-sign.s3.{operation}", record)
    return seen


def test_parts_carry_a_crc32_and_a_single_put_its_md5(
    s3_setup, open_data_file, make_test_frame, small_multipart
):
    store = S3Store()
    puts = record_checksum_headers(store, "PutObject")
    parts = record_checksum_headers(store, "UploadPart")
    small = make_test_frame()
    large = make_test_frame("lsc1m009-fa04-20240305-0102-e00.fits", data_bytes=12 * MIB)

    store.store_file(open_data_file(small))
    version = store.store_file(open_data_file(large))

    assert puts == [{"content-md5": base64.b64encode(md5_bytes(small)).decode()}]
    body = large.read_bytes()
    expected = [
        base64.b64encode(zlib.crc32(body[at : at + 5 * MIB]).to_bytes(4, "big"))
        for at in range(0, len(body), 5 * MIB)
    ]
    assert len(expected) == 3
    assert sorted(part["x-amz-checksum-crc32"] for part in parts) == sorted(
        value.decode() for value in expected
    )
    assert all("content-md5" not in part for part in parts)
    assert version["md5"] == md5_of(large)


def refuse_checksums_on_create(store: S3Store) -> list[str]:
    """Answer CreateMultipartUpload with InvalidArgument when a checksum is asked,
    as S3-compatible servers without S3 checksums do (SeaweedFS has them)."""
    from botocore.awsrequest import AWSResponse

    refused: list[str] = []

    def refuse(params, **kwargs):
        if "x-amz-checksum-algorithm" not in params["headers"]:
            return None
        refused.append(params["url"])
        refusal = {
            "Error": {"Code": "InvalidArgument", "Message": "checksums unsupported"},
            "ResponseMetadata": {"HTTPStatusCode": 400},
        }
        return AWSResponse(params["url"], 400, {}, None), refusal

    store.get_s3_client().meta.events.register(
        "before-call.s3.CreateMultipartUpload", refuse
    )
    return refused


def test_a_server_without_s3_checksums_gets_content_md5_on_its_parts(
    s3_setup, open_data_file, make_test_frame, small_multipart, caplog
):
    store = S3Store()
    refused = refuse_checksums_on_create(store)
    parts = record_checksum_headers(store, "UploadPart")
    frame = make_test_frame(data_bytes=12 * MIB)

    with caplog.at_level(logging.WARNING, logger="ocs_archive.storage.s3store"):
        first = store.store_file(open_data_file(frame))
        second = store.store_file(open_data_file(frame))

    assert len(refused) == 1  # remembered after the first refusal
    assert "refuses multipart uploads with a CRC32 checksum" in caplog.text
    assert len(parts) == 6
    assert all(set(part) == {"content-md5"} for part in parts)
    for version in (first, second):
        assert version["md5"] == md5_of(frame)
        assert (
            read_stored(
                store, open_data_file(frame).get_filestore_path(), version["key"]
            )
            == frame.read_bytes()
        )


# Versioning


@pytest.mark.parametrize("size", [1000, 12 * MIB], ids=["single PUT", "multipart"])
def test_an_unversioned_bucket_is_refused_before_anything_is_written(
    s3_setup,
    open_data_file,
    make_bytes_file,
    pdf_metadata,
    small_multipart,
    monkeypatch,
    size,
):
    bucket = s3_setup.server.create_bucket(versioning=None)
    monkeypatch.setattr(settings, "BUCKET", bucket)
    pdf = make_bytes_file("cptnrs03-fa13-20150219-0001-e92-summary.pdf", size)

    with pytest.raises(FileStoreSpecificationError, match="versioning must be enabled"):
        S3Store().store_file(open_data_file(pdf, pdf_metadata))
    assert s3_setup.admin.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
    assert s3_setup.admin.list_multipart_uploads(Bucket=bucket).get("Uploads") is None


def test_a_bucket_given_to_the_store_wins_over_the_setting(
    s3_setup, open_data_file, make_test_frame
):
    other = s3_setup.server.create_bucket()
    version = S3Store(bucket=other).store_file(open_data_file(make_test_frame()))

    listing = s3_setup.admin.list_object_versions(Bucket=other)["Versions"]
    assert [v["VersionId"] for v in listing] == [version["key"]]
    assert s3_setup.versions() == []


def test_versioning_suspended_after_the_check_is_refused_and_cleaned_up(
    s3_setup, open_data_file, make_test_frame
):
    frame = make_test_frame()
    first = S3Store().store_file(open_data_file(frame))
    s3_setup.admin.put_bucket_versioning(
        Bucket=s3_setup.bucket, VersioningConfiguration={"Status": "Suspended"}
    )

    with pytest.raises(FileStoreSpecificationError, match="got no version id"):
        S3Store().store_file(open_data_file(frame))
    assert [v["VersionId"] for v in s3_setup.versions()] == [first["key"]]
    # No delete marker hides the frame stored before: it is still the latest.
    markers = s3_setup.admin.list_object_versions(Bucket=s3_setup.bucket)
    assert markers.get("DeleteMarkers", []) == []
    path = open_data_file(frame).get_filestore_path()
    assert read_stored(S3Store(), path) == frame.read_bytes()


def test_a_missing_bucket_is_not_mistaken_for_a_missing_object(s3_setup):
    store = S3Store(bucket="no-such-bucket-here")
    path = "lsc/fa04/20240305/raw/x-e00.fits"
    with pytest.raises(FileStoreSpecificationError, match="NoSuchBucket"):
        store.get_file_size(path)
    with pytest.raises(FileStoreSpecificationError, match="NoSuchBucket"):
        store.delete_file(path, "")


class _ShortReads:
    """A file that ends early: a fault no real server or disk can be made to give."""

    def __init__(self, fileobj, stop_after: int):
        self._fileobj = fileobj
        self._stop_after = stop_after
        self.name = fileobj.name

    def seek(self, offset, whence=0):
        return self._fileobj.seek(offset, whence)

    def tell(self):
        return self._fileobj.tell()

    def read(self, size=-1):
        room = max(self._stop_after - self._fileobj.tell(), 0)
        size = room if size is None or size < 0 else min(size, room)
        return self._fileobj.read(size)


@pytest.mark.parametrize("stop_after", [5000, 6 * MIB])
def test_a_source_that_ends_early_leaves_nothing_stored(
    s3_setup, make_bytes_file, small_multipart, stop_after
):
    from ocs_archive.input.file import File
    from ocs_archive.input.filefactory import FileFactory

    frame = make_bytes_file("lsc1m009-fa04-20240305-0101-e92-summary.pdf", 12 * MIB)
    metadata = {**REAL_PDF_METADATA, "SITEID": "lsc", "INSTRUME": "fa04"}
    with open(frame, "rb") as fileobj:
        open_file = File(_ShortReads(fileobj, stop_after), str(frame))
        datafile_class = FileFactory.get_datafile_class_for_extension(".pdf")
        data_file = datafile_class(open_file, metadata)
        with pytest.raises(FileStoreConnectionError, match="read .* of the .* bytes"):
            S3Store().store_file(data_file)
    assert s3_setup.versions() == []
    assert s3_setup.unfinished_uploads() == []


@pytest.mark.parametrize("seconds", [0, 0.5, -5, 7 * 24 * 3600 + 1])
def test_a_url_valid_for_an_impossible_time_is_refused(s3_setup, seconds):
    with pytest.raises(FileStoreSpecificationError, match="from 1 to 604800 seconds"):
        S3Store().get_url("lsc/fa04/20240305/raw/x-e00.fits", "", seconds)


# Misconfiguration and failures


def test_a_wrong_secret_key_is_a_specification_error(
    s3_setup, open_data_file, make_test_frame, monkeypatch
):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    data_file = open_data_file(make_test_frame())

    with pytest.raises(FileStoreSpecificationError, match="SignatureDoesNotMatch"):
        S3Store().store_file(data_file)
    with pytest.raises(FileStoreSpecificationError, match="check the credentials"):
        S3Store().get_file_size(data_file.get_filestore_path())


def test_an_unknown_access_key_is_a_specification_error(
    s3_setup, open_data_file, make_test_frame, monkeypatch
):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "nobody")

    with pytest.raises(FileStoreSpecificationError, match="InvalidAccessKeyId"):
        S3Store().store_file(open_data_file(make_test_frame()))


def test_a_missing_bucket_is_a_specification_error(
    s3_setup, open_data_file, make_test_frame
):
    with pytest.raises(
        FileStoreSpecificationError, match="NoSuchBucket.*correct BUCKET"
    ):
        S3Store(bucket="no-such-bucket-here").store_file(
            open_data_file(make_test_frame())
        )


# Storage classes


@pytest.mark.parametrize(
    ("date_obs", "days_to_ia", "storage_class"),
    [
        ("2024-03-05T01:02:03.456Z", 60, "STANDARD_IA"),
        ("2024-03-05T01:02:03.456", 60, "STANDARD_IA"),
        ("2024-03-05T01:02:03.456Z", 1_000_000, "STANDARD"),
        ("recent", 60, "STANDARD"),
    ],
)
def test_the_storage_class_follows_the_age_of_the_frame(
    s3_setup,
    open_data_file,
    make_test_frame,
    monkeypatch,
    date_obs,
    days_to_ia,
    storage_class,
):
    if date_obs == "recent":
        date_obs = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    monkeypatch.setattr(settings, "S3_DAYS_TO_IA_STORAGE", days_to_ia)
    frame = make_test_frame(**{"DATE-OBS": date_obs})
    data_file = open_data_file(frame)

    version = S3Store().store_file(data_file)

    head = s3_setup.admin.head_object(
        Bucket=s3_setup.bucket,
        Key=data_file.get_filestore_path(),
        VersionId=version["key"],
    )
    assert head["StorageClass"] == storage_class
    assert read_stored(S3Store(), data_file.get_filestore_path()) == frame.read_bytes()


def refuse_storage_class_on_create(store: S3Store) -> None:
    """Answer CreateMultipartUpload with InvalidStorageClass when a class is asked.

    SeaweedFS 4.48 checks the storage class of a PUT but takes any class on
    CreateMultipartUpload, so this one refusal has to be played.
    """
    from botocore.awsrequest import AWSResponse

    def refuse(params, **kwargs):
        if "x-amz-storage-class" not in params["headers"]:
            return None
        refusal = {
            "Error": {
                "Code": "InvalidStorageClass",
                "Message": "The storage class you specified is not valid",
            },
            "ResponseMetadata": {"HTTPStatusCode": 400},
        }
        return AWSResponse(params["url"], 400, {}, None), refusal

    store.get_s3_client().meta.events.register(
        "before-call.s3.CreateMultipartUpload", refuse
    )


@pytest.mark.parametrize(
    ("size", "storage_class"),
    [(1000, "EXPRESS_ONEZONE"), (12 * MIB, "STANDARD_IA")],
    ids=["single PUT", "multipart"],
)
def test_a_storage_class_the_server_refuses_falls_back_to_its_default(
    s3_setup,
    open_data_file,
    make_bytes_file,
    pdf_metadata,
    small_multipart,
    monkeypatch,
    caplog,
    size,
    storage_class,
):
    # SeaweedFS refuses EXPRESS_ONEZONE on a PUT, as a server without
    # infrequent-access storage refuses STANDARD_IA.
    monkeypatch.setattr(S3Store, "get_storage_class", lambda self, date: storage_class)
    pdf = make_bytes_file("cptnrs03-fa13-20150219-0001-e92-summary.pdf", size)
    store = S3Store()
    refuse_storage_class_on_create(store)

    with caplog.at_level(logging.WARNING, logger="ocs_archive.storage.s3store"):
        first = store.store_file(open_data_file(pdf, pdf_metadata))
        second = store.store_file(open_data_file(pdf, pdf_metadata))

    for version in (first, second):
        head = s3_setup.admin.head_object(
            Bucket=s3_setup.bucket,
            Key="cpt/nres03/20150219/processed/"
            "cptnrs03-fa13-20150219-0001-e92-summary.pdf",
            VersionId=version["key"],
        )
        # S3 leaves the header out for the default class.
        assert head.get("StorageClass", "STANDARD") == "STANDARD"
        assert version["md5"] == md5_of(pdf)
    warnings = [r for r in caplog.records if "refuses storage class" in r.message]
    assert len(warnings) == 1  # remembered after the first refusal
    assert warnings[0].levelno == logging.WARNING
    assert storage_class in warnings[0].getMessage()


# Addressing styles. Virtual addressing needs <bucket>.localhost to resolve to
# loopback, which the system resolver does not do: the tests resolve it themselves,
# and refuse every other name so that nothing is looked up elsewhere.


@pytest.fixture
def loopback_resolver(monkeypatch):
    real_getaddrinfo = socket.getaddrinfo
    asked: list[str] = []

    def getaddrinfo(host, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else str(host)
        asked.append(name)
        if name == "localhost" or name.endswith(".localhost"):
            return real_getaddrinfo("127.0.0.1", *args, **kwargs)
        if name == "127.0.0.1":
            return real_getaddrinfo(name, *args, **kwargs)
        raise socket.gaierror(socket.EAI_NONAME, f"the tests resolve no {name!r}")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


@pytest.mark.parametrize("style", ["path", "auto", "virtual"])
def test_each_addressing_style_stores_and_serves(
    s3_setup, open_data_file, make_test_frame, monkeypatch, loopback_resolver, style
):
    monkeypatch.setattr(settings, "S3_ADDRESSING_STYLE", style)
    monkeypatch.setattr(
        settings, "S3_ENDPOINT_URL", f"http://localhost:{s3_setup.server.port}"
    )
    frame = make_test_frame()
    data_file = open_data_file(frame)
    path = data_file.get_filestore_path()

    version = S3Store().store_file(data_file)
    url = S3Store().get_url(path, version["key"], 60)

    assert read_stored(S3Store(), path, version["key"]) == frame.read_bytes()
    assert download(url) == frame.read_bytes()
    virtual_host = f"{s3_setup.bucket}.localhost"
    if style == "virtual":
        assert url.startswith(f"http://{virtual_host}:{s3_setup.server.port}/lsc/")
        assert virtual_host in loopback_resolver
    else:
        assert url.startswith(f"http://localhost:{s3_setup.server.port}/test-")
        assert virtual_host not in loopback_resolver


def test_virtual_addressing_on_an_ip_endpoint_falls_back_to_paths(
    s3_setup, open_data_file, make_test_frame, monkeypatch, loopback_resolver
):
    monkeypatch.setattr(settings, "S3_ADDRESSING_STYLE", "virtual")
    frame = make_test_frame()
    data_file = open_data_file(frame)

    version = S3Store().store_file(data_file)
    url = S3Store().get_url(data_file.get_filestore_path(), version["key"], 60)

    assert url.startswith(f"{s3_setup.server.endpoint_url}/{s3_setup.bucket}/lsc/")
    assert download(url) == frame.read_bytes()
    assert all(name == "127.0.0.1" for name in loopback_resolver)
