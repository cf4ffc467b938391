"""Frames ingested by the real ocs-ingester into S3 and a fake archive API.

The ingester (the ``ingester`` extra) uploads with this library's s3 store to the
SeaweedFS server the tests start, and posts the frame's record to a fake archive on
127.0.0.1. The science archive's side follows: finding a stored version again from
the record alone, then serving, measuring and deleting it.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
import requests

from ocs_archive.input.file import EmptyFile, File
from ocs_archive.input.filefactory import FileFactory
from ocs_archive.storage.filestorefactory import FileStoreFactory
from ocs_archive.storage.s3store import S3Store

ingester = pytest.importorskip(
    "ocs_ingester.ingester",
    reason="ocs-ingester is not installed: pip install the project's 'ingester' extra",
)
ingester_errors = pytest.importorskip("ocs_ingester.exceptions")

pytestmark = [pytest.mark.ingester, pytest.mark.s3]

DATA = Path(
    os.environ.get("OCS_ARCHIVE_TEST_DATA")
    or Path(__file__).resolve().parents[3] / "shared" / "data" / "lco"
)
FRAME_ENDINGS = (".fits", ".fits.fz", ".tar.gz", ".pdf")


def real_frames() -> list:
    if not DATA.is_dir():
        reason = f"the real data folder {DATA} is absent (set OCS_ARCHIVE_TEST_DATA)"
        return [pytest.param(None, marks=pytest.mark.skip(reason=reason), id="none")]
    frames = sorted(p for p in DATA.iterdir() if p.name.endswith(FRAME_ENDINGS))
    return [pytest.param(frame, id=frame.name) for frame in frames]


def as_json(value):
    """What a value looks like once it went through the archive's JSON API."""
    return json.loads(json.dumps(value))


def record_built_by_the_library(path: Path, metadata: dict) -> tuple[dict, str, str]:
    """The record SPEC section 8 builds for the file (as JSON gives it back), its
    store path and its extension; no store is involved."""
    with open(path, "rb") as fileobj:
        open_file = File(fileobj, str(path))
        data_file = FileFactory.get_datafile_class_for_extension(open_file.extension)(
            open_file, dict(metadata)
        )
        header_data = data_file.get_header_data()
        record = header_data.get_archive_frame_data()
        record["headers"] = header_data.get_headers()
        record["area"] = data_file.get_wcs_corners()
        record["basename"] = open_file.basename
        return as_json(record), data_file.get_filestore_path(), open_file.extension


def ingest(path: Path, metadata: dict, archive) -> dict:
    with open(path, "rb") as fileobj:
        return ingester.upload_file_and_ingest_to_archive(
            fileobj,
            path=str(path),
            file_metadata=dict(metadata) if metadata else None,
            api_root=archive.root,
            auth_token=archive.token,
        )


def download(url: str) -> bytes:
    with requests.Session() as session:
        session.trust_env = False  # no proxy: the URL is on loopback
        response = session.get(url, timeout=30)
    response.raise_for_status()
    return response.content


def one_real_frame_of_each_kind() -> list:
    kinds: dict[str, object] = {}
    for param in real_frames():
        path = param.values[0]
        kind = "none" if path is None else File.get_basename_and_extension(path)[1]
        kinds.setdefault(kind, param)
    return list(kinds.values())


def frame_to_ingest(request, make_test_frame, pdf_metadata) -> tuple[Path, dict]:
    """A frame to ingest and the metadata sent with it: one made here, real ones."""
    if request.param == "made":
        return make_test_frame("lsc1m009-fa04-20240305-0102-e91.fits", RLEVEL=91), {}
    path = request.param
    return path, (pdf_metadata if path.suffix == ".pdf" else {})


# Every real frame goes through the ingester once; the duplicate and the archive's
# side are checked on one frame of each kind.
frame = pytest.fixture(params=["made", *real_frames()])(frame_to_ingest)
some_frame = pytest.fixture(params=["made", *one_real_frame_of_each_kind()])(
    frame_to_ingest
)


def test_the_ingester_stores_the_frame_and_posts_its_record(
    s3_setup, fake_archive, frame
):
    path, metadata = frame
    expected_record, store_path, extension = record_built_by_the_library(path, metadata)
    md5 = hashlib.md5(path.read_bytes()).hexdigest()

    ingest(path, metadata, fake_archive)

    assert fake_archive.refused_requests == []
    [posted] = fake_archive.posted
    [version] = posted.pop("version_set")
    assert posted == expected_record
    assert version["md5"] == md5
    assert version["extension"] == extension
    stored = s3_setup.admin.get_object(
        Bucket=s3_setup.bucket, Key=store_path, VersionId=version["key"]
    )
    assert stored["Body"].read() == path.read_bytes()
    assert [v["VersionId"] for v in s3_setup.versions()] == [version["key"]]


def test_the_same_frame_again_is_refused_as_a_duplicate(
    s3_setup, fake_archive, some_frame
):
    path, metadata = some_frame
    ingest(path, metadata, fake_archive)

    with pytest.raises(ingester_errors.NonFatalDoNotRetryError, match="already exists"):
        ingest(path, metadata, fake_archive)
    assert len(fake_archive.posted) == 1
    assert len(s3_setup.versions()) == 1


def test_the_archive_finds_serves_and_deletes_a_stored_version(
    s3_setup, fake_archive, some_frame
):
    path, metadata = some_frame
    ingest(path, metadata, fake_archive)
    [record] = fake_archive.posted
    [version] = record["version_set"]
    filename = f"{record['basename']}{version['extension']}"

    # As the science archive does: the store path from the database fields alone.
    empty_file = EmptyFile(filename)
    store_path = FileFactory.get_datafile_class_for_extension(empty_file.extension)(
        empty_file, record["headers"], {}, {}
    ).get_filestore_path()
    store = FileStoreFactory.get_file_store_class()()

    assert isinstance(store, S3Store)
    assert download(store.get_url(store_path, version["key"], 3600)) == (
        path.read_bytes()
    )
    assert store.get_file_size(store_path, version["key"]) == path.stat().st_size
    with store.get_fileobj(store_path) as stored:
        assert stored.getvalue() == path.read_bytes()

    store.delete_file(store_path, version["key"])

    with store.get_fileobj(store_path, version["key"]) as stored:
        assert stored is None
    assert s3_setup.versions() == []
