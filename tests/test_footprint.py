"""Sky footprints: corners from headers, shapely geometry, covers() and GeoJSON."""

from __future__ import annotations

import datetime
import json
import logging
import math
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning, Sip
from shapely.geometry import MultiPolygon, Polygon
from testframes import real_data_dir

from ocs_archive import footprint
from ocs_archive.footprint import (
    DEGENERATE_HALF_WIDTH_DEG,
    EDGE_TOLERANCE_DEG,
    FootprintError,
    covers,
    feature_collection,
    footprint_from_corners,
    geojson_geometry,
    wcs_corners,
)

REFERENCE_FILE = "reference-0.5.0-records.json"
NO_DATA_REASON = (
    "real LCO frames not found: set OCS_ARCHIVE_TEST_DATA to the folder holding "
    f"{REFERENCE_FILE}, or place shared/data/lco beside the repository"
)


def lco_data_dir() -> Path | None:
    return real_data_dir()


def _reference_records() -> dict[str, dict[str, Any]]:
    folder = lco_data_dir()
    if folder is None:
        return {}
    return json.loads((folder / REFERENCE_FILE).read_text())


REFERENCE = _reference_records()


def _names(wanted: Any) -> list[Any]:
    """Reference record names passing ``wanted``, or one skipped case without data."""
    if not REFERENCE:
        return [pytest.param(None, marks=pytest.mark.skip(reason=NO_DATA_REASON))]
    return sorted(name for name, record in REFERENCE.items() if wanted(record))


def _has_celestial_image_wcs(record: dict[str, Any]) -> bool:
    headers = record["headers"]
    return (
        str(headers.get("CTYPE1", "")).startswith("RA--")
        and str(headers.get("CTYPE2", "")).startswith("DEC-")
        and isinstance(headers.get("NAXIS1"), int)
        and isinstance(headers.get("NAXIS2"), int)
        and headers.get("NAXIS3") in (None, 1)
    )


# Helpers


def positions(corners: dict[str, Any]) -> list[list[float]]:
    """The four corners of a corners dict, after checking its shape."""
    assert corners["type"] == "Polygon"
    (ring,) = corners["coordinates"]
    assert len(ring) == 5
    assert ring[0] == ring[4]
    assert all(type(value) is float for position in ring for value in position)
    return ring[:4]


def near(expected: Any, tolerance_deg: float = 1e-9) -> Any:
    """Matches positions (nested lists or arrays) within ``tolerance_deg``."""
    return pytest.approx(np.asarray(expected, dtype=float), abs=tolerance_deg)


def astropy_corners(headers: dict[str, Any]) -> np.ndarray:
    """World coordinates astropy gives for the four corner pixels (extra axes at 1)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        wcs = WCS(fits.Header(headers))
    width, height = headers["NAXIS1"], headers["NAXIS2"]
    pixels = np.array([[1, 1], [1, height], [width, height], [width, 1]], dtype=float)
    extra = np.ones((4, wcs.naxis - 2))
    return wcs.all_pix2world(np.hstack([pixels, extra]), 1)[:, :2]


def image_headers(wcs: WCS, width: int = 200, height: int = 100) -> dict[str, Any]:
    """A frame's header dict (plain JSON values) carrying ``wcs``."""
    headers = {"SIMPLE": True, "BITPIX": -32, "NAXIS": 2, "NAXIS1": width}
    headers["NAXIS2"] = height
    headers.update(dict(wcs.to_header(relax=True)))
    return headers


def tan_wcs(ra: float, dec: float, scale: float = 1e-3, rotation: float = 0.0) -> WCS:
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [ra, dec]
    wcs.wcs.crpix = [100.5, 50.5]
    # The CD matrix of CDELT1 = -scale, CDELT2 = scale turned by CROTA2 = rotation.
    angle = math.radians(rotation)
    wcs.wcs.cd = [
        [-scale * math.cos(angle), -scale * math.sin(angle)],
        [-scale * math.sin(angle), scale * math.cos(angle)],
    ]
    return wcs


def square_frame(ra: float, dec: float, half_width_deg: float = 0.05) -> dict:
    """Headers of a 101 x 101 pixel TAN frame centred on (ra, dec)."""
    scale = half_width_deg / 50.0
    return {
        "NAXIS": 2,
        "NAXIS1": 101,
        "NAXIS2": 101,
        "CTYPE1": "RA---TAN",
        "CTYPE2": "DEC--TAN",
        "CRVAL1": ra,
        "CRVAL2": dec,
        "CRPIX1": 51.0,
        "CRPIX2": 51.0,
        "CD1_1": -scale,
        "CD1_2": 0.0,
        "CD2_1": 0.0,
        "CD2_2": scale,
    }


