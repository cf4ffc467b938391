"""Shared fixtures: the real frames (when present) and frames built with astropy."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from testframes import fits_bytes, real_data_dir


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
