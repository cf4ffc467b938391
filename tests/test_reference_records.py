"""Every real frame gives the record the reference library gave, field by field.

Deliberate differences, each named where it is allowed:
- ``area`` for frames whose WCS has a degenerate third axis (``NAXIS3 = 1``), and for
  frames whose CD matrix leaves out its zero off-diagonal terms (the FITS standard says
  an absent ``CDi_j`` is 0): the reference gives None, this library the footprint.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from testframes import FRAME_DATA_KEYS, REAL_PDF_METADATA

from ocs_archive.input.filefactory import FileFactory
from ocs_archive.record import build_record


def _frames(folder: Path | None) -> list[str]:
    if folder is None:
        return []
    return sorted(
        path.name for path in folder.iterdir() if path.suffix not in (".json", ".md")
    )


def _real_frames() -> list[str]:
    from testframes import real_data_dir

    return _frames(real_data_dir()) or ["<no real frames>"]


@pytest.fixture(params=_real_frames())
def described(request, lco_data, reference_records, open_frame):
    name = request.param
    open_file = open_frame(lco_data / name)
    metadata = REAL_PDF_METADATA if name.endswith(".pdf") else None
    datafile_class = FileFactory.get_datafile_class_for_extension(open_file.extension)
    data_file = datafile_class(open_file, metadata)
    return name, data_file, build_record(data_file), reference_records[name]


def test_every_real_frame_has_a_reference_record(lco_data, reference_records):
    assert set(_frames(lco_data)) == set(reference_records)


def test_frame_data_matches_reference(described):
    name, _, record, reference = described
    for key in FRAME_DATA_KEYS:
        assert record[key] == reference[key], f"{name}: {key}"


def test_headers_match_reference(described):
    name, _, record, reference = described
    assert record["headers"] == reference["headers"], name


def test_store_path_type_and_md5_match_reference(described):
    name, data_file, record, reference = described
    assert data_file.get_filestore_path() == reference["filestore_path"]
    assert data_file.get_filestore_content_type() == reference["content_type"]
    assert type(data_file).__name__ == reference["datafile_class"]
    assert data_file.open_file.get_md5() == reference["md5"]
    assert record["basename"] == reference["basename"]


def test_area_matches_reference_or_is_a_named_improvement(described):
    name, _, record, reference = described
    area, expected = record["area"], reference["area"]
    if expected is None:
        if area is not None:
            # The named improvements: a degenerate third axis or an abbreviated CD
            # matrix no longer hides the frame.
            headers = reference["headers"]
            degenerate_axis = headers.get("NAXIS3") == 1
            abbreviated_cd = "CD1_1" in headers and not (
                "CD1_2" in headers and "CD2_1" in headers
            )
            assert degenerate_axis or abbreviated_cd, name
            corners = area["coordinates"][0]
            assert all(math.isfinite(v) for corner in corners for v in corner)
        return
    assert area["type"] == "Polygon"
    pairs = zip(area["coordinates"][0], expected["coordinates"][0], strict=True)
    for ours, theirs in pairs:
        assert ours == pytest.approx(theirs, abs=1e-9), name


def test_record_is_plain_json(described):
    _, _, record, _ = described
    text = json.dumps(record, allow_nan=False)
    assert json.loads(text) == record


def _is_plain(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def test_header_values_are_plain_json_types(described):
    name, _, record, _ = described
    odd = {k: v for k, v in record["headers"].items() if not _is_plain(v)}
    assert odd == {}, name