def sky_of_pixels(
    headers: dict[str, Any], pixels: list[tuple[float, float]]
) -> list[tuple[float, float]]:
    """Where astropy puts pixel positions (FITS numbering, from 1) of a frame."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        wcs = WCS(fits.Header(headers))
    x, y = np.array(pixels, dtype=float).T
    sky = wcs.pixel_to_world(x - 1.0, y - 1.0)
    return list(zip(sky.ra.deg.tolist(), sky.dec.deg.tolist(), strict=True))


def pixel_grid(
    width: int, height: int, share: float, edges_only: bool = False, count: int = 15
) -> list[tuple[float, float]]:
    """A count x count grid of pixel positions spanning the corner pixels' centres.

    The grid is widened by ``share`` of the frame's size past each edge (narrowed when
    negative); ``edges_only`` keeps only its outermost rows and columns.
    """
    xs = np.linspace(1.0, width, count)
    ys = np.linspace(1.0, height, count)
    xs = (xs - xs.mean()) * (1.0 + 2.0 * share) + xs.mean()
    ys = (ys - ys.mean()) * (1.0 + 2.0 * share) + ys.mean()
    return [
        (x, y)
        for i, x in enumerate(xs)
        for j, y in enumerate(ys)
        if not edges_only or i in (0, count - 1) or j in (0, count - 1)
    ]


def pointing(ra: Any, dec: Any, radius_arcsec: Any) -> dict[str, Any]:
    return {"RA": ra, "DEC": dec, "RADIUS": radius_arcsec}


def circle_samples(ra_deg: float, dec_deg: float, radius_deg: float) -> list:
    """Points on the sky circle of ``radius_deg`` round (ra, dec), just inside it."""
    centre = SkyCoord(ra_deg * u.deg, dec_deg * u.deg)
    angles = np.linspace(0.0, 360.0, 72, endpoint=False) * u.deg
    ring = centre.directional_offset_by(angles, radius_deg * 0.999 * u.deg)
    return list(zip(ring.ra.deg, ring.dec.deg, strict=True))


def rfc7946_problems(geometry: dict[str, Any]) -> list[str]:
    """Where ``geometry`` breaks RFC 7946 (empty when it follows it)."""
    problems = []
    if geometry["type"] == "Polygon":
        polygons = [geometry["coordinates"]]
    elif geometry["type"] == "MultiPolygon":
        polygons = geometry["coordinates"]
    else:
        return [f"type {geometry['type']!r} is not a polygon type"]
    for polygon in polygons:
        for index, ring in enumerate(polygon):
            if len(ring) < 4:
                problems.append(f"ring of {len(ring)} positions")
            if ring[0] != ring[-1]:
                problems.append("ring not closed")
            for lon, lat in ring:
                if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
                    problems.append(f"position {[lon, lat]} out of range")
            for (lon1, _), (lon2, _) in zip(ring, ring[1:], strict=False):
                if abs(lon2 - lon1) > 180.0:
                    problems.append(f"edge {lon1} -> {lon2} crosses the antimeridian")
            twice_area = sum(
                x1 * y2 - x2 * y1
                for (x1, y1), (x2, y2) in zip(ring, ring[1:], strict=False)
            )
            if index == 0 and twice_area <= 0.0:
                problems.append("exterior ring is not counter-clockwise")
            if index > 0 and twice_area >= 0.0:
                problems.append("hole is not clockwise")
    json.dumps(geometry, allow_nan=False)
    return problems


def parts(geometry: Polygon | MultiPolygon) -> list[Polygon]:
    return list(getattr(geometry, "geoms", [geometry]))


# Real frames


@pytest.mark.parametrize("name", _names(lambda record: record["area"] is not None))
def test_real_frame_corners_match_reference(name: str) -> None:
    record = REFERENCE[name]

    corners = wcs_corners(record["headers"])

    expected = record["area"]["coordinates"][0][:4]
    assert positions(corners) == near(expected)


@pytest.mark.parametrize(
    "name",
    _names(lambda record: record["area"] is None and _has_celestial_image_wcs(record)),
)
def test_real_frame_without_reference_footprint_now_has_one(name: str) -> None:
    headers = REFERENCE[name]["headers"]

    corners = wcs_corners(headers)

    assert corners is not None, f"{name} has a celestial WCS but no footprint"
    assert np.all(np.isfinite(positions(corners)))
    assert positions(corners) == near(astropy_corners(headers))


@pytest.mark.parametrize(
    "name", _names(lambda record: not _has_celestial_image_wcs(record))
)
def test_real_frame_without_image_wcs_has_no_footprint(name: str) -> None:
    assert wcs_corners(REFERENCE[name]["headers"]) is None


def _fits_names() -> list[Any]:
    return _names(lambda record: record["content_type"] == "image/fits")


@pytest.mark.parametrize("name", _fits_names())
def test_corners_from_the_fits_file_itself(name: str) -> None:
    path = lco_data_dir() / name
    with fits.open(path) as frame:
        header = next(hdu.header for hdu in frame if "PROPID" in hdu.header)
        headers = {
            card.keyword: None if card.value is fits.card.UNDEFINED else card.value
            for card in header.cards
            if card.keyword not in ("", "HISTORY", "COMMENT")
        }
    reference = REFERENCE[name]

    corners = wcs_corners(headers)

    if reference["area"] is not None:
        expected = reference["area"]["coordinates"][0][:4]
        assert positions(corners) == near(expected)
    else:
        assert (corners is not None) == _has_celestial_image_wcs(reference)


def test_real_frames_keep_every_reference_footprint_and_gain_more() -> None:
    if not REFERENCE:
        pytest.skip(NO_DATA_REASON)
    with_reference = {n for n, r in REFERENCE.items() if r["area"] is not None}
    with_ours = {n for n, r in REFERENCE.items() if wcs_corners(r["headers"])}
    with_wcs = {n for n, r in REFERENCE.items() if _has_celestial_image_wcs(r)}

    assert with_reference < with_ours
    assert with_ours == with_wcs


def test_real_frames_warn_nothing_even_when_warnings_are_errors() -> None:
    if not REFERENCE:
        pytest.skip(NO_DATA_REASON)
    # astropy fixes these headers (observatory position, dates) with a warning.
    record = REFERENCE["cpt1m010-kb70-20151219-0073-e10.fits"]

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        corners = wcs_corners(record["headers"])

    expected = record["area"]["coordinates"][0][:4]
    assert positions(corners) == near(expected)


# WCS forms


def test_cd_matrix_corners_are_astropys() -> None:
    headers = image_headers(tan_wcs(150.0, 2.2, rotation=30.0))
    headers = {k: v for k, v in headers.items() if not k.startswith("PC")}
    wcs = tan_wcs(150.0, 2.2, rotation=30.0)
    headers.update(
        {f"CD{i}_{j}": wcs.wcs.cd[i - 1][j - 1] for i in (1, 2) for j in (1, 2)}
    )
    headers.pop("CDELT1", None)
    headers.pop("CDELT2", None)

    corners = wcs_corners(headers)

    assert positions(corners) == near(astropy_corners(headers))


def test_pc_and_cdelt_corners_are_astropys() -> None:
    headers = image_headers(tan_wcs(150.0, 2.2, rotation=30.0))
    assert "PC1_1" in headers and "CD1_1" not in headers

    corners = wcs_corners(headers)

    assert positions(corners) == near(astropy_corners(headers))


def test_the_other_cards_of_a_frame_change_nothing() -> None:
    headers = image_headers(tan_wcs(150.0, 2.2, rotation=30.0))
    expected = wcs_corners(headers)
    crowded = dict(headers)
    # What a real frame carries besides its WCS: some 300 cards of every kind.
    crowded.update({f"KEY{number:05d}": number * 0.5 for number in range(150)})
    crowded.update({f"TXT{number:05d}": "text " * 10 for number in range(100)})
    crowded.update({"HISTORY": ["one", "two"], "COMMENT": "x", "OBJECT": "NaN"})
    crowded.update({"frame_basename": "metadata", "WMSCLOUD": "UNKNOWN"})

    assert wcs_corners(crowded) == expected


def wcs_header(ctype: tuple[str, str], **extra: Any) -> dict[str, Any]:
    headers = {"SIMPLE": True, "BITPIX": -32, "NAXIS": 2, "NAXIS1": 200}
    headers.update({"NAXIS2": 100, "CTYPE1": ctype[0], "CTYPE2": ctype[1]})
    headers.update({"CRVAL1": 150.0, "CRVAL2": 30.0, "CRPIX1": 100.5, "CRPIX2": 50.5})
    headers.update({"CDELT1": -0.01, "CDELT2": 0.01, **extra})
    return headers


def dss_plate_headers() -> dict[str, Any]:
    """astropy's own DSS plate-solution test header, when astropy ships it."""
    import astropy.wcs

    from ocs_archive.input.fitsheaders import header_to_dict

    found = sorted(
        (Path(astropy.wcs.__file__).parent / "tests" / "data").glob("dss.*.fits*")
    )
    if not found:
        pytest.skip("this astropy does not ship its DSS test header")
    return header_to_dict(fits.getheader(found[0]), found[0].name)


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(wcs_header(("RA---AZP", "DEC--AZP"), PROJP1=2.0), id="PROJP1"),
        pytest.param(wcs_header(("TLON-CAR", "TLAT-CAR"), JEPOCH=2020.0), id="JEPOCH"),
        pytest.param(wcs_header(("TLON-CAR", "TLAT-CAR"), BEPOCH=1950.0), id="BEPOCH"),
        pytest.param(wcs_header(("RA---TAN", "DEC--TAN"), PLTRAH=10), id="part DSS"),
        pytest.param(None, id="DSS plate"),
    ],
)
def test_every_keyword_the_wcs_reads_is_kept(headers, monkeypatch) -> None:
    import re

    headers = dss_plate_headers() if headers is None else headers
    expected = wcs_corners(headers)
    # The footprint read from every FITS keyword of the frame.
    monkeypatch.setattr(
        footprint,
        "_WCS_KEYWORD",
        re.compile(r"(?!CONTINUE$|COMMENT$|HISTORY$)[A-Z0-9_-]{1,8}"),
    )

    assert expected == wcs_corners(headers)


