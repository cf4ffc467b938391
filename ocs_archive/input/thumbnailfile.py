"""JPEG thumbnails of frames, described by metadata alone."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ocs_archive.input.file import DataFile, File
from ocs_archive.input.fitsfile import normalized_nulls
from ocs_archive.settings import settings

THUMBNAIL_CONTENT_TYPE = "image/jpeg"


class ThumbnailFile(DataFile):
    """A thumbnail image whose header data is its ``file_metadata``.

    The image is never decoded. The metadata must hold every key of
    ``REQUIRED_THUMBNAIL_METADATA``, whatever ``required_headers`` says; null
    markers are normalised as for FITS. Stored under
    ``<site>/<instrument>/<observation day>/thumbnails/``.
    """

    def __init__(
        self,
        open_file: File,
        file_metadata: Mapping[str, Any] | None = None,
        blacklist_headers: Iterable[str] | None = None,
        required_headers: Iterable[str] | None = None,
    ):
        super().__init__(open_file, file_metadata, blacklist_headers, required_headers)
        self.header_data.update_headers(
            normalized_nulls(
                self.header_data.get_headers(),
                settings.INTEGER_TYPES,
                settings.NULL_HEADER_VALUES,
            )
        )

    def _missing_required_headers(self, headers: Mapping[str, Any]) -> list[str]:
        return [
            key for key in settings.REQUIRED_THUMBNAIL_METADATA if key not in headers
        ]

    def get_filestore_content_type(self) -> str:
        return THUMBNAIL_CONTENT_TYPE

    def get_filestore_path(self) -> str:
        return self.join_store_path(
            *self.site_and_instrument_segments(),
            self.observation_day_segment(),
            "thumbnails",
        )
