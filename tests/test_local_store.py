"""The dummy and local file stores, on real files under a temporary directory."""

from __future__ import annotations

import hashlib
import os
import re
import stat
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from testframes import REAL_PDF_METADATA, REQUIRED, real_data_dir

from ocs_archive.input.file import DataFile, FileSpecificationException
from ocs_archive.input.filefactory import FileFactory
from ocs_archive.input.fitsfile import FitsFile
from ocs_archive.storage.filestore import (
    FileStore,
    FileStoreConnectionError,
    FileStoreSpecificationError,
)
from ocs_archive.storage.filesystemstore import FileSystemStore

FRAME_NAME = "lsc1m009-fa04-20240305-0101-e00.fits"
# The frames the fixtures build carry the REQUIRED headers, so they are stored here.
FRAME_STORE_PATH = "/".join(
    (REQUIRED["SITEID"], REQUIRED["INSTRUME"], REQUIRED["DAY-OBS"], "raw", FRAME_NAME)
)


def md5_of(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def tree(folder: Path) -> set[str]:
    """Every file, directory and link under ``folder``, relative to it."""
    found = set()
    for directory, subdirectories, files in os.walk(folder):
        for name in (*subdirectories, *files):
            found.add(os.path.relpath(os.path.join(directory, name), folder))
    return found


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "store"
    folder.mkdir()
    return folder


@pytest.fixture
def store(root: Path) -> FileSystemStore:
    return FileSystemStore(root_dir=str(root))


@pytest.fixture
def frame_file(make_frame, open_frame):
    """A data file of a small FITS frame built for the test."""

    def build(name: str = FRAME_NAME, headers: dict[str, Any] | None = None):
        return FitsFile(open_frame(make_frame(name, headers)))

    return build


# The dummy store


def test_dummy_store_answers_with_the_md5_of_the_frame(make_frame, open_frame):
    path = make_frame()
    data_file = FitsFile(open_frame(path))

    version = FileStore().store_file(data_file)

    assert version == {"key": md5_of(path), "md5": md5_of(path), "extension": ".fits"}


def test_dummy_store_keeps_nothing():
    store = FileStore()

    with store.get_fileobj(FRAME_STORE_PATH) as stored:
        content = stored.read()

    assert content == b""
    assert store.get_url(FRAME_STORE_PATH, "key", 60) == ""
    assert store.get_file_size(FRAME_STORE_PATH) == 0


# Storing and reading back


def test_a_stored_frame_reads_back_byte_for_byte(store, root, frame_file):
    data_file = frame_file()
    source = Path(data_file.open_file.filename)

    version = store.store_file(data_file)

    assert (root / FRAME_STORE_PATH).read_bytes() == source.read_bytes()
    with store.get_fileobj(FRAME_STORE_PATH) as stored:
        assert stored.read() == source.read_bytes()
    assert version == {
        "key": md5_of(source),
        "md5": md5_of(source),
        "extension": ".fits",
    }


def test_store_creates_the_directories_of_the_store_path(store, root, frame_file):
    store.store_file(frame_file())

    assert (root / "lsc" / "fa04" / "20240304" / "raw").is_dir()
    assert tree(root) == {
        "lsc",
        "lsc/fa04",
        "lsc/fa04/20240304",
        "lsc/fa04/20240304/raw",
        FRAME_STORE_PATH,
    }


def test_storing_again_replaces_the_content(store, root, tmp_path, frame_file):
    store.store_file(frame_file())
    (tmp_path / "second").mkdir()
    second = frame_file(f"second/{FRAME_NAME}", {"OBJECT": "NGC 2903"})
    assert second.get_filestore_path() == FRAME_STORE_PATH

    version = store.store_file(second)

    new_bytes = Path(second.open_file.filename).read_bytes()
    assert (root / FRAME_STORE_PATH).read_bytes() == new_bytes
    assert version["md5"] == hashlib.md5(new_bytes).hexdigest()
    assert os.listdir(root / "lsc/fa04/20240304/raw") == [FRAME_NAME]


def test_stored_file_size(store, frame_file):
    data_file = frame_file()

    store.store_file(data_file)

    assert store.get_file_size(FRAME_STORE_PATH) == len(data_file.open_file)


def test_a_stored_frame_is_readable_by_everyone(store, root, frame_file):
    # A web server running as another user serves the files at get_url.
    store.store_file(frame_file())

    assert stat.S_IMODE((root / FRAME_STORE_PATH).stat().st_mode) == 0o644


def test_size_of_a_missing_frame_is_a_file_not_found_error(store):
    with pytest.raises(FileNotFoundError, match="nothing is stored at 'lsc/none.fits'"):
        store.get_file_size("lsc/none.fits")


def test_size_of_a_directory_is_a_file_not_found_error(store, frame_file):
    store.store_file(frame_file())
    directory = FRAME_STORE_PATH.rsplit("/", 1)[0]

    with store.get_fileobj(directory) as stored:
        assert stored is None
    with pytest.raises(FileNotFoundError, match=f"nothing is stored at '{directory}'"):
        store.get_file_size(directory)


def test_a_missing_frame_reads_as_none(store):
    with store.get_fileobj("lsc/fa04/20240304/raw/none.fits") as stored:
        assert stored is None


def test_delete_removes_the_frame_and_a_missing_one_is_fine(store, root, frame_file):
    version = store.store_file(frame_file())

    store.delete_file(FRAME_STORE_PATH, version["key"])
    assert not (root / FRAME_STORE_PATH).exists()
    store.delete_file(FRAME_STORE_PATH, version["key"])

    with store.get_fileobj(FRAME_STORE_PATH) as stored:
        assert stored is None


# URLs


@pytest.mark.parametrize(
    ("base_url", "path", "expected"),
    [
        (
            "http://archive.test/",
            FRAME_STORE_PATH,
            f"http://archive.test/{FRAME_STORE_PATH}",
        ),
        (
            "http://archive.test/files/",
            "cpt/nres03/20150219/processed/x.pdf",
            "http://archive.test/files/cpt/nres03/20150219/processed/x.pdf",
        ),
        (
            "http://archive.test/files",
            "cpt/nres03/20150219/processed/x.pdf",
            "http://archive.test/files/cpt/nres03/20150219/processed/x.pdf",
        ),
        (
            "http://archive.test/",
            "lsc/fa 04/20240304/raw/a b#c%d?é.fits",
            "http://archive.test/lsc/fa%2004/20240304/raw/a%20b%23c%25d%3F%C3%A9.fits",
        ),
    ],
)
def test_url_is_the_base_url_and_the_percent_encoded_path(
    store, base_url, path, expected
):
    target = "ocs_archive.settings.settings.FILESYSTEM_STORAGE_BASE_URL"
    with mock.patch(target, base_url):
        assert store.get_url(path, "", 3600) == expected


# Configuration


def test_root_is_read_from_the_setting_when_the_store_is_made(tmp_path, frame_file):
    first, second = tmp_path / "first", tmp_path / "second"
    target = "ocs_archive.settings.settings.FILESYSTEM_STORAGE_ROOT_DIR"

    with mock.patch(target, str(first)):
        FileSystemStore().store_file(frame_file())
    with mock.patch(target, str(second)):
        FileSystemStore().store_file(frame_file())

    assert (first / FRAME_STORE_PATH).is_file()
    assert (second / FRAME_STORE_PATH).is_file()


def test_an_empty_root_setting_is_a_specification_error():
    target = "ocs_archive.settings.settings.FILESYSTEM_STORAGE_ROOT_DIR"
    with (
        mock.patch(target, ""),
        pytest.raises(FileStoreSpecificationError, match="FILESYSTEM_STORAGE_ROOT_DIR"),
    ):
        FileSystemStore()


def test_an_empty_root_argument_is_a_specification_error(tmp_path):
    target = "ocs_archive.settings.settings.FILESYSTEM_STORAGE_ROOT_DIR"
    with (
        mock.patch(target, str(tmp_path)),
        pytest.raises(FileStoreSpecificationError, match="needs a root directory"),
    ):
        FileSystemStore(root_dir="")


# Nothing is ever written outside the root


@pytest.mark.parametrize("site", ["../../outside", "ABSOLUTE", "..", "/tmp/x"])
def test_a_site_id_that_is_a_path_is_refused(tmp_path, make_frame, open_frame, site):
    if site == "ABSOLUTE":
        site = str(tmp_path / "outside")
    root = tmp_path / "deep" / "store"
    root.mkdir(parents=True)
    frame = make_frame(headers={"SITEID": site})
    before = tree(tmp_path)
    tmp_x_existed = os.path.exists("/tmp/x/fa04")

    expected = re.escape(f"SITEID {site!r} in {FRAME_NAME} cannot be part of")
    with pytest.raises(FileSpecificationException, match=expected):
        FileSystemStore(root_dir=str(root)).store_file(FitsFile(open_frame(frame)))

    assert tree(tmp_path) == before
    assert os.path.exists("/tmp/x/fa04") == tmp_x_existed


@pytest.mark.parametrize("link", ["lsc", FRAME_STORE_PATH])
def test_a_symbolic_link_out_of_the_root_is_refused(
    tmp_path, root, store, frame_file, link
):
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / link).parent.mkdir(parents=True, exist_ok=True)
    (root / link).symlink_to(outside if link == "lsc" else outside / FRAME_NAME)
    data_file = frame_file()
    before = tree(tmp_path)

    with pytest.raises(FileStoreSpecificationError, match="outside the store's root"):
        store.store_file(data_file)

    assert tree(tmp_path) == before
    assert os.listdir(outside) == []