def test_lonpole_still_turns_the_projection() -> None:
    headers = image_headers(tan_wcs(150.0, 2.2, rotation=30.0))
    headers["LONPOLE"] = 150.0

    corners = wcs_corners(headers)

    assert positions(corners) == near(astropy_corners(headers))
    assert positions(corners) != near(
        astropy_corners({k: v for k, v in headers.items() if k != "LONPOLE"})
    )


def test_crota2_rotates_like_the_equivalent_cd_matrix() -> None:
    rotation, scale = 25.0, 2e-4
    headers = {
        "NAXIS": 2,
        "NAXIS1": 300,
        "NAXIS2": 200,
        "CTYPE1": "RA---TAN",
        "CTYPE2": "DEC--TAN",
        "CRVAL1": 83.8,
        "CRVAL2": -5.4,
        "CRPIX1": 150.0,
        "CRPIX2": 100.0,
        "CDELT1": -scale,
        "CDELT2": scale,
        "CROTA2": rotation,
    }
    equivalent = image_headers(tan_wcs(83.8, -5.4, scale=scale, rotation=rotation), 300)
    equivalent.update({"NAXIS2": 200, "CRPIX1": 150.0, "CRPIX2": 100.0})

    corners = wcs_corners(headers)

    assert positions(corners) == near(astropy_corners(equivalent))


def test_sip_distortion_is_applied() -> None:
    wcs = tan_wcs(210.0, 54.3)
    wcs.wcs.ctype = ["RA---TAN-SIP", "DEC--TAN-SIP"]
    a = np.zeros((3, 3))
    b = np.zeros((3, 3))
    a[2, 0], b[0, 2] = 2e-5, -3e-5
    wcs.sip = Sip(a, b, None, None, wcs.wcs.crpix)
    headers = image_headers(wcs)
    undistorted = wcs.wcs_pix2world([[1, 1], [1, 100], [200, 100], [200, 1]], 1)

    corners = wcs_corners(headers)

    assert positions(corners) == near(astropy_corners(headers))
    assert np.abs(np.array(positions(corners)) - undistorted).max() > 1e-4


