"""Which file-store class serves which ``FILESTORE_TYPE``."""

from __future__ import annotations

from ocs_archive.settings import settings
from ocs_archive.storage.filestore import FileStore, FileStoreSpecificationError
from ocs_archive.storage.filesystemstore import FileSystemStore
from ocs_archive.storage.s3store import S3Store

FILESTORE_TYPES_TO_CLASS: dict[str, type[FileStore]] = {
    "dummy": FileStore,
    "local": FileSystemStore,
    "s3": S3Store,
}


class FileStoreFactory:
    """Finds the file-store class for a store type."""

    @staticmethod
    def get_file_store_class(filestore_type: str | None = None) -> type[FileStore]:
        """The class for ``filestore_type``: ``dummy``, ``local`` or ``s3``.

        Omitted, the ``FILESTORE_TYPE`` setting is read now. Raises
        :class:`FileStoreSpecificationError` for any other type.
        """
        if filestore_type is None:
            filestore_type = settings.FILESTORE_TYPE
        try:
            return FILESTORE_TYPES_TO_CLASS[filestore_type]
        except (KeyError, TypeError):
            raise FileStoreSpecificationError(
                f"Invalid FileStore type {filestore_type}"
            ) from None