@pytest.mark.parametrize(
    "path",
    [
        "../outside.fits",
        "lsc/../../outside.fits",
        "lsc/fa04/../../../outside.fits",
        "/etc/passwd",
        "lsc//x.fits",
    ],
)
def test_an_unsafe_store_path_is_refused_by_every_operation(
    tmp_path, root, store, path
):
    (tmp_path / "outside.fits").write_bytes(b"precious")
    expected = "is not a safe relative path"

    with (
        pytest.raises(FileStoreSpecificationError, match=expected),
        store.get_fileobj(path),
    ):
        pass
    with pytest.raises(FileStoreSpecificationError, match=expected):
        store.delete_file(path, "")
    with pytest.raises(FileStoreSpecificationError, match=expected):
        store.get_url(path, "", 60)
    with pytest.raises(FileStoreSpecificationError, match=expected):
        store.get_file_size(path)

    assert (tmp_path / "outside.fits").read_bytes() == b"precious"


# Failures while storing leave the store as it was


class FailingSource:
    """A file that fails with OSError after ``limit`` bytes once ``armed``.

    A real file cannot be made to fail half way through a read, so this stands in for
    a disk or network filesystem error.
    """

    def __init__(self, fileobj, limit: int):
        self._fileobj = fileobj
        self.limit = limit
        self.armed = False
        self.delivered = 0

    def _allowance(self, wanted: int) -> int:
        if not self.armed:
            return wanted
        if self.delivered >= self.limit:
            raise OSError(5, "Input/output error while reading the frame")
        return min(wanted, self.limit - self.delivered)

    def read(self, size: int = -1) -> bytes:
        wanted = size if size is not None and size >= 0 else 1 << 30
        data = self._fileobj.read(self._allowance(wanted))
        self.delivered += len(data) if self.armed else 0
        return data

    def readinto(self, buffer) -> int:
        view = memoryview(buffer)
        count = self._fileobj.readinto(view[: self._allowance(len(view))])
        self.delivered += count if self.armed else 0
        return count

    def __getattr__(self, name: str):
        return getattr(self._fileobj, name)


