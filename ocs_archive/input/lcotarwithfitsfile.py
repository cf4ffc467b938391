"""Las Cumbres Observatory's spectral bundles."""

from __future__ import annotations

import tarfile

from ocs_archive.input.lcofitsfile import LcoFitsFile
from ocs_archive.input.tarwithfitsfile import TarWithFitsFile

# The frames that describe a whole bundle: the raw and the processed spectrum.
META_FITS_SUFFIXES = ("e00.fits", "e90.fits", "e91.fits")


class LcoTarWithFitsFile(TarWithFitsFile, LcoFitsFile):
    """A bundle described by its ``e00``, ``e90`` or ``e91`` FITS member.

    The LCO repairs of :class:`LcoFitsFile` apply; a bundle without a reduction
    level in its headers is a processed product (level 90).
    """

    def _is_meta_fits_member(self, member: tarfile.TarInfo) -> bool:
        return member.isfile() and any(s in member.name for s in META_FITS_SUFFIXES)
