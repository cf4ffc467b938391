"""FITS frames from the SOAR telescope's pipeline."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ocs_archive.input.file import File
from ocs_archive.input.fitsfile import FitsFile
from ocs_archive.settings import settings

# The pipeline prefixes a name with one letter per processing step it applied.
SOAR_PREFIX_TO_RLEVEL = {"cfzst": 62, "ecfzst": 63, "wecfzst": 64}


class SOARFitsFile(FitsFile):
    """A SOAR frame whose reduction level follows its name's processing prefix.

    ``cfzst_…`` is 62, ``ecfzst_…`` 63 and ``wecfzst_…`` 64; other names keep the
    header's reduction level.
    """

    def __init__(
        self,
        open_file: File,
        file_metadata: Mapping[str, Any] | None = None,
        blacklist_headers: Iterable[str] | None = None,
        required_headers: Iterable[str] | None = None,
    ):
        super().__init__(open_file, file_metadata, blacklist_headers, required_headers)
        self._repair_reduction_level()

    def _repair_reduction_level(self) -> None:
        basename = self.open_file.basename or ""
        for prefix in sorted(SOAR_PREFIX_TO_RLEVEL, key=len, reverse=True):
            if basename.startswith(prefix):
                level = SOAR_PREFIX_TO_RLEVEL[prefix]
                self.header_data.update_headers({settings.REDUCTION_LEVEL_KEY: level})
                return