def test_a_read_error_half_way_keeps_the_stored_copy(
    tmp_path, root, store, frame_file, make_frame
):
    from ocs_archive.input.file import File

    first = frame_file()
    store.store_file(first)
    first_bytes = (root / FRAME_STORE_PATH).read_bytes()
    (tmp_path / "second").mkdir()
    second_path = make_frame(f"second/{FRAME_NAME}", {"OBJECT": "NGC 2903"})
    with open(second_path, "rb") as fileobj:
        source = FailingSource(fileobj, limit=4000)
        second = FitsFile(File(source, str(second_path)))
        source.armed = True

        with pytest.raises(OSError, match="Input/output error while reading"):
            store.store_file(second)

    assert source.delivered == 4000
    assert (root / FRAME_STORE_PATH).read_bytes() == first_bytes
    assert os.listdir(root / "lsc/fa04/20240304/raw") == [FRAME_NAME]


class EndsEarly(FailingSource):
    """A file whose reads stop short of its size, as a truncated read would."""

    def _allowance(self, wanted: int) -> int:
        if not self.armed:
            return wanted
        return max(min(wanted, self.limit - self.delivered), 0)


def test_a_source_that_ends_early_replaces_nothing(
    tmp_path, root, store, frame_file, make_frame
):
    from ocs_archive.input.file import File

    store.store_file(frame_file())
    first_bytes = (root / FRAME_STORE_PATH).read_bytes()
    (tmp_path / "second").mkdir()
    second_path = make_frame(f"second/{FRAME_NAME}", {"OBJECT": "NGC 2903"})
    with open(second_path, "rb") as fileobj:
        source = EndsEarly(fileobj, limit=4000)
        second = FitsFile(File(source, str(second_path)))
        source.armed = True

        with pytest.raises(FileStoreConnectionError, match="read 4000 of the"):
            store.store_file(second)
        assert second.open_file._md5 is None

    assert (root / FRAME_STORE_PATH).read_bytes() == first_bytes
    assert os.listdir(root / "lsc/fa04/20240304/raw") == [FRAME_NAME]


