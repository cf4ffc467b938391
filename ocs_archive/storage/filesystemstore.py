"""The ``local`` store: frames kept in a directory tree, one copy per store path."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING
from urllib.parse import quote

from ocs_archive.hashing import CHUNK_SIZE, copy_and_hash, copy_and_hash_concurrently
from ocs_archive.settings import settings
from ocs_archive.storage.filestore import (
    FileStore,
    FileStoreConnectionError,
    FileStoreSpecificationError,
    Version,
    check_store_path,
)

if TYPE_CHECKING:
    from ocs_archive.input.file import DataFile

logger = logging.getLogger(__name__)

STORED_FILE_MODE = 0o644
CONCURRENT_COPY_MIN_BYTES = 8 * CHUNK_SIZE
# The copy is handed to the disk in steps of this many bytes while it is written.
WRITEBACK_BYTES = 16 * CHUNK_SIZE


class _DestinationError(Exception):
    """Wraps an OSError raised while writing, to tell it from one while reading."""


class FileSystemStore(FileStore):
    """Keeps frames under ``root_dir`` at their store paths, without versions.

    A stored frame replaces any earlier one atomically: the bytes go to a temporary
    file in the same directory, are flushed to disk, and the file is renamed over the
    old one, so a reader sees the old frame or the new one, never part of either. The
    version's key is the md5, computed while copying. Every 16 MiB written are handed
    to the disk at once (Linux starts writing them back and keeps them out of the page
    cache after), so the disk works while the rest is hashed and the closing fsync
    has little left to wait for.

    ``root_dir`` defaults to ``FILESYSTEM_STORAGE_ROOT_DIR``; an empty root is a
    :class:`FileStoreSpecificationError`. Store paths that would resolve outside the
    root (through ``..`` or a symbolic link) are refused the same way.
    """

    def __init__(self, root_dir: str | os.PathLike | None = None):
        root = settings.FILESYSTEM_STORAGE_ROOT_DIR if root_dir is None else root_dir
        if not root:
            raise FileStoreSpecificationError(
                "the local file store needs a root directory: set "
                "FILESYSTEM_STORAGE_ROOT_DIR or pass root_dir"
            )
        self.root_dir = os.fspath(root)

    def store_file(self, data_file: DataFile) -> Version:
        path = data_file.get_filestore_path()
        target = self._local_path(path)
        open_file = data_file.open_file
        started = time.monotonic()

        self._make_directories(target.parent, path)
        signature = open_file.content_signature()
        expected_size = len(open_file)
        md5, size = self._write_atomically(
            open_file.get_from_start(), target, path, expected_size
        )
        open_file.fileobj.seek(0)
        open_file.remember_md5(md5, signature)

        logger.info(
            "stored %s (%d bytes, md5 %s) in %.3f s",
            target,
            size,
            md5,
            time.monotonic() - started,
        )
        return self.make_version(md5, md5, data_file)

    def delete_file(self, path: str, version_id: str) -> None:
        target = self._local_path(path)
        try:
            target.unlink()
        except FileNotFoundError:
            logger.debug("delete of %s: nothing was stored there", target)
            return
        except OSError as exc:
            raise _store_error(exc, path) from exc
        logger.info("deleted %s", target)

    def get_url(self, path: str, version_id: str, expiration: float) -> str:
        self._local_path(path)
        base_url = settings.FILESYSTEM_STORAGE_BASE_URL
        return f"{base_url.rstrip('/')}/{quote(path, safe='/')}"

    @contextlib.contextmanager
    def get_fileobj(
        self, path: str, version_id: str | None = None
    ) -> Iterator[IO[bytes] | None]:
        target = self._local_path(path)
        try:
            stored = open(target, "rb")  # noqa: SIM115 - closed below, after the yield
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            yield None
            return
        except OSError as exc:
            raise _store_error(exc, path) from exc
        with stored:
            yield stored

    def get_file_size(self, path: str, version_id: str | None = None) -> int:
        target = self._local_path(path)
        try:
            status = target.stat()
        except (FileNotFoundError, NotADirectoryError):
            status = None
        except OSError as exc:
            raise _store_error(exc, path) from exc
        if status is None or not stat.S_ISREG(status.st_mode):
            raise FileNotFoundError(f"nothing is stored at {path!r}")
        return status.st_size

    def _local_path(self, path: str) -> Path:
        """The place of ``path`` under the root; refuses anything outside it."""
        check_store_path(path)
        root = Path(self.root_dir).resolve()
        target = (root / path).resolve()
        if not target.is_relative_to(root) or target == root:
            raise FileStoreSpecificationError(
                f"store path {path!r} resolves to {str(target)!r}, outside the "
                f"store's root {str(root)!r}"
            )
        return target

    def _make_directories(self, directory: Path, path: str) -> None:
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _store_error(exc, path) from exc

    def _write_atomically(
        self, source: IO[bytes], target: Path, path: str, expected_size: int
    ) -> tuple[str, int]:
        try:
            # A short name: the frame's own may already be as long as names can be.
            descriptor, temporary = tempfile.mkstemp(
                dir=target.parent, prefix=".ocs-archive-", suffix=".part"
            )
        except OSError as exc:
            raise _store_error(exc, path) from exc
        try:
            with os.fdopen(descriptor, "wb") as destination:
                # A second thread pays off once there are chunks to overlap.
                copy = (
                    copy_and_hash_concurrently
                    if expected_size > CONCURRENT_COPY_MIN_BYTES
                    else copy_and_hash
                )
                md5, size = copy(source, _Destination(destination).write)
                _flush_to_disk(destination)
            if size != expected_size:
                raise FileStoreConnectionError(
                    f"read {size} of the {expected_size} bytes to store at {path!r}: "
                    "the file changed or could not be read; nothing was replaced"
                )
            _publish(temporary, target)
        except _DestinationError as exc:
            _remove_quietly(temporary)
            raise _store_error(exc.__cause__, path) from exc.__cause__
        except BaseException:
            _remove_quietly(temporary)
            raise
        _sync_directory(target.parent)
        return md5, size


class _Destination:
    """Writes the copy, handing each ``WRITEBACK_BYTES`` written to the disk."""

    def __init__(self, file: IO[bytes]):
        self.file = file
        self.written = 0
        self.handed = 0

    def write(self, chunk: memoryview) -> None:
        try:
            self.file.write(chunk)
        except OSError as exc:
            raise _DestinationError() from exc
        self.written += len(chunk)
        if self.written - self.handed >= WRITEBACK_BYTES:
            self._hand_to_disk()

    def _hand_to_disk(self) -> None:
        # DONTNEED starts the write-back of the range's dirty pages without waiting
        # for it; the fsync at the end still decides that the copy is on disk.
        advise = getattr(os, "posix_fadvise", None)
        if advise is None:
            return
        try:
            self.file.flush()
        except OSError as exc:
            raise _DestinationError() from exc
        try:
            advise(
                self.file.fileno(),
                self.handed,
                self.written - self.handed,
                os.POSIX_FADV_DONTNEED,
            )
        except OSError as exc:  # advice only: the fsync still makes the copy safe
            logger.debug("no early write-back for %s: %s", self.file.name, exc)
        self.handed = self.written


def _flush_to_disk(destination: IO[bytes]) -> None:
    try:
        destination.flush()
        os.fsync(destination.fileno())
    except OSError as exc:
        raise _DestinationError() from exc


def _publish(temporary: str, target: Path) -> None:
    try:
        os.chmod(temporary, STORED_FILE_MODE)
        os.replace(temporary, target)
    except OSError as exc:
        raise _DestinationError() from exc


def _sync_directory(directory: Path) -> None:
    # The rename is only durable once the directory entry itself reaches the disk.
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError as exc:
        logger.debug("could not sync directory %s: %s", directory, exc)
    finally:
        os.close(descriptor)


def _remove_quietly(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


# Errors that do not go away on a retry: something is in the way, not allowed, or
# impossible on this filesystem. Others (a full or failing disk) may pass.
_PERMANENT_ERRNOS = {
    errno.EACCES,
    errno.EPERM,
    errno.EEXIST,
    errno.ENOTDIR,
    errno.EISDIR,
    errno.ENAMETOOLONG,
    errno.EROFS,
    errno.ELOOP,
    errno.EINVAL,
}


def _store_error(exc: BaseException | None, path: str) -> Exception:
    """Translate a filesystem error into the store's exceptions."""
    if isinstance(exc, OSError) and exc.errno in _PERMANENT_ERRNOS:
        return FileStoreSpecificationError(
            f"the local store cannot use {path!r}: {exc}"
        )
    return FileStoreConnectionError(f"the local store failed on {path!r}: {exc}")