def test_sip_in_a_header_with_a_degenerate_third_axis() -> None:
    wcs = tan_wcs(210.0, 54.3)
    wcs.wcs.ctype = ["RA---TAN-SIP", "DEC--TAN-SIP"]
    a = np.zeros((3, 3))
    a[2, 0] = 2e-5
    wcs.sip = Sip(a, np.zeros((3, 3)), None, None, wcs.wcs.crpix)
    headers = image_headers(wcs)
    expected = astropy_corners(headers)
    headers.update({"NAXIS": 3, "NAXIS3": 1})

    assert positions(wcs_corners(headers)) == near(expected)


def test_degenerate_third_axis_gives_the_celestial_corners() -> None:
    wcs = WCS(naxis=3)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN", "WAVE"]
    wcs.wcs.crval = [30.0, -60.0, 5e-7]
    wcs.wcs.crpix = [100.5, 50.5, 1.0]
    wcs.wcs.cdelt = [-1e-3, 1e-3, 1e-9]
    headers = image_headers(wcs)
    headers.update({"NAXIS": 3, "NAXIS3": 1})

    corners = wcs_corners(headers)

    assert positions(corners) == near(astropy_corners(headers))


@pytest.mark.parametrize("extra", [{"NAXIS3": 2}, {"NAXIS3": 1, "NAXIS4": 3}])
def test_data_cube_has_no_footprint(
    extra: dict[str, int], caplog: pytest.LogCaptureFixture
) -> None:
    headers = image_headers(tan_wcs(30.0, -60.0))
    headers.update({"NAXIS": 2 + len(extra), **extra})

    with caplog.at_level(logging.DEBUG, logger="ocs_archive.footprint"):
        assert wcs_corners(headers) is None

    assert "only length 1 is an image" in caplog.text


def test_corners_are_ra_dec_when_the_axes_are_swapped() -> None:
    headers = image_headers(tan_wcs(120.0, 40.0))
    expected = astropy_corners(headers)
    swapped = dict(headers)
    for first, second in (("CTYPE1", "CTYPE2"), ("CRVAL1", "CRVAL2")):
        swapped[first], swapped[second] = headers[second], headers[first]
    # World axis 1 (Dec) now follows pixel axis 2, and world axis 2 (RA) pixel axis 1.
    swapped["PC1_1"], swapped["PC2_2"] = 0.0, 0.0
    swapped["PC1_2"], swapped["PC2_1"] = headers["PC2_2"], headers["PC1_1"]

    corners = wcs_corners(swapped)

    assert positions(corners) == near(expected)


def test_galactic_wcs_gives_icrs_corners() -> None:
    headers = image_headers(tan_wcs(10.0, 5.0))
    headers.update({"CTYPE1": "GLON-TAN", "CTYPE2": "GLAT-TAN"})
    headers.pop("RADESYS", None)
    galactic = astropy_corners(headers)
    expected = SkyCoord(galactic[:, 0], galactic[:, 1], unit="deg", frame="galactic")

    corners = np.array(positions(wcs_corners(headers)))

    assert corners[:, 0] == pytest.approx(expected.icrs.ra.deg, abs=1e-9)
    assert corners[:, 1] == pytest.approx(expected.icrs.dec.deg, abs=1e-9)


def test_unusable_header_values_are_skipped() -> None:
    headers = image_headers(tan_wcs(150.0, 2.2))
    expected = astropy_corners(headers)
    headers.update(
        {
            "OBSERVER": "José Núñez",
            "frame_basename": "x-e91",
            "A VERY LONG KEY": 1,
            "BADNUM": float("nan"),
            "HISTORY": "reduced",
        }
    )

    assert positions(wcs_corners(headers)) == near(expected)


@pytest.mark.parametrize(
    "change",
    [
        {"CTYPE1": "LINEAR", "CTYPE2": "LINEAR"},
        {"CTYPE1": None, "CTYPE2": None},
        {"PC1_1": 0.0, "PC1_2": 0.0, "PC2_1": 0.0, "PC2_2": 0.0},
        {"CRVAL1": "abc"},
        {"PC1_1": None},
        {"NAXIS1": 0},
        {"NAXIS2": 12.5},
        {"NAXIS1": True},
        {"CTYPE1": "RA---XYZ", "CTYPE2": "DEC--XYZ"},
    ],
)
def test_unusable_wcs_gives_none(change: dict[str, Any]) -> None:
    headers = image_headers(tan_wcs(150.0, 2.2))
    headers.update(change)

    assert wcs_corners(headers) is None


def test_corners_outside_the_projection_give_none_not_nan() -> None:
    # An all-sky Aitoff map whose corner pixels lie outside the projected ellipse.
    headers = {
        "NAXIS": 2,
        "NAXIS1": 100,
        "NAXIS2": 100,
        "CTYPE1": "RA---AIT",
        "CTYPE2": "DEC--AIT",
        "CRVAL1": 0.0,
        "CRVAL2": 0.0,
        "CRPIX1": 50.5,
        "CRPIX2": 50.5,
        "CDELT1": -4.0,
        "CDELT2": 4.0,
    }

    assert wcs_corners(headers) is None


# Corners from the pointing (RA, DEC, RADIUS)


def test_pointing_at_the_equator_is_the_reference_box() -> None:
    ra, r = 12 * 15.0, 36.0 / 3600.0

    corners = wcs_corners(pointing(12, 0, 36))

    assert positions(corners) == near(
        [[ra - r, r], [ra + r, r], [ra + r, -r], [ra - r, -r]]
    )


def test_pointing_at_dec_60_is_twice_as_wide_in_ra() -> None:
    r = 36.0 / 3600.0

    corners = positions(wcs_corners(pointing("06:00:00", "+60:00:00", 36)))

    # One degree of RA at Dec 60 is half a degree on the sky; the corners sit at Dec
    # 60 +- r, where the factor is a hair larger.
    half_width = (corners[1][0] - corners[0][0]) / 2.0
    assert half_width == pytest.approx(2.0 * r, rel=1e-3)
    assert [corners[0][1], corners[2][1]] == pytest.approx([60.0 + r, 60.0 - r])
    geometry = footprint_from_corners(wcs_corners(pointing(6, 60, 36)))
    assert all(covers(geometry, *point) for point in circle_samples(90.0, 60.0, r))


