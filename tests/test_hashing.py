"""Streaming md5, alone and while copying."""

from __future__ import annotations

import hashlib
import io
import os
import threading

import pytest

from ocs_archive.hashing import copy_and_hash, copy_and_hash_concurrently, md5_of_stream

CONTENT = os.urandom(3 * 1024 * 1024 + 12345)


@pytest.mark.parametrize("copy", [copy_and_hash, copy_and_hash_concurrently])
def test_copy_gives_the_bytes_and_their_md5(copy):
    destination = io.BytesIO()
    md5, size = copy(io.BytesIO(CONTENT), destination.write, 64 * 1024)
    assert destination.getvalue() == CONTENT
    assert (md5, size) == (hashlib.md5(CONTENT).hexdigest(), len(CONTENT))


def test_md5_of_a_stream_without_readinto():
    class ReadOnly:
        def __init__(self, data):
            self._stream = io.BytesIO(data)

        def read(self, size=-1):
            return self._stream.read(size)

    assert md5_of_stream(ReadOnly(CONTENT)) == (
        hashlib.md5(CONTENT).hexdigest(),
        len(CONTENT),
    )


def test_a_failing_writer_stops_the_copy_and_its_error_is_raised():
    written = []

    def write(chunk):
        if len(written) == 2:
            raise OSError(28, "No space left on device")
        written.append(bytes(chunk))

    with pytest.raises(OSError, match="No space left"):
        copy_and_hash_concurrently(io.BytesIO(CONTENT), write, 64 * 1024)
    assert len(written) == 2
    assert b"".join(written) == CONTENT[: 2 * 64 * 1024]
    assert not [t for t in threading.enumerate() if t.name == "copy-writer"]


def test_a_failing_source_stops_the_writer_and_its_error_is_raised():
    class Failing(io.BytesIO):
        def readinto(self, buffer):
            if self.tell() >= 256 * 1024:
                raise OSError(5, "Input/output error")
            return super().readinto(buffer)

    destination = io.BytesIO()
    with pytest.raises(OSError, match="Input/output error"):
        copy_and_hash_concurrently(Failing(CONTENT), destination.write, 64 * 1024)
    assert destination.getvalue() == CONTENT[: 256 * 1024]
    assert not [t for t in threading.enumerate() if t.name == "copy-writer"]
