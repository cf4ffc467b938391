"""Sky plots of footprints: a real PNG, RA increasing leftward, frames across RA 0."""

from __future__ import annotations

import json
import struct
import sys
from pathlib import Path
from typing import Any

import pytest
from testframes import real_data_dir

pytest.importorskip(
    "matplotlib", reason="matplotlib (the 'plot' extra) is not installed"
)

from ocs_archive.footprint import FootprintError, wcs_corners  # noqa: E402
from ocs_archive.skyplot import plot_footprints, sky_window  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
REFERENCE_FILE = "reference-0.5.0-records.json"


def lco_data_dir() -> Path | None:
    return real_data_dir()


def frame_record(basename: str, ra: float, dec: float) -> dict[str, Any]:
    """An archive record of a 0.1 degree square TAN frame centred on (ra, dec)."""
    headers = {
        "NAXIS": 2,
        "NAXIS1": 101,
        "NAXIS2": 101,
        "CTYPE1": "RA---TAN",
        "CTYPE2": "DEC--TAN",
        "CRVAL1": ra,
        "CRVAL2": dec,
        "CRPIX1": 51.0,
        "CRPIX2": 51.0,
        "CD1_1": -0.001,
        "CD1_2": 0.0,
        "CD2_1": 0.0,
        "CD2_2": 0.001,
    }
    return {"basename": basename, "area": wcs_corners(headers), "site_id": "lsc"}


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from a PNG's header, after checking its signature."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_plot_is_a_png_of_every_footprint(tmp_path: Path) -> None:
    records = [
        frame_record("lsc1m005-fa15-20240101-0001-e91", 150.0, 2.2),
        frame_record("lsc1m005-fa15-20240101-0002-e91", 150.2, 2.3),
        {"basename": "lsc1m005-fa15-20240101-0003-b00", "area": None},
    ]
    output = tmp_path / "footprints.png"

    drawn = plot_footprints(records, output)

    assert drawn == 2
    assert png_size(output) == (800, 600)
    assert output.stat().st_size > 10_000


def test_labels_appear_only_up_to_the_limit(tmp_path: Path) -> None:
    records = [frame_record(f"frame-{index}", 10.0 + index, 0.0) for index in range(3)]

    plot_footprints(records, tmp_path / "labelled.png", label_limit=3)
    plot_footprints(records, tmp_path / "bare.png", label_limit=2)
    plot_footprints(records, tmp_path / "bare-again.png", label_limit=0)

    bare = (tmp_path / "bare.png").read_bytes()
    assert (tmp_path / "labelled.png").read_bytes() != bare
    assert (tmp_path / "bare-again.png").read_bytes() == bare


def test_frames_on_both_sides_of_ra_zero_sit_side_by_side(tmp_path: Path) -> None:
    records = [frame_record(f"f{ra}", ra, -5.0) for ra in (359.9, 0.0, 0.1)]

    window = sky_window(records)
    drawn = plot_footprints(records, tmp_path / "seam.png")

    assert drawn == 3
    assert window.ra_min == pytest.approx(-0.15, abs=1e-3)
    assert window.ra_max == pytest.approx(0.15, abs=1e-3)
    assert (window.dec_min, window.dec_max) == pytest.approx((-5.05, -4.95), abs=1e-3)


def test_window_is_cut_in_the_widest_empty_stretch_of_ra() -> None:
    records = [frame_record(f"f{ra}", ra, 0.0) for ra in (10.0, 100.0, 190.0, 280.0)]

    window = sky_window(records)

    # Four frames 90 degrees apart: any gap is as wide as the others, and the window
    # spans three gaps plus the frames rather than wrapping round.
    assert window.ra_max - window.ra_min == pytest.approx(270.1, abs=1e-3)
    assert 0.0 <= (window.ra_min + window.ra_max) / 2.0 < 360.0


def test_window_of_a_frame_round_the_pole_spans_every_ra() -> None:
    records = [frame_record("pole", 40.0, 90.0), frame_record("near", 100.0, 89.7)]

    window = sky_window(records)

    assert (window.ra_min, window.ra_max) == (0.0, 360.0)
    assert window.dec_max == 90.0
    lowest_corner = min(lat for _, lat in records[1]["area"]["coordinates"][0])
    assert window.dec_min == pytest.approx(lowest_corner, abs=1e-9)
    assert 89.6 < window.dec_min < 89.65