def test_pointing_just_short_of_the_pole() -> None:
    ra, dec, r = 30.0, 89.99, 18.0 / 3600.0

    corners = wcs_corners(pointing(ra / 15.0, dec, 18))

    geometry = footprint_from_corners(corners)
    # The northern edge touches the circle at its top, Dec + r, short of the pole.
    assert geometry.bounds[3] == pytest.approx(dec + r, abs=1e-9)
    assert all(covers(geometry, *point) for point in circle_samples(ra, dec, r))
    assert not covers(geometry, ra, 90.0)
    assert not covers(geometry, ra + 180.0, 89.99)


def test_pointing_round_the_north_pole_covers_the_field_and_the_pole() -> None:
    ra, dec, r = 30.0, 89.99, 60.0 / 3600.0

    corners = wcs_corners(pointing(ra / 15.0, dec, 60))

    assert all(-90.0 <= lat < 90.0 for _, lat in positions(corners))
    geometry = footprint_from_corners(corners)
    assert geometry.is_valid and geometry.bounds[2] - geometry.bounds[0] == 360.0
    assert all(covers(geometry, *point) for point in circle_samples(ra, dec, r))
    assert covers(geometry, 123.0, 90.0)
    # Across the pole the field reaches r - 0.01 = 0.0067 degrees past it, and the
    # square's corners a little further; 0.01 degrees past it lies outside.
    assert not covers(geometry, ra + 180.0, 89.99)
    assert not covers(geometry, ra, 89.9)


def test_pointing_at_the_south_pole() -> None:
    r = 60.0 / 3600.0

    corners = wcs_corners(pointing(3, -90, 60))

    # The corners of the square round the circle lie sqrt(2) r from its centre.
    assert all(-90.0 + r < lat < -90.0 + 1.5 * r for _, lat in positions(corners))
    geometry = footprint_from_corners(corners)
    assert covers(geometry, 0.0, -90.0)
    assert all(covers(geometry, lon, -90.0 + 0.99 * r) for lon in range(0, 360, 15))
    assert not covers(geometry, 45.0, -90.0 + 1.5 * r)


@pytest.mark.parametrize(
    ("ra_hours", "dec", "radius_deg"),
    [
        (2.0, 0.0, 0.01),
        (2.0, 89.99, 1.0 / 60.0),
        (5.0, -45.0, 50.0),
        (0.0, 45.0, 50.0),
        (7.0, -30.0, 89.0),
    ],
)
def test_pointing_edges_are_great_circles_touching_the_field(
    ra_hours: float, dec: float, radius_deg: float
) -> None:
    centre = SkyCoord(ra_hours * 15.0 * u.deg, dec * u.deg)
    ring = positions(wcs_corners(pointing(ra_hours, dec, radius_deg * 3600.0)))
    corners = SkyCoord([lon for lon, _ in ring], [lat for _, lat in ring], unit="deg")
    vectors = corners.cartesian.xyz.value.T

    for first, second in zip(vectors, np.roll(vectors, -1, axis=0), strict=True):
        x, y, z = (first + second) / np.linalg.norm(first + second)
        touch = SkyCoord(math.atan2(y, x) * u.rad, math.asin(z) * u.rad)
        assert centre.separation(touch).deg == pytest.approx(radius_deg, abs=1e-9)
    expected = math.degrees(
        math.atan(math.sqrt(2.0) * math.tan(math.radians(radius_deg)))
    )
    assert centre.separation(corners).deg == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("dec", [45.0, -45.0])
def test_pointing_reaching_past_the_equator_holds_its_own_pole(dec: float) -> None:
    # A 50 degree field round Dec +-45 holds the pole on its own side and reaches 5
    # degrees past the equator.
    geometry = footprint.footprint({"RA": 0, "DEC": dec, "RADIUS": 50 * 3600})

    assert geometry.is_valid
    assert covers(geometry, 0.0, dec)
    assert covers(geometry, 0.0, math.copysign(90.0, dec))
    assert not covers(geometry, 0.0, -math.copysign(90.0, dec))
    assert all(covers(geometry, *point) for point in circle_samples(0.0, dec, 50.0))
    far_side = -math.copysign(10.0, dec)
    assert not covers(geometry, 0.0, far_side)
    assert not covers(geometry, 180.0, 0.0)


def test_pointing_wider_than_a_hemisphere_is_refused() -> None:
    headers = {"RA": 0, "DEC": 45, "RADIUS": 90 * 3600}

    assert wcs_corners(headers) is None
    assert wcs_corners({**headers, "RADIUS": 89.9 * 3600}) is not None


def test_pointing_across_ra_zero() -> None:
    corners = wcs_corners(pointing("23:59:59.9", "-10:00:00", 36))

    assert all(0.0 <= lon < 360.0 for lon, _ in positions(corners))
    geometry = footprint_from_corners(corners)
    assert isinstance(geometry, MultiPolygon) and len(geometry.geoms) == 2
    assert covers(geometry, 0.0, -10.0)
    assert covers(geometry, 359.999, -10.0)


def test_zero_radius_is_a_point() -> None:
    corners = wcs_corners(pointing(1, 45, 0))

    assert positions(corners) == [[15.0, 45.0]] * 4
    assert covers(corners, 15.0, 45.0)
    assert footprint_from_corners(corners).is_valid


