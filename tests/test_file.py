"""File and EmptyFile: names, sizes and md5s of open frames."""

from __future__ import annotations

import hashlib
import io
import os

import pytest

from ocs_archive.input.file import EmptyFile, File


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("a/b/x-e00.fits.fz", ("x-e00", ".fits.fz")),
        ("x-e00.fits", ("x-e00", ".fits")),
        ("ngc0001.set2.fits", ("ngc0001.set2", ".fits")),
        ("ngc0001.set2.fits.fz", ("ngc0001.set2", ".fits.fz")),
        ("bundle.v2.tar.gz", ("bundle.v2", ".tar.gz")),
        ("summary.pdf", ("summary", ".pdf")),
        ("archive.tar.bz2", ("archive", ".tar.bz2")),
        ("README", ("README", "")),
        (".hidden", (".hidden", "")),
        (".fits", (".fits", "")),
        (None, (None, None)),
    ],
)
def test_basename_and_extension(path, expected):
    assert File.get_basename_and_extension(path) == expected


def test_known_extension_respects_overrides(monkeypatch):
    from ocs_archive.settings import settings

    monkeypatch.setattr(settings, "FILETYPE_MAPPING_OVERRIDES", {".fits.gz": "a.B"})
    assert File.get_basename_and_extension("x.y.fits.gz") == ("x.y", ".fits.gz")


def test_filename_from_path_name_or_filename(tmp_path):
    path = tmp_path / "frame-e00.fits"
    path.write_bytes(b"abc")
    with open(path, "rb") as fileobj:
        assert File(fileobj).filename == str(path)
        assert File(fileobj, "other.fits.fz").extension == ".fits.fz"

    class Named(io.BytesIO):
        filename = "named.pdf"

    assert File(Named(b"")).basename == "named"
    assert File(io.BytesIO(b"")).filename is None
    assert File(io.BytesIO(b"")).basename is None


def test_length_and_md5_from_the_start_whatever_the_position():
    content = b"0123456789" * 1000
    open_file = File(io.BytesIO(content), "x.fits")
    open_file.fileobj.seek(123)
    assert len(open_file) == len(content)
    assert open_file.fileobj.tell() == 0
    open_file.fileobj.seek(500)
    assert open_file.get_md5() == hashlib.md5(content).hexdigest()
    assert open_file.get_from_start().read(3) == b"012"


def test_md5_streams_large_files_in_chunks(tmp_path):
    path = tmp_path / "big.fits"
    block = os.urandom(1024 * 1024)
    with open(path, "wb") as out:
        for _ in range(5):
            out.write(block)
        out.write(b"tail")
    expected = hashlib.md5(block * 5 + b"tail").hexdigest()

    class CountingReader(io.FileIO):
        largest = 0

        def readinto(self, buffer):
            CountingReader.largest = max(CountingReader.largest, len(buffer))
            return super().readinto(buffer)

    with CountingReader(path, "rb") as fileobj:
        assert File(fileobj).get_md5() == expected
    assert 0 < CountingReader.largest <= 1024 * 1024


def test_md5_is_reused_while_the_file_is_unchanged_and_recomputed_after(tmp_path):
    path = tmp_path / "frame.fits"
    path.write_bytes(b"first")
    with open(path, "rb") as fileobj:
        open_file = File(fileobj)
        assert open_file.get_md5() == hashlib.md5(b"first").hexdigest()
        assert open_file._md5 is not None
        path.write_bytes(b"second content")
        assert open_file.get_md5() == hashlib.md5(b"second content").hexdigest()


def test_in_memory_files_are_hashed_each_time():
    buffer = io.BytesIO(b"one")
    open_file = File(buffer, "x.fits")
    assert open_file.get_md5() == hashlib.md5(b"one").hexdigest()
    buffer.seek(0)
    buffer.write(b"two")
    assert open_file.get_md5() == hashlib.md5(b"two").hexdigest()


def test_empty_file():
    empty = EmptyFile("x.fits")
    assert empty.get_md5() == hashlib.md5(b"x.fits").hexdigest()
    assert len(empty) == 0
    assert (empty.basename, empty.extension) == ("x", ".fits")
    default = EmptyFile()
    assert default.filename == "dummy_file.fits"
    assert default.get_md5() == hashlib.md5(b"dummy_file.fits").hexdigest()
    unicode_name = "ünï.fits"
    expected = hashlib.md5(unicode_name.encode()).hexdigest()
    assert EmptyFile(unicode_name).get_md5() == expected
