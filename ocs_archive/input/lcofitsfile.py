"""FITS frames named and written as Las Cumbres Observatory's pipeline does."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ocs_archive.exceptions import FileSpecificationException
from ocs_archive.input.file import File
from ocs_archive.input.fitsfile import FitsFile
from ocs_archive.settings import settings

LETTER_TO_OBSTYPE = {
    "b": "BIAS",
    "d": "DARK",
    "f": "SKYFLAT",
    "g": "GUIDE",
    "s": "STANDARD",
    "w": "LAMPFLAT",
    "x": "EXPERIMENTAL",
}

# Without a reduction level in its headers, a spectral bundle is a processed product.
TAR_REDUCTION_LEVEL = 90
RAW_REDUCTION_LEVEL = 0


class LcoFitsFile(FitsFile):
    """A FITS frame whose name follows ``site-instrument-day-number-<letter><level>``.

    After the :class:`FitsFile` steps: catalogs (``_cat``) get their target frame and
    the ``CATALOG`` configuration type; an empty or ``UNKNOWN`` configuration type is
    inferred from the file name; a missing reduction level is read from the name's
    last two digits. Bad pixel masks are stored under ``<site>/<instrument>/bpm/``.
    """

    def __init__(
        self,
        open_file: File,
        file_metadata: Mapping[str, Any] | None = None,
        blacklist_headers: Iterable[str] | None = None,
        required_headers: Iterable[str] | None = None,
    ):
        super().__init__(open_file, file_metadata, blacklist_headers, required_headers)
        self._check_catalog()
        self._repair_configuration_type()
        self._repair_reduction_level()

    def _check_catalog(self) -> None:
        basename = self.open_file.basename or ""
        if "_cat" not in basename:
            return
        updates: dict[str, Any] = {settings.CONFIGURATION_TYPE_KEY: "CATALOG"}
        if not self.header_data.get_headers().get(settings.CATALOG_TARGET_FRAME_KEY):
            updates[settings.CATALOG_TARGET_FRAME_KEY] = basename.replace("_cat", "")
        self.header_data.update_headers(updates)

    def _repair_configuration_type(self) -> None:
        configuration_type = self.header_data.get_configuration_type()
        if configuration_type and str(configuration_type).strip() != "UNKNOWN":
            return
        inferred = self._configuration_type_from_name()
        if inferred is None:
            raise FileSpecificationException(
                f"{settings.CONFIGURATION_TYPE_KEY} is UNKNOWN and could not be "
                f"inferred. Please manually correct it ({self.name})"
            )
        self.header_data.update_headers({settings.CONFIGURATION_TYPE_KEY: inferred})

    def _configuration_type_from_name(self) -> str | None:
        parts = (self.open_file.basename or "").split("-")
        if len(parts) < 5 or not parts[4]:
            return None
        letter = parts[4][0]
        if parts[0] == "trace":
            return "TRACE"
        if parts[0] == "arc":
            return "ARC"
        if parts[3] == "bias":
            return "BIAS"
        if parts[3] == "bpm":
            return "BPM"
        if letter == "e":
            if self._is_nres():
                return "TARGET"
            return "SPECTRUM" if "en" in parts[1] else "EXPOSE"
        if letter == "a":
            return "DOUBLE" if self._is_nres() else "ARC"
        return LETTER_TO_OBSTYPE.get(letter)

    def _is_nres(self) -> bool:
        """True for frames of the NRES spectrographs (enclosure or telescope 'igl')."""
        enclosure = self.header_data.get_headers().get("ENCID") or ""
        telescope = self.header_data.get_telescope_id() or ""
        return "igl" in str(enclosure) or "igl" in str(telescope)

    def _repair_reduction_level(self) -> None:
        if self.header_data.headers_are_set([settings.REDUCTION_LEVEL_KEY]):
            return
        if self.open_file.extension == ".tar.gz":
            level = TAR_REDUCTION_LEVEL
        else:
            digits = (self.open_file.basename or "").replace("_cat", "")[-2:]
            is_level = len(digits) == 2 and digits.isascii() and digits.isdigit()
            level = int(digits) if is_level else RAW_REDUCTION_LEVEL
        self.header_data.update_headers({settings.REDUCTION_LEVEL_KEY: level})

    def _is_bpm_file(self) -> bool:
        """True for a bad pixel mask, by configuration type, EXTNAME or name."""
        headers = self.header_data.get_headers()
        if self.header_data.get_configuration_type() == "BPM":
            return True
        if headers.get("EXTNAME") == "BPM":
            return True
        name = (self.open_file.basename or "").replace("_", "-")
        return name.startswith("bpm-") or "-bpm-" in name or name.endswith("-bpm")

    def get_filestore_path(self) -> str:
        if not self._is_bpm_file():
            return super().get_filestore_path()
        return self.join_store_path(*self.site_and_instrument_segments(), "bpm")