def drawn_labels(
    records: list[dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Any, list[Any]]:
    """Plot the records; return the axes' box and its labels' boxes, in pixels."""
    from matplotlib.figure import Figure

    saved = []
    save = Figure.savefig

    def keep_and_save(figure: Figure, *args: Any, **kwargs: Any) -> None:
        saved.append(figure)
        save(figure, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", keep_and_save)
    plot_footprints(records, tmp_path / "labels.png")
    (figure,) = saved
    renderer = figure.canvas.get_renderer()
    (axes,) = figure.axes
    boxes = [text.get_window_extent(renderer) for text in axes.texts]
    return axes, boxes


def test_labels_of_frames_at_the_same_place_do_not_overlap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A raw frame, its processed copy and a frame a hair away share a centre.
    records = [
        frame_record("lsc1m009-fa04-20240305-0101-e00", 6.0, -72.08),
        frame_record("lsc1m009-fa04-20240305-0101-e91", 6.0, -72.08),
        frame_record("lsc1m009-fa04-20240305-0102-e91", 6.0001, -72.0801),
        frame_record("far-away-frame", 150.0, 2.2),
    ]

    axes, boxes = drawn_labels(records, tmp_path, monkeypatch)

    assert len(boxes) == 4
    for index, box in enumerate(boxes):
        for other in boxes[index + 1 :]:
            assert not box.overlaps(other)


def test_labels_stay_inside_the_axes_near_the_pole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = [
        frame_record("round-the-pole-e91", 40.0, 90.0),
        frame_record("near-the-pole-e91", 100.0, 89.7),
    ]

    axes, boxes = drawn_labels(records, tmp_path, monkeypatch)

    title = axes.title.get_window_extent()
    for box in boxes:
        assert axes.bbox.x0 <= box.x0 and box.x1 <= axes.bbox.x1
        assert axes.bbox.y0 <= box.y0 and box.y1 <= axes.bbox.y1
        assert box.y1 < title.y0


def test_plot_of_no_footprints_is_still_a_png(tmp_path: Path) -> None:
    output = tmp_path / "empty.png"

    drawn = plot_footprints([{"basename": "x", "area": None}], output)

    assert drawn == 0
    assert png_size(output) == (800, 600)
    assert sky_window([]) is None


def test_negative_label_limit_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="label_limit"):
        plot_footprints([], tmp_path / "x.png", label_limit=-1)


def test_malformed_area_names_the_record(tmp_path: Path) -> None:
    records = [{"basename": "broken-frame", "area": {"type": "Polygon"}}]

    with pytest.raises(FootprintError, match="broken-frame"):
        plot_footprints(records, tmp_path / "x.png")


def test_missing_matplotlib_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in (
        "matplotlib",
        "matplotlib.figure",
        "matplotlib.ticker",
        "matplotlib.backends.backend_agg",
    ):
        monkeypatch.setitem(sys.modules, name, None)

    with pytest.raises(ImportError, match=r"pip install 'ocs-archive\[plot\]'"):
        plot_footprints([frame_record("f", 1.0, 1.0)], tmp_path / "x.png")

    assert not (tmp_path / "x.png").exists()


def test_plot_of_real_frames(tmp_path: Path) -> None:
    folder = lco_data_dir()
    if folder is None:
        pytest.skip(
            "real LCO frames not found: set OCS_ARCHIVE_TEST_DATA or place "
            "shared/data/lco beside the repository"
        )
    reference = json.loads((folder / REFERENCE_FILE).read_text())
    records = [
        {**record, "area": wcs_corners(record["headers"])}
        for record in reference.values()
    ]
    output = tmp_path / "real.png"

    drawn = plot_footprints(records, output)

    assert drawn == sum(record["area"] is not None for record in records)
    assert drawn > sum(record["area"] is not None for record in reference.values())
    assert png_size(output) == (800, 600)
