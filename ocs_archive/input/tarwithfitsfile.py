"""Tar bundles (spectra) whose headers come from a FITS file inside."""

from __future__ import annotations

import contextlib
import tarfile
from collections.abc import Iterator
from typing import IO

from ocs_archive.exceptions import FileSpecificationException
from ocs_archive.input.fitsfile import FitsFile

TAR_EXTENSIONS = (".tar", ".tar.gz")


class TarWithFitsFile(FitsFile):
    """A ``.tar`` or ``.tar.gz`` bundle described by its first FITS member.

    The headers come from the first regular member whose name contains ``.fits``.
    Members are read in place, never extracted, so member names (``..``, absolute
    paths) cannot touch the disk. Members after the chosen one are not read.
    """

    def _check_extension(self) -> None:
        if self.open_file.extension not in TAR_EXTENSIONS:
            raise FileSpecificationException(
                f"Tar with Fits files must have extension .tar or .tar.gz, not "
                f"{self.open_file.extension!r} ({self.name})"
            )

    def _is_meta_fits_member(self, member: tarfile.TarInfo) -> bool:
        return member.isfile() and ".fits" in member.name

    def _missing_meta_fits_message(self) -> str:
        return f"Tar file missing meta fits! ({self.name})"

    @contextlib.contextmanager
    def get_fits(self) -> Iterator[IO[bytes]]:
        """Yield the FITS member that describes the bundle, read from the bundle."""
        try:
            bundle = tarfile.open(  # noqa: SIM115 - closed by the with below
                fileobj=self.open_file.get_from_start(), mode="r:*"
            )
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise FileSpecificationException(
                f"{self.name} is not a readable tar file: {exc}"
            ) from exc
        with bundle:
            member = self._find_meta_fits_member(bundle)
            member_file = bundle.extractfile(member)
            if member_file is None:
                raise FileSpecificationException(self._missing_meta_fits_message())
            with member_file:
                yield member_file

    def _find_meta_fits_member(self, bundle: tarfile.TarFile) -> tarfile.TarInfo:
        # Iterating stops at the first match: a large bundle is not read to its end.
        try:
            for member in bundle:
                if self._is_meta_fits_member(member):
                    return member
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise FileSpecificationException(
                f"{self.name} is not a readable tar file: {exc}"
            ) from exc
        raise FileSpecificationException(self._missing_meta_fits_message())

    def get_filestore_content_type(self) -> str:
        return "application/x-tar"
