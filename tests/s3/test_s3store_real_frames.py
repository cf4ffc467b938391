"""Every real frame of the shared data folder, stored in S3 and read back."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from ocs_archive.settings import settings
from ocs_archive.storage.s3store import S3Store

pytestmark = pytest.mark.s3

DATA = Path(
    os.environ.get("OCS_ARCHIVE_TEST_DATA")
    or Path(__file__).resolve().parents[3] / "shared" / "data" / "lco"
)
REFERENCE = DATA / "reference-0.5.0-records.json"
FRAME_ENDINGS = (".fits", ".fits.fz", ".tar.gz", ".pdf", ".jpg", ".jpeg")


def real_frames() -> list:
    if not DATA.is_dir():
        reason = f"the real data folder {DATA} is absent (set OCS_ARCHIVE_TEST_DATA)"
        return [pytest.param(None, marks=pytest.mark.skip(reason=reason), id="none")]
    frames = sorted(p for p in DATA.iterdir() if p.name.endswith(FRAME_ENDINGS))
    return [pytest.param(frame, id=frame.name) for frame in frames]


@pytest.fixture(scope="module")
def reference_by_name() -> dict:
    """What the reference implementation built for each frame, when shipped."""
    if not REFERENCE.is_file():
        return {}
    return json.loads(REFERENCE.read_text())


@pytest.mark.parametrize("upload", ["single PUT", "multipart"])
@pytest.mark.parametrize("frame", real_frames())
def test_a_real_frame_is_stored_and_read_back_intact(
    s3_setup,
    open_data_file,
    pdf_metadata,
    reference_by_name,
    monkeypatch,
    frame,
    upload,
):
    if upload == "multipart":
        # Every frame goes up in parts, however small.
        monkeypatch.setattr(settings, "S3_MULTIPART_THRESHOLD", 1, raising=False)
    metadata = pdf_metadata if frame.suffix == ".pdf" else {}
    data_file = open_data_file(frame, metadata)
    path = data_file.get_filestore_path()
    expected_md5 = hashlib.md5(frame.read_bytes()).hexdigest()

    version = S3Store().store_file(data_file)

    assert version["md5"] == expected_md5
    assert version["extension"] == data_file.open_file.extension
    store = S3Store()
    with store.get_fileobj(path, version["key"]) as stored:
        assert hashlib.md5(stored.read()).hexdigest() == expected_md5
    assert store.get_file_size(path, version["key"]) == frame.stat().st_size
    reference = reference_by_name.get(frame.name)
    if reference is not None:
        assert path == reference["filestore_path"]
        assert version["md5"] == reference["md5"]
