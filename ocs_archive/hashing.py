"""Streaming md5: hash a frame in fixed-size chunks, optionally while copying it.

Frames run to several GB, so nothing here holds more than one chunk in memory. The
chunk buffer is reused between reads (``readinto``), and hashlib releases the GIL on
buffers this large, so several threads can hash at once.
"""

from __future__ import annotations

import hashlib
import os
import queue
import threading
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


def copy_and_hash_concurrently(
    source: IO[bytes],
    write: Callable[[memoryview], object],
    chunk_size: int = CHUNK_SIZE,
    depth: int = 4,
) -> tuple[str, int]:
    """:func:`copy_and_hash`, with the writing done by a second thread.

    Hashing and writing then overlap: the md5 costs about as much CPU as the copy
    itself, so a single thread would take their sum. Still one pass over the source;
    at most ``depth`` chunks are held. An exception from ``write`` is raised here,
    after the writer has stopped; nothing is written after it.
    """
    free: queue.SimpleQueue[bytearray] = queue.SimpleQueue()
    for _ in range(depth):
        free.put(bytearray(chunk_size))
    filled: queue.SimpleQueue[tuple[bytearray, int] | None] = queue.SimpleQueue()
    failures: list[BaseException] = []

    def writer() -> None:
        while (item := filled.get()) is not None:
            buffer, count = item
            if not failures:
                try:
                    write(memoryview(buffer)[:count])
                except BaseException as exc:  # noqa: BLE001 - re-raised by the reader
                    failures.append(exc)
            # Handed back even after a failure, so that the reader never waits.
            free.put(buffer)

    thread = threading.Thread(target=writer, name="copy-writer", daemon=True)
    thread.start()
    digest = hashlib.md5()
    total = 0
    try:
        while not failures:
            buffer = free.get()
            count = _read_into(source, buffer)
            if not count:
                break
            digest.update(memoryview(buffer)[:count])
            filled.put((buffer, count))
            total += count
    finally:
        filled.put(None)
        thread.join()
    if failures:
        raise failures[0]
    return digest.hexdigest(), total


def _read_into(source: IO[bytes], buffer: bytearray) -> int:
    readinto = getattr(source, "readinto", None)
    if readinto is not None:
        return readinto(buffer) or 0
    data = source.read(len(buffer))
    buffer[: len(data)] = data
    return len(data)


def remaining_size(stream: IO[bytes]) -> int | None:
    """Bytes from the stream's position to its end (None when it cannot seek).

    The position is left where it was.
    """
    try:
        return os.fstat(stream.fileno()).st_size - stream.tell()
    except (AttributeError, OSError, ValueError):
        pass
    try:
        start = stream.tell()
        end = stream.seek(0, os.SEEK_END)
        stream.seek(start)
    except (AttributeError, OSError, ValueError):
        return None
    return end - start
