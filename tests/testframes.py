"""Frames for the tests: the real ones (when present) and small ones built here."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

REPOSITORY = Path(__file__).resolve().parents[1]
SAMPLES = REPOSITORY / "samples"

# The real frames live outside the repository, beside it, and are never copied in.
REAL_DATA_CANDIDATES = [
    os.environ.get("OCS_ARCHIVE_TEST_DATA"),
    str(REPOSITORY.parent / "shared" / "data" / "lco"),
]

REQUIRED = {
    "PROPID": "LCO2024A-012",
    "DATE-OBS": "2024-03-05T01:02:03.456",
    "DAY-OBS": "20240304",
    "INSTRUME": "fa04",
    "SITEID": "lsc",
    "TELID": "1m0a",
    "OBSTYPE": "EXPOSE",
    "BLKUID": 123456,
}


def real_data_dir() -> Path | None:
    for candidate in REAL_DATA_CANDIDATES:
        if candidate and (Path(candidate) / "reference-0.5.0-records.json").is_file():
            return Path(candidate)
    return None


def fits_bytes(
    headers: dict[str, Any] | None = None,
    *,
    shape: tuple[int, ...] = (4, 4),
    compressed: bool = False,
    drop: tuple[str, ...] = (),
) -> bytes:
    """A small FITS frame with the required headers, updated with ``headers``."""
    import numpy as np
    from astropy.io import fits

    values = {**REQUIRED, **(headers or {})}
    data = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
    header = fits.Header()
    for key, value in values.items():
        if key not in drop:
            header[key] = value
    if compressed:
        hdus = fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(data, header)])
    else:
        hdus = fits.HDUList([fits.PrimaryHDU(data, header)])
    buffer = io.BytesIO()
    hdus.writeto(buffer)
    return buffer.getvalue()


# What the reference library was given for the real PDF (see the data folder's README).
REAL_PDF_METADATA = {
    "SITEID": "cpt",
    "INSTRUME": "nres03",
    "TELID": "1m0a",
    "PROPID": "calibrate",
    "DATE-OBS": "2015-02-19T13:56:05.261",
    "DAY-OBS": "20150219",
    "OBSTYPE": "EXPOSE",
    "BLKUID": 1234,
    "RLEVEL": 92,
}

# The keys of HeaderData.get_archive_frame_data(), in order.
FRAME_DATA_KEYS = (
    "reduction_level",
    "observation_day",
    "observation_date",
    "proposal_id",
    "instrument_id",
    "target_name",
    "site_id",
    "telescope_id",
    "exposure_time",
    "primary_optical_element",
    "public_date",
    "configuration_type",
    "observation_id",
    "request_id",
    "related_frame_filenames",
    "frame_basename",
    "size",
)
