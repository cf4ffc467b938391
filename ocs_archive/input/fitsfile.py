"""FITS frames: plain ``.fits`` and fpacked ``.fits.fz``."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping
from typing import IO, Any

from ocs_archive.exceptions import FileSpecificationException
from ocs_archive.hashing import remaining_size
from ocs_archive.input.file import DataFile, File
from ocs_archive.input.fitsheaders import is_fits, iter_fits_headers
from ocs_archive.input.headerdata import HeaderData
from ocs_archive.settings import settings

FITS_EXTENSIONS = (".fits", ".fits.fz")


class FitsFile(DataFile):
    """A FITS frame whose header data comes from its first complete HDU header.

    Each HDU header is taken in order, updated with ``file_metadata`` (metadata wins),
    and the first that holds every required key becomes the header data. Only headers
    are read, never the image data. Bytes that are not FITS at all (an
    :class:`~ocs_archive.input.file.EmptyFile`) fall back to ``file_metadata`` alone.

    After the :class:`DataFile` repairs: the extension must be ``.fits`` or
    ``.fits.fz``; blacklisted keys and the empty key are removed; values in
    ``NULL_HEADER_VALUES`` become None for ``INTEGER_TYPES`` keys and ``''`` for
    others; related frames lose their extensions.
    """

    def __init__(
        self,
        open_file: File,
        file_metadata: Mapping[str, Any] | None = None,
        blacklist_headers: Iterable[str] | None = None,
        required_headers: Iterable[str] | None = None,
    ):
        super().__init__(open_file, file_metadata, blacklist_headers, required_headers)
        self._check_extension()
        self._remove_blacklist_headers(self.blacklist_headers)
        self._normalize_null_values()
        self._normalize_related_frames()

    @property
    def INTEGER_TYPES(self) -> list[str]:  # noqa: N802 - the reference's public name
        """Keys whose values must be integers or None (read from the settings)."""
        return settings.INTEGER_TYPES

    @contextlib.contextmanager
    def get_fits(self) -> Iterator[IO[bytes]]:
        """Yield a binary file positioned at the start of the FITS bytes."""
        yield self.open_file.get_from_start()

    def get_filestore_content_type(self) -> str:
        return "image/fits"

    def _create_header_data(self, file_metadata: dict[str, Any]) -> None:
        with self.get_fits() as fits_stream:
            if not is_fits(fits_stream):
                self._create_header_data_from_metadata(file_metadata)
                return
            size = remaining_size(fits_stream)
            fewest_missing: list[str] | None = None
            headers_of_each_hdu = iter_fits_headers(fits_stream, size, self.name)
            with contextlib.closing(headers_of_each_hdu):
                for headers in headers_of_each_hdu:
                    headers.update(file_metadata)
                    missing = self._missing_required_headers(headers)
                    if not missing:
                        self.header_data = HeaderData(headers)
                        return
                    if fewest_missing is None or len(missing) < len(fewest_missing):
                        fewest_missing = missing
        raise FileSpecificationException(
            f"Could not find required keywords in headers! No HDU of {self.name} has "
            f"them all; the closest lacks {', '.join(fewest_missing or ['every one'])}"
        )

    def _create_header_data_from_metadata(self, file_metadata: dict[str, Any]) -> None:
        """Bytes that are not FITS (an EmptyFile): the metadata must say it all."""
        missing = self._missing_required_headers(file_metadata)
        if missing and len(self.open_file):
            raise FileSpecificationException(
                f"Could not find required keywords in headers! {self.name} is not a "
                f"FITS file (it does not start with 'SIMPLE  =') and the metadata "
                f"given lacks {', '.join(missing)}"
            )
        super()._create_header_data(file_metadata)

    def _check_extension(self) -> None:
        if self.open_file.extension not in FITS_EXTENSIONS:
            raise FileSpecificationException(
                f"Fits files must have extension .fits or .fits.fz, not "
                f"{self.open_file.extension!r} ({self.name})"
            )

    def _remove_blacklist_headers(self, blacklist_headers: Iterable[str]) -> None:
        for key in (*blacklist_headers, ""):
            self.header_data.remove_header(key)

    def _normalize_null_values(self) -> None:
        integer_keys = self.INTEGER_TYPES
        null_values = settings.NULL_HEADER_VALUES
        self.header_data.update_headers(
            normalized_nulls(self.header_data.get_headers(), integer_keys, null_values)
        )

    def _normalize_related_frames(self) -> None:
        headers = self.header_data.get_headers()
        updates = {}
        for key in self.header_data.get_related_frame_keys():
            filename = headers.get(key)
            if isinstance(filename, str) and filename and filename != "N/A":
                basename, extension = File.get_basename_and_extension(filename)
                if extension:
                    updates[key] = basename
        self.header_data.update_headers(updates)


def normalized_nulls(
    headers: Mapping[str, Any], integer_keys: Iterable[str], null_values: Iterable[str]
) -> dict[str, Any]:
    """The updates that turn null markers (``N/A``) into None or ``''``.

    A null marker becomes None under an integer key and ``''`` elsewhere; an integer
    key whose text contains ``NONE`` (any case) becomes None too.
    """
    integer_keys = set(integer_keys)
    null_values = tuple(null_values)
    updates: dict[str, Any] = {}
    for key, value in headers.items():
        if isinstance(value, str) and value in null_values:
            updates[key] = None if key in integer_keys else ""
        elif key in integer_keys and value is not None and "NONE" in str(value).upper():
            updates[key] = None
    return updates