@pytest.mark.parametrize(
    ("ra", "dec", "expected_ra", "expected_dec"),
    [
        ("11:45:44.212", "-80:01:44.56", 176.43421666, -80.02904444),
        ("-00:30:00", "-00:30:00", 352.5, -0.5),
        ("1 30 0", "+5 15", 22.5, 5.25),
        (1.5, 5.25, 22.5, 5.25),
        ("1.5", "5.25", 22.5, 5.25),
    ],
)
def test_pointing_forms(
    ra: Any, dec: Any, expected_ra: float, expected_dec: float
) -> None:
    corners = positions(wcs_corners(pointing(ra, dec, 0)))

    assert corners[0] == pytest.approx([expected_ra, expected_dec], abs=1e-8)


@pytest.mark.parametrize(
    "bad",
    [
        pointing("25:xx:00", 10, 5),
        pointing(1, 95, 5),
        pointing(1, 10, -5),
        pointing(1, 10, "NaN"),
        pointing(1, "10:75:00", 5),
        pointing(1, 10, 400000),
    ],
)
def test_unusable_pointing_falls_back_to_the_image_wcs(bad: dict[str, Any]) -> None:
    headers = image_headers(tan_wcs(150.0, 2.2))
    expected = astropy_corners(headers)

    assert wcs_corners(bad) is None
    assert positions(wcs_corners({**headers, **bad})) == near(expected)


def test_pointing_keys_are_read_from_settings_at_call_time() -> None:
    headers = {"OBJRA": 2, "OBJDEC": 0, "APRAD": 36}
    settings_module = "ocs_archive.settings.settings"

    assert wcs_corners(headers) is None
    with (
        mock.patch(f"{settings_module}.RA_KEY", "OBJRA"),
        mock.patch(f"{settings_module}.DEC_KEY", "OBJDEC"),
        mock.patch(f"{settings_module}.RADIUS_KEY", "APRAD"),
    ):
        corners = wcs_corners(headers)

    assert positions(corners)[0] == pytest.approx([29.99, 0.01])


def test_empty_pointing_value_means_unset() -> None:
    headers = image_headers(tan_wcs(150.0, 2.2))
    headers.update(pointing("10:00:00", "+10:00:00", ""))

    assert positions(wcs_corners(headers)) == near(astropy_corners(headers))


# Shapely footprints and covers()


def test_footprint_of_an_ordinary_frame() -> None:
    headers = square_frame(150.0, 2.2)

    geometry = footprint.footprint(headers)

    assert isinstance(geometry, Polygon) and geometry.is_valid
    assert geometry.exterior.is_ccw
    assert covers(geometry, 150.0, 2.2)
    assert covers(geometry, 150.04, 2.24)
    assert not covers(geometry, 150.0, 2.3)
    assert not covers(geometry, 330.0, 2.2)


def test_frame_across_ra_zero_is_cut_into_two_pieces() -> None:
    across = footprint.footprint(square_frame(0.0, 10.0))
    away = footprint.footprint(square_frame(180.0, 10.0))

    assert isinstance(across, MultiPolygon) and across.is_valid
    assert [round(p.bounds[0], 9) for p in parts(across)].count(0.0) == 1
    assert [round(p.bounds[2], 9) for p in parts(across)].count(360.0) == 1
    assert across.area == pytest.approx(away.area, rel=1e-6)
    for ra in (0.0, 0.04, 359.96, -0.04, 360.0, 720.02):
        assert covers(across, ra, 10.0), ra
    assert not covers(across, 180.0, 10.0)
    assert not covers(across, 0.0, 10.1)


def test_corners_astropy_gives_outside_0_360_still_make_the_right_footprint() -> None:
    # With CRVAL1 just below 0, astropy gives corner RAs near -360 and near 0.
    corners = wcs_corners(square_frame(-0.01, 10.0))
    assert min(lon for lon, _ in positions(corners)) < -359.0

    geometry = footprint_from_corners(corners)

    assert isinstance(geometry, MultiPolygon) and geometry.is_valid
    assert geometry.bounds[0] == 0.0 and geometry.bounds[2] == 360.0
    assert covers(geometry, 359.99, 10.0) and covers(geometry, 0.03, 10.0)
    assert not covers(geometry, 0.05, 10.0)


@pytest.mark.parametrize("pole", [90.0, -90.0])
def test_frame_containing_a_pole_covers_every_ra_up_to_it(pole: float) -> None:
    headers = square_frame(40.0, pole)

    geometry = footprint.footprint(headers)

    assert isinstance(geometry, Polygon) and geometry.is_valid
    west, south, east, north = geometry.bounds
    assert (west, east) == (0.0, 360.0)
    assert (north if pole > 0 else south) == pole
    sign = math.copysign(1.0, pole)
    for ra in range(0, 360, 10):
        assert covers(geometry, ra, sign * 89.96)
        assert not covers(geometry, ra, sign * 89.9)
    assert covers(geometry, 0.0, pole)


def test_frame_near_but_off_the_pole_does_not_cover_it() -> None:
    geometry = footprint.footprint(square_frame(0.0, 89.9))

    assert geometry.is_valid
    assert covers(geometry, 0.0, 89.9)
    assert not covers(geometry, 0.0, 90.0)
    assert not covers(geometry, 180.0, 89.9)


@pytest.mark.parametrize(
    "dec", [89.0, -89.0, 89.2, -89.2, 89.5, -89.5, 89.9, -89.9, 90.0, -90.0]
)
def test_one_degree_frame_near_a_pole_covers_its_pixels_and_no_more(
    dec: float,
) -> None:
    # Straight rows and columns of pixels are great circles on the sky, which curve
    # hard in (RA, Dec) this close to a pole.
    headers = square_frame(40.0, dec, half_width_deg=0.5)

    geometry = footprint.footprint(headers)

    assert geometry.is_valid
    inside = sky_of_pixels(headers, pixel_grid(101, 101, share=-0.0001))
    outside = sky_of_pixels(headers, pixel_grid(101, 101, share=0.1, edges_only=True))
    assert [point for point in inside if not covers(geometry, *point)] == []
    assert [point for point in outside if covers(geometry, *point)] == []