def test_a_directory_that_cannot_be_made_is_a_store_error(root, store, frame_file):
    (root / "lsc").write_bytes(b"a file where a directory should be")

    with pytest.raises(
        (FileStoreSpecificationError, FileStoreConnectionError),
        match=f"'{FRAME_STORE_PATH}'",
    ):
        store.store_file(frame_file())

    assert tree(root) == {"lsc"}
    assert (root / "lsc").read_bytes() == b"a file where a directory should be"


@pytest.mark.skipif(
    os.geteuid() == 0, reason="permissions do not stop the root user from writing"
)
def test_a_read_only_directory_is_a_specification_error(root, store, frame_file):
    raw = root / "lsc/fa04/20240304/raw"
    raw.mkdir(parents=True)
    raw.chmod(0o555)
    try:
        with pytest.raises(FileStoreSpecificationError, match=f"'{FRAME_STORE_PATH}'"):
            store.store_file(frame_file())
        assert os.listdir(raw) == []
    finally:
        raw.chmod(0o755)


# The md5 computed while storing is reused


def test_md5_computed_while_storing_is_not_computed_again(store, frame_file):
    data_file = frame_file()
    version = store.store_file(data_file)

    with mock.patch("ocs_archive.input.file.md5_of_stream") as hashing:
        md5 = data_file.open_file.get_md5()

    assert md5 == version["md5"]
    hashing.assert_not_called()


@pytest.mark.parametrize("same_size", [False, True])
def test_md5_after_the_frame_changed_is_the_new_md5(store, frame_file, same_size):
    data_file = frame_file()
    path = Path(data_file.open_file.filename)
    store.store_file(data_file)

    content = bytearray(path.read_bytes())
    if same_size:
        content[-1] ^= 0xFF
    else:
        content += b"\0" * 2880
    with open(path, "r+b") as rewrite:
        rewrite.write(content)

    assert data_file.open_file.get_md5() == hashlib.md5(content).hexdigest()


# The real frames


def _real_frames() -> list[str]:
    folder = real_data_dir()
    if folder is None:
        return ["<no real frames>"]
    return sorted(
        path.name
        for path in folder.iterdir()
        if path.name.endswith((".fits", ".fits.fz", ".pdf"))
    )


@pytest.mark.parametrize("name", _real_frames())
def test_every_real_frame_is_stored_where_the_reference_put_it(
    lco_data, reference_records, open_frame, root, store, name
):
    reference = reference_records[name]
    open_file = open_frame(lco_data / name)
    datafile_class = FileFactory.get_datafile_class_for_extension(open_file.extension)
    metadata = REAL_PDF_METADATA if datafile_class is DataFile else None

    data_file = datafile_class(open_file, metadata)

    version = store.store_file(data_file)

    assert data_file.get_filestore_path() == reference["filestore_path"]
    assert version["md5"] == reference["md5"]
    with store.get_fileobj(reference["filestore_path"]) as stored:
        assert hashlib.md5(stored.read()).hexdigest() == reference["md5"]


@pytest.mark.parametrize("fail", [False, True])
def test_a_large_frame_is_copied_by_two_threads_and_fails_cleanly(
    tmp_path, root, store, fail
):
    from ocs_archive.input.file import File
    from ocs_archive.storage.filesystemstore import (
        CONCURRENT_COPY_MIN_BYTES,
        WRITEBACK_BYTES,
    )

    # Large enough to be handed to the disk in steps while it is copied.
    content = os.urandom(max(CONCURRENT_COPY_MIN_BYTES, 2 * WRITEBACK_BYTES) + 12345)
    path = tmp_path / "big-summary.pdf"
    path.write_bytes(content)
    with open(path, "rb") as fileobj:
        source = FailingSource(fileobj, limit=len(content) // 2)
        data_file = DataFile(File(source, str(path)), REAL_PDF_METADATA)
        source.armed = fail
        if fail:
            with pytest.raises(OSError, match="Input/output error"):
                store.store_file(data_file)
        else:
            version = store.store_file(data_file)
            assert version["md5"] == hashlib.md5(content).hexdigest()

    stored = root / "cpt/nres03/20150219/processed/big-summary.pdf"
    if fail:
        # Neither the frame nor a temporary file is left behind.
        assert not any(p.is_file() for p in root.rglob("*"))
    else:
        assert stored.read_bytes() == content
