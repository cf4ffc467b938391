"""The file-store interface, and the ``dummy`` store that keeps nothing.

Every store takes the *store path* of a frame from ``DataFile.get_filestore_path()``
and answers with the same *version* dict::

    {'key': str, 'md5': str, 'extension': str}

``key`` names the stored version (S3's version id; the md5 for stores without
versions), ``md5`` is always the true md5 of the stored bytes (clients compare it with
``File.get_md5()`` and retry on a mismatch), and ``extension`` is the frame's extension
(``.fits.fz``).

Every store fails the same way on the same problem:

- :class:`FileStoreConnectionError` when the store cannot be reached or fails
  transiently (the caller may retry);
- :class:`FileStoreSpecificationError` when the store is misconfigured or the store
  path is unacceptable (retrying will not help);
- ``get_fileobj`` yields ``None`` for a path that holds nothing.
"""

from __future__ import annotations

import io
import logging
import posixpath
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, TYPE_CHECKING, TypedDict

from ocs_archive.exceptions import (
    FileStoreConnectionError,
    FileStoreError,
    FileStoreSpecificationError,
)

if TYPE_CHECKING:
    from ocs_archive.input.file import DataFile

__all__ = [
    "FileStore",
    "FileStoreConnectionError",
    "FileStoreError",
    "FileStoreSpecificationError",
    "Version",
]

logger = logging.getLogger(__name__)


class Version(TypedDict):
    """What a store returns for one stored version of a frame."""

    key: str
    md5: str
    extension: str


def check_store_path(path: str) -> str:
    """Return ``path`` if it is a safe relative store path, else raise.

    A store path is made of ``/``-separated segments, none empty, ``.`` or ``..``, with
    no backslash or control character, so that it can never name a place outside a
    store's root or an unexpected S3 key.
    """
    segments = path.split("/") if isinstance(path, str) else []
    unsafe = [
        segment
        for segment in segments
        if segment in ("", ".", "..")
        or "\\" in segment
        or any(ord(char) < 32 or ord(char) == 127 for char in segment)
    ]
    if not segments or unsafe or posixpath.isabs(path):
        raise FileStoreSpecificationError(
            f"store path {path!r} is not a safe relative path (expected segments "
            "separated by '/', none empty, '.', '..' or holding '\\' or control "
            "characters)"
        )
    return path


class FileStore:
    """Base class of the file stores, and the ``dummy`` store itself.

    The dummy store keeps nothing: ``store_file`` answers with the frame's md5 as both
    key and md5, ``get_url`` with ``''``, ``get_fileobj`` with an empty in-memory file
    and ``get_file_size`` with 0. Subclasses implement the same five operations with the
    contract described in this module's documentation.
    """

    def store_file(self, data_file: DataFile) -> Version:
        """Store the frame of ``data_file`` at its store path; return the version."""
        md5 = data_file.open_file.get_md5()
        logger.debug("dummy store: not storing %s", data_file.get_filestore_path())
        return self.make_version(md5, md5, data_file)

    def delete_file(self, path: str, version_id: str) -> None:
        """Delete one version of the frame at ``path``; a missing one is fine."""

    def get_url(self, path: str, version_id: str, expiration: float) -> str:
        """A URL from which the version can be downloaded for ``expiration`` seconds."""
        return ""

    @contextmanager
    def get_fileobj(
        self, path: str, version_id: str | None = None
    ) -> Iterator[IO[bytes] | None]:
        """Yield a readable binary file of the stored frame, or None when missing.

        ``version_id`` picks a version where the store keeps versions; None or ``''``
        means the latest.
        """
        yield io.BytesIO()

    def get_file_size(self, path: str, version_id: str | None = None) -> int:
        """The size in bytes of the stored frame."""
        return 0

    @staticmethod
    def make_version(key: str, md5: str, data_file: DataFile) -> Version:
        return {"key": key, "md5": md5, "extension": data_file.open_file.extension}