@pytest.mark.parametrize(("dec", "rotation"), [(89.7, 30.0), (-89.7, -65.0), (90, 10)])
def test_turned_oblong_frame_near_a_pole_covers_its_pixels_and_no_more(
    dec: float, rotation: float
) -> None:
    headers = image_headers(tan_wcs(300.0, dec, scale=0.005, rotation=rotation))

    geometry = footprint.footprint(headers)

    assert geometry.is_valid
    inside = sky_of_pixels(headers, pixel_grid(200, 100, share=-0.0001))
    outside = sky_of_pixels(headers, pixel_grid(200, 100, share=0.1, edges_only=True))
    assert [point for point in inside if not covers(geometry, *point)] == []
    assert [point for point in outside if covers(geometry, *point)] == []


@pytest.mark.parametrize("mirrored", [False, True])
@pytest.mark.parametrize("pole_pixel", [(1.0, 1.0), (51.0, 1.0), (1.0, 51.0)])
def test_frame_with_the_pole_on_a_corner_or_an_edge(
    pole_pixel: tuple[float, float], mirrored: bool
) -> None:
    headers = square_frame(40.0, 90.0, half_width_deg=0.5)
    headers["CRPIX1"], headers["CRPIX2"] = pole_pixel
    if mirrored:
        # East to the right: the corners wind round the other way.
        headers["CD1_1"] = -headers["CD1_1"]

    geometry = footprint.footprint(headers)

    assert geometry.is_valid and geometry.bounds[3] == 90.0
    assert covers(geometry, 0.0, 90.0)
    inside = sky_of_pixels(headers, pixel_grid(101, 101, share=-0.0001))
    outside = sky_of_pixels(headers, pixel_grid(101, 101, share=0.1, edges_only=True))
    assert [point for point in inside if not covers(geometry, *point)] == []
    assert [point for point in outside if covers(geometry, *point)] == []


def test_footprint_edges_follow_great_circles_and_corners_stay_four() -> None:
    headers = square_frame(40.0, 89.5, half_width_deg=0.5)
    corners = wcs_corners(headers)

    geometry = footprint_from_corners(corners)
    exported = geojson_geometry(corners)

    assert positions(corners) == near(astropy_corners(headers))
    vertices = [point for part in parts(geometry) for point in part.exterior.coords]
    assert len(vertices) > 100
    # Every vertex lies on the plane of one of the frame's four edges, give or take
    # the tolerance where a piece is cut at RA 0 between two of them.
    ring = SkyCoord(*np.array(positions(corners)).T, unit="deg").cartesian.xyz.value.T
    normals = [
        np.cross(a, b) for a, b in zip(ring, np.roll(ring, -1, axis=0), strict=True)
    ]
    normals = [normal / np.linalg.norm(normal) for normal in normals]
    points = SkyCoord(*np.array(vertices).T, unit="deg").cartesian.xyz.value.T
    off_plane = [min(abs(np.dot(point, n)) for n in normals) for point in points]
    assert max(off_plane) < math.radians(EDGE_TOLERANCE_DEG)
    assert rfc7946_problems(exported) == []
    assert exported["type"] == "Polygon" and len(exported["coordinates"][0]) > 100


def test_corners_all_but_at_a_pole_give_a_tiny_footprint_on_it() -> None:
    ring = [[284.1, 90.0], [4.1, 89.9999999999], [47.2, 89.9999999999], [-78.4, 90.0]]
    corners = {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}

    geometry = footprint_from_corners(corners)

    assert geometry.is_valid and geometry.area < 1e-9
    assert covers(geometry, 123.0, 90.0)
    assert not covers(geometry, 123.0, 89.9999)


def test_one_pixel_high_frame_is_a_thin_valid_strip() -> None:
    headers = square_frame(24.0, -32.0)
    headers["NAXIS2"] = 1
    corners = wcs_corners(headers)
    start, end = positions(corners)[0], positions(corners)[2]

    geometry = footprint_from_corners(corners)

    assert isinstance(geometry, Polygon) and geometry.is_valid
    length = math.dist(start, end)
    width = 2.0 * DEGENERATE_HALF_WIDTH_DEG
    assert geometry.area == pytest.approx((length + width) * width, rel=1e-3)
    # The row of pixels runs along a great circle, which bows 10 milliarcseconds
    # away from the straight line between its ends in (RA, Dec).
    ((ra, dec),) = sky_of_pixels(headers, [(51.0, 1.0)])
    assert covers(geometry, ra, dec)
    assert not covers(geometry, ra, dec + 1.0 / 3600.0)


def test_self_crossing_corners_give_a_valid_footprint() -> None:
    bowtie = {
        "type": "Polygon",
        "coordinates": [
            [[10.0, 0.0], [11.0, 1.0], [11.0, 0.0], [10.0, 1.0], [10.0, 0.0]]
        ],
    }

    geometry = footprint_from_corners(bowtie)

    # Two triangles of half a square degree between them; their edges follow great
    # circles, a little off the straight lines near the equator.
    assert geometry.is_valid and geometry.area == pytest.approx(0.5, rel=1e-3)


def test_footprint_of_none_is_none_and_covers_nothing() -> None:
    assert footprint_from_corners(None) is None
    assert footprint.footprint({}) is None
    assert covers(None, 0.0, 0.0) is False


@pytest.mark.parametrize(
    ("corners", "message"),
    [
        ({"type": "Point", "coordinates": [1, 2]}, "type 'Polygon'"),
        ({"type": "Polygon", "coordinates": []}, "ring of positions"),
        ({"type": "Polygon", "coordinates": [[[1, 2], [3, 95]]]}, r"\[3, 95\]"),
        ({"type": "Polygon", "coordinates": [[[1, 2], ["a", 3]]]}, "finite numbers"),
    ],
)
def test_malformed_corners_are_refused(corners: dict, message: str) -> None:
    with pytest.raises(FootprintError, match=message):
        footprint_from_corners(corners)


