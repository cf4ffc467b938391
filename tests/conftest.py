"""Shared fixtures: the real frames (when present) and frames built with astropy."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

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


@pytest.fixture(scope="session")
def lco_data() -> Path:
    """The folder of real frames and their reference records, or skip."""
    folder = real_data_dir()
    if folder is None:
        pytest.skip(
            "real frames not found: set OCS_ARCHIVE_TEST_DATA or place shared/data/lco "
            "beside the repository"
        )
    return folder


@pytest.fixture(scope="session")
def reference_records(lco_data: Path) -> dict[str, dict[str, Any]]:
    return json.loads((lco_data / "reference-0.5.0-records.json").read_text())


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


@pytest.fixture
def make_frame(tmp_path: Path) -> Callable[..., Path]:
    """Write a small FITS frame named ``name`` and return its path."""

    def make(
        name: str = "lsc1m009-fa04-20240305-0101-e00.fits",
        headers: dict[str, Any] | None = None,
        **options: Any,
    ) -> Path:
        compressed = name.endswith(".fz")
        path = tmp_path / name
        path.write_bytes(fits_bytes(headers, compressed=compressed, **options))
        return path

    return make


@pytest.fixture
def open_frame():
    """Open paths as :class:`File` objects, closed at the end of the test."""
    from ocs_archive.input.file import File

    opened = []

    def open_(path: Path | str):
        fileobj = open(path, "rb")  # noqa: SIM115 - closed by the fixture
        opened.append(fileobj)
        return File(fileobj, str(path))

    yield open_
    for fileobj in opened:
        fileobj.close()
