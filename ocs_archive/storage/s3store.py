"""The ``s3`` store (being written)."""

from __future__ import annotations

from ocs_archive.storage.filestore import FileStore


def strip_quotes_from_etag(etag: str) -> str | None:
    """``'"abc"'`` gives ``'abc'``; a value with unbalanced quotes gives None."""
    if len(etag) >= 2 and etag.startswith('"') and etag.endswith('"'):
        return etag[1:-1]
    return None


class S3Store(FileStore):
    """Placeholder until the S3 store lands."""