@pytest.mark.parametrize(("ra", "dec"), [(0.0, 90.5), (0.0, -91.0), (math.nan, 0.0)])
def test_covers_refuses_impossible_positions(ra: float, dec: float) -> None:
    with pytest.raises(ValueError, match="RA|Dec"):
        covers(wcs_corners(square_frame(0.0, 0.0)), ra, dec)


def test_importing_footprint_stays_cheap() -> None:
    code = (
        "import sys, ocs_archive.footprint; "
        "print(sorted(m for m in ('astropy', 'shapely', 'numpy') if m in sys.modules))"
    )

    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == "[]"


# GeoJSON


def test_geojson_of_a_frame_across_ra_zero_is_one_polygon() -> None:
    geometry = geojson_geometry(wcs_corners(square_frame(0.0, 10.0)))

    assert rfc7946_problems(geometry) == []
    assert geometry["type"] == "Polygon"
    longitudes = [lon for lon, _ in geometry["coordinates"][0]]
    assert min(longitudes) == pytest.approx(-0.0508, abs=1e-3)
    assert max(longitudes) == pytest.approx(0.0508, abs=1e-3)


def test_geojson_of_a_frame_across_ra_180_is_cut_at_the_antimeridian() -> None:
    geometry = geojson_geometry(wcs_corners(square_frame(180.0, -30.0)))

    assert rfc7946_problems(geometry) == []
    assert geometry["type"] == "MultiPolygon"
    edges = sorted(
        (min(lon for lon, _ in polygon[0]), max(lon for lon, _ in polygon[0]))
        for polygon in geometry["coordinates"]
    )
    assert edges[0][0] == -180.0 and edges[1][1] == 180.0


def test_geojson_of_a_frame_round_the_pole() -> None:
    geometry = geojson_geometry(wcs_corners(square_frame(40.0, 90.0)))

    assert rfc7946_problems(geometry) == []
    longitudes = [lon for lon, _ in geometry["coordinates"][0]]
    latitudes = [lat for _, lat in geometry["coordinates"][0]]
    assert (min(longitudes), max(longitudes), max(latitudes)) == (-180.0, 180.0, 90.0)


def test_feature_collection_follows_rfc7946() -> None:
    records = [
        {
            "basename": "coj1m011-fa01-20240101-0001-e91",
            "area": wcs_corners(square_frame(180.0, 20.0)),
            "site_id": "coj",
            "observation_date": datetime.datetime(2024, 1, 1, 12, 30),
            "exposure_time": math.nan,
            "reduction_level": 91,
            "related_frame_filenames": ["bias"],
            "headers": {"OBJECT": "M31"},
        },
        {"basename": "coj1m011-fa01-20240101-0002-b00", "area": None, "site_id": "coj"},
    ]

    collection = feature_collection(records)

    text = json.dumps(collection, allow_nan=False)
    assert json.loads(text)["type"] == "FeatureCollection"
    first, second = collection["features"]
    assert first["type"] == "Feature" and first["id"] == records[0]["basename"]
    assert rfc7946_problems(first["geometry"]) == []
    assert first["properties"] == {
        "basename": "coj1m011-fa01-20240101-0001-e91",
        "site_id": "coj",
        "observation_date": "2024-01-01T12:30:00",
        "exposure_time": None,
        "reduction_level": 91,
    }
    assert second["geometry"] is None
    assert second["properties"]["site_id"] == "coj"


def test_feature_ids_are_unique_file_names() -> None:
    # A frame and its fpacked copy share a basename; the CLI's records carry 'file'
    # and 'store_path' as well.
    name = "lsc1m009-fa04-20240305-0101-e91"
    area = wcs_corners(square_frame(6.0, -72.0))
    folder = "lsc/fa04/20240305/processed"
    records = [
        {
            "basename": name,
            "area": area,
            "file": f"samples/{name}.fits",
            "store_path": f"{folder}/{name}.fits",
        },
        {
            "basename": name,
            "area": area,
            "file": f"samples/{name}.fits.fz",
            "store_path": f"{folder}/{name}.fits.fz",
        },
        {"basename": name, "area": area, "file": f"elsewhere/{name}.fits.fz"},
        {"basename": "bias_fa04_20240305_bin1x1", "area": None},
        {"basename": "bias_fa04_20240305_bin1x1", "area": None},
        {"area": None},
    ]

    features = feature_collection(records)["features"]

    assert [feature.get("id") for feature in features] == [
        f"{name}.fits",
        f"{name}.fits.fz",
        f"{name}.fits.fz#2",
        "bias_fa04_20240305_bin1x1",
        "bias_fa04_20240305_bin1x1#2",
        None,
    ]
    assert features[1]["properties"]["store_path"] == f"{folder}/{name}.fits.fz"


def test_feature_collection_names_the_record_with_bad_area() -> None:
    records = [{"basename": "bad-frame", "area": {"type": "Polygon"}}]

    with pytest.raises(FootprintError, match="bad-frame"):
        feature_collection(records)


def test_feature_collection_of_real_frames() -> None:
    if not REFERENCE:
        pytest.skip(NO_DATA_REASON)
    records = []
    for record in REFERENCE.values():
        records.append({**record, "area": wcs_corners(record["headers"])})

    collection = feature_collection(records)

    geometries = [feature["geometry"] for feature in collection["features"]]
    assert len(geometries) == len(REFERENCE)
    for geometry in filter(None, geometries):
        assert rfc7946_problems(geometry) == []
    assert all("headers" not in f["properties"] for f in collection["features"])
    json.dumps(collection, allow_nan=False)
