"""Streaming md5: hash a frame in fixed-size chunks, optionally while copying it.

Frames run to several GB, so nothing here holds more than one chunk in memory. The
chunk buffer is reused between reads (``readinto``), and hashlib releases the GIL on
buffers this large, so several threads can hash at once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import IO

CHUNK_SIZE = 1024 * 1024


def md5_of_stream(stream: IO[bytes], chunk_size: int = CHUNK_SIZE) -> tuple[str, int]:
    """Hash ``stream`` from its current position to its end; return (md5, bytes)."""
    return copy_and_hash(stream, None, chunk_size)


def copy_and_hash(
    source: IO[bytes],
    write: Callable[[memoryview], object] | None,
    chunk_size: int = CHUNK_SIZE,
) -> tuple[str, int]:
    """Copy ``source`` to ``write`` chunk by chunk, hashing in the same pass.

    ``write`` receives each chunk as a memoryview that is only valid until the call
    returns; None only hashes. Returns the hex md5 and the number of bytes read.
    """
    digest = hashlib.md5()
    total = 0
    readinto = getattr(source, "readinto", None)
    if readinto is not None:
        buffer = bytearray(chunk_size)
        view = memoryview(buffer)
        while True:
            count = readinto(view)
            if not count:
                break
            chunk = view[:count]
            digest.update(chunk)
            if write is not None:
                write(chunk)
            total += count
    else:
        while True:
            data = source.read(chunk_size)
            if not data:
                break
            digest.update(data)
            if write is not None:
                write(memoryview(data))
            total += len(data)
    return digest.hexdigest(), total
