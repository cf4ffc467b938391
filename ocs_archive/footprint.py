"""Where a frame lies on the sky: corners, shapely footprints and GeoJSON.

A frame's footprint comes in three forms, from the most compatible to the most useful:

* the corners, :func:`wcs_corners`: the GeoJSON-style polygon dict that archive records
  keep in ``area`` (four ``[ra_deg, dec_deg]`` corners and the first one again);
* a shapely geometry, :func:`footprint` and :func:`footprint_from_corners`: the
  corners joined by great circles (the frame's real edges), drawn through points
  along each; longitude is RA in degrees within [0, 360], cut at RA 0 and closed
  over a pole the frame contains;
* GeoJSON, :func:`geojson_geometry` and :func:`feature_collection`: the same
  geometry with longitude within [-180, 180], cut at RA 180 as RFC 7946 asks.

``docs/footprints.md`` explains the conventions and where they differ from the
reference implementation. Importing this module is cheap: astropy, numpy and shapely
are imported by the functions that need them.
"""

from __future__ import annotations

import contextlib
import datetime
import itertools
import logging
import math
import numbers
import pathlib
import re
import threading
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ocs_archive.exceptions import OcsArchiveError
from ocs_archive.settings import settings

if TYPE_CHECKING:
    from astropy.io import fits
    from astropy.wcs import WCS
    from shapely.geometry import MultiPolygon, Polygon
    from shapely.geometry.base import BaseGeometry

logger = logging.getLogger(__name__)
_WARNINGS_LOCK = threading.RLock()

DEGENERATE_HALF_WIDTH_DEG = 1e-6
"""Half-width (degrees) of the strip standing for a frame whose corners enclose no area.

A cut-out one pixel high has corners on a single line; its shapely footprint is that
line widened by this much on each side (3.6 milliarcseconds, far below a pixel), so
that it is a valid polygon without claiming sky the frame does not show.
"""

EDGE_TOLERANCE_DEG = 1e-6
"""How far (degrees on the sky) a shapely footprint's edge may stray from its arc.

The edges of a frame are great circles: a gnomonic (TAN) projection maps each row and
column of pixels to one. In (RA, Dec) they curve, strongly near a pole, so each edge
is drawn through points along its great circle, close enough together that the
straight lines between them stay within this distance of it.
"""

# Limits on the points along one edge: an edge passing a hair from a pole needs about
# 50 halvings there, while an edge a quarter of the sky long still ends in bounded
# time.
_MAX_POINTS_PER_EDGE = 4096
_MIN_ARC_FRACTION = 1e-15

# A position this close to a pole (degrees) is taken to be on it: its RA means nothing.
_POLE_TOLERANCE_DEG = 1e-9

# Coordinates are snapped to this grid (degrees) when the pieces of a footprint cut at
# a seam are merged again, so that edges meeting at the seam meet exactly.
_GRID_DEG = 1e-10

# The keywords WCSLIB and astropy read for a WCS and its fixes: the standard's, the
# older forms WCSLIB still accepts (PROJPn, CNAMn, DATE-REF...), SIP, distortion
# lookups, DSS plate solutions, solar-system observer positions, and the dates and
# place of the observation. Only these go into the header a WCS is read from: a real
# frame has some 300 cards, and parsing them all took most of the time of its record.
_WCS_KEYWORD = re.compile(
    r"NAXIS[0-9]*|WCSAXES[A-Z]?"
    r"|(CRPIX|CRVAL|CDELT|CTYPE|CUNIT|CNAME|CRDER|CSYER|CROTA|CZPHS|CPERI)[0-9]+[A-Z]?"
    r"|(CNAM|CRDE|CSYE)[0-9]+[A-Z]?"
    r"|(PC|CD|PV|PS)[0-9]+(_[0-9]+)?[A-Z]?|PROJP[0-9]+[A-Z]?"
    r"|(LONPOLE|LATPOLE|LONGPOLE|RESTFRQ|RESTFREQ|RESTWAV|RADESYS|RADECSYS|EQUINOX"
    r"|EPOCH|WCSNAME|SPECSYS|SSYSOBS|VELOSYS|ZSOURCE|VSOURCE|SSYSSRC|VELANGL"
    r"|VELREF)[A-Z]?"
    r"|(DATE|MJD)-(OBS|BEG|AVG|END|REF)|MJD-REF[IF]|MJDREF[IF]?|JD-?REF[IF]?|DATEREF"
    r"|[JB]EPOCH|TIMESYS|TREFPOS|TREFDIR|TIMEUNIT|TIMEOFFS|PLEPHEM|TSTART|TSTOP"
    r"|XPOSURE|TELAPSE|TIMEPIXR|TIMEDEL|TIMSYER|TIMRDER|OBSGEO-[XYZLBH]|OBSORBIT"
    r"|(A|B|AP|BP)_(ORDER|DMAX|[0-9]+_[0-9]+)"
    r"|(CPDIS|CPERR|CQDIS|CQERR|DP|DQ)[0-9]+|D2IM(DIS|ERR|EXT|VER)[0-9]*|AXISCORR"
    r"|PLT[A-Z]+|[XY]PIXELSZ|PPO[0-9]+|AMD[XY][0-9]+|CNPIX[0-9]+"
    r"|(DSUN|CRLN|CRLT|HGLN|HGLT|BLON|BLAT|BDIS)_OBS|RSUN_REF|[ABC]_RADIUS"
)
_EXTRA_AXIS_KEYWORD = re.compile(r"NAXIS([3-9]|[1-9][0-9]+)")
_NUMERIC_WCS_KEYWORD = re.compile(
    r"(CRVAL|CRPIX|CDELT|CROTA)[0-9]+|(CD|PC|PV)[0-9]+_[0-9]+"
)


class FootprintError(OcsArchiveError, ValueError):
    """A corners dict or a geometry cannot be read as a sky footprint."""


Corners = dict[str, Any]


def wcs_corners(headers: Mapping[str, Any]) -> Corners | None:
    """The frame's four sky corners as a GeoJSON-style polygon dict, or None.

    The result is ``{'type': 'Polygon', 'coordinates': [[c1, c2, c3, c4, c1]]}`` with
    each corner ``[ra_deg, dec_deg]`` as Python floats. It comes from the pointing
    when the RA, DEC and RADIUS keys (``settings.RA_KEY`` and friends, read at call
    time) are all set: RA in hours, DEC in degrees, either as a number or sexagesimal
    text, RADIUS in arcseconds and under 90 degrees. The corners are then those of the
    square whose great-circle edges touch that circle, with RAs within [0, 360).
    Otherwise they are the world positions of the pixels (1, 1), (1, NAXIS2),
    (NAXIS1, NAXIS2) and (NAXIS1, 1) under the header's celestial WCS, distortions
    included, exactly as astropy gives them: usually within [0, 360), but not always
    (CRVAL1 = -0.01 gives RAs near -360 and 0), so read RA modulo 360.

    Never raises and never returns NaN or infinite values: a header that describes no
    usable footprint gives None, and the reason is logged at DEBUG.
    """
    pointing_keys = (settings.RA_KEY, settings.DEC_KEY, settings.RADIUS_KEY)
    if all(_is_set(headers.get(key)) for key in pointing_keys):
        corners = _corners_from_pointing(headers, *pointing_keys)
        if corners is not None:
            return corners
        logger.debug("Trying the image WCS since the pointing gave no footprint")
    return _corners_from_wcs(headers)


def footprint(headers: Mapping[str, Any]) -> Polygon | MultiPolygon | None:
    """The frame's footprint as a valid shapely geometry, or None.

    Same as ``footprint_from_corners(wcs_corners(headers))``.
    """
    return footprint_from_corners(wcs_corners(headers))


def footprint_from_corners(
    corners: Mapping[str, Any] | None,
) -> Polygon | MultiPolygon | None:
    """The footprint that ``corners`` (a :func:`wcs_corners` dict) describes, or None.

    The geometry is valid and its exterior rings run counter-clockwise. Longitude is RA
    in degrees within [0, 360], latitude is Dec. The corners are joined by the shorter
    great-circle arcs between them, as a frame's edges are, each drawn through points
    along it to within :data:`EDGE_TOLERANCE_DEG`. A frame across RA 0 comes back as a
    MultiPolygon of its two pieces; a frame whose edges wind round a pole covers every
    RA from its edge to that pole, the pole being on the smaller side of the ring.
    Corners enclosing no area give a thin strip (see
    :data:`DEGENERATE_HALF_WIDTH_DEG`). None gives None.

    Raises :class:`FootprintError` when ``corners`` is not such a dict.
    """
    continuous = continuous_footprint(corners)
    if continuous is None:
        return None
    return _cut_at_seam(continuous, west=0.0)


def continuous_footprint(
    corners: Mapping[str, Any] | None,
) -> Polygon | MultiPolygon | None:
    """The footprint in continuous RA, before it is cut at RA 0, or None.

    The edges follow great circles as in :func:`footprint_from_corners`, but RA runs
    on from the first corner without jumping at 0/360, so it may leave [0, 360): a
    frame across RA 0 spans, say, -0.1 to 0.1, and a frame around a pole spans 360
    degrees. Meant for drawing and for reasoning about one frame; use
    :func:`footprint_from_corners` to compare frames. Raises :class:`FootprintError`
    when ``corners`` is not a corners dict.
    """
    if corners is None:
        return None
    return _continuous_geometry(_ring_positions(corners))


def covers(
    geometry_or_corners: BaseGeometry | Mapping[str, Any] | None,
    ra_deg: float,
    dec_deg: float,
) -> bool:
    """Whether a footprint covers (contains or touches) the sky position given.

    ``geometry_or_corners`` is a corners dict, a geometry from
    :func:`footprint_from_corners` (RA within [0, 360]) or None (covers nothing).
    ``ra_deg`` may be any real number and is taken modulo 360; at ``dec_deg`` = +-90
    RA does not matter. The answer is the geometry's own, so a position within
    :data:`EDGE_TOLERANCE_DEG` of an edge may fall either side of it. Raises
    ``ValueError`` for a non-finite RA or a Dec outside [-90, 90].
    """
    from shapely.geometry import LineString, Point

    if not math.isfinite(ra_deg):
        raise ValueError(f"RA {ra_deg!r} is not a finite number of degrees")
    if not -90.0 <= dec_deg <= 90.0:
        raise ValueError(f"Dec {dec_deg!r} is outside [-90, 90] degrees")
    geometry = _as_footprint(geometry_or_corners)
    if geometry is None:
        return False
    if abs(dec_deg) == 90.0:
        return geometry.intersects(LineString([(0.0, dec_deg), (360.0, dec_deg)]))
    ra = _normalised_ra(ra_deg)
    if geometry.covers(Point(ra, dec_deg)):
        return True
    # RA 0 and RA 360 are the same meridian, but a piece cut at the seam may only
    # touch one of them.
    return ra == 0.0 and geometry.covers(Point(360.0, dec_deg))


def geojson_geometry(
    geometry_or_corners: BaseGeometry | Mapping[str, Any] | None,
) -> dict[str, Any] | None:
    """An RFC 7946 Polygon or MultiPolygon dict of a footprint, or None.

    The rings are those of the shapely footprint, so edges follow great circles
    through the points along them. Longitude is RA when RA <= 180 and RA - 360 above,
    so a frame across RA 0 stays one polygon while one across RA 180 is cut at the
    antimeridian into a MultiPolygon. Exterior rings run counter-clockwise. Accepts
    what :func:`covers` accepts.
    """
    geometry = _as_footprint(geometry_or_corners)
    if geometry is None:
        return None
    return _geojson_dict(_cut_at_seam(geometry, west=-180.0))


def feature_collection(records: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """An RFC 7946 FeatureCollection with one Feature per archive record.

    A record needs ``area`` (a corners dict or None) and ``basename``; its geometry is
    :func:`geojson_geometry` of ``area`` (``null`` when there is none) and its
    properties every other field holding a JSON scalar (dates become ISO 8601 text;
    ``headers``, lists and dicts are left out). Its ``id`` is the file name, basename
    and extension, taken from the record's ``store_path`` or else its ``file``, or the
    basename when it has neither; a name met again gets ``#2``, ``#3``... so that ids
    are unique in the collection. Raises :class:`FootprintError` naming the record
    whose ``area`` is malformed.
    """
    taken: set[str] = set()
    features = []
    for record in records:
        feature_id = _unique(_feature_name(record), taken)
        features.append(_feature(record, feature_id))
    return {"type": "FeatureCollection", "features": features}


# Corners from the pointing (RA, DEC, RADIUS)


def _corners_from_pointing(
    headers: Mapping[str, Any], ra_key: str, dec_key: str, radius_key: str
) -> Corners | None:
    ra_hours = _sexagesimal(headers[ra_key])
    dec_deg = _sexagesimal(headers[dec_key])
    radius_arcsec = _number(headers[radius_key])
    if (
        ra_hours is None
        or dec_deg is None
        or not -90.0 <= dec_deg <= 90.0
        or radius_arcsec is None
        or radius_arcsec < 0.0
    ):
        logger.debug(
            "No footprint from the pointing %s=%r %s=%r %s=%r: expected RA in hours, "
            "Dec in [-90, 90] degrees and a radius of zero or more arcseconds",
            ra_key,
            headers[ra_key],
            dec_key,
            headers[dec_key],
            radius_key,
            headers[radius_key],
        )
        return None
    radius_deg = radius_arcsec / 3600.0
    if radius_deg >= 90.0:
        logger.debug(
            "No footprint from the pointing: %s=%r arcsec reaches past a hemisphere",
            radius_key,
            headers[radius_key],
        )
        return None
    ra_deg = _normalised_ra(ra_hours * 15.0)
    return _polygon_dict(_pointing_corners(ra_deg, dec_deg, radius_deg))


def _pointing_corners(
    ra_deg: float, dec_deg: float, radius_deg: float
) -> list[tuple[float, float]]:
    """Corners of the square whose great-circle edges touch the circle round a centre.

    It is the square a camera with a gnomonic (TAN) projection would see: sides of
    2 tan(r) in the tangent plane, aligned with north, each side touching the circle
    of radius ``radius_deg`` at its middle. Its four corners, joined by great circles
    as :func:`footprint_from_corners` joins them, hold the whole field, pole included
    when the field holds one. The order is the reference's box order: north-west,
    north-east, south-east, south-west (west being lower RA).
    """
    if radius_deg == 0.0:
        return [(ra_deg, dec_deg)] * 4
    half_side = math.tan(math.radians(radius_deg))
    offsets = ((-1.0, 1.0), (1.0, 1.0), (1.0, -1.0), (-1.0, -1.0))
    return [
        _from_tangent_plane(ra_deg, dec_deg, east * half_side, north * half_side)
        for east, north in offsets
    ]


def _from_tangent_plane(
    ra_deg: float, dec_deg: float, xi: float, eta: float
) -> tuple[float, float]:
    """The sky position at standard coordinates (xi east, eta north) round a centre."""
    dec = math.radians(dec_deg)
    # The gnomonic projection's inverse, written with atan2 so that it holds at the
    # poles too, where the centre's RA only fixes which way "east" points.
    denominator = math.cos(dec) - eta * math.sin(dec)
    ra = ra_deg + math.degrees(math.atan2(xi, denominator))
    dec_out = math.atan2(
        math.sin(dec) + eta * math.cos(dec), math.hypot(xi, denominator)
    )
    return _normalised_ra(ra), math.degrees(dec_out)


def _sexagesimal(value: Any) -> float | None:
    """A number, or text ``[+-]D[:M[:S]]`` (colons or spaces), in the value's unit."""
    if isinstance(value, str):
        fields = value.replace(":", " ").split()
        if not 1 <= len(fields) <= 3:
            return None
        try:
            numbers = [float(field) for field in fields]
        except ValueError:
            return None
        magnitude = abs(numbers[0])
        for position, number in enumerate(numbers[1:], start=1):
            if fields[position][0] in "+-" or not 0.0 <= number < 60.0:
                return None
            magnitude += number / 60.0**position
        if not math.isfinite(magnitude):
            return None
        # The sign belongs to the whole angle: -00:30:00 is half a degree south.
        return -magnitude if fields[0].startswith("-") else magnitude
    return _number(value)


def _number(value: Any) -> float | None:
    """A finite float from a number or numeric text, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


# Corners from the image WCS


def _corners_from_wcs(headers: Mapping[str, Any]) -> Corners | None:
    size = _image_size(headers)
    if size is None:
        return None
    wcs = _celestial_wcs(headers)
    if wcs is None:
        return None

    width, height = size
    pixels = [[1, 1], [1, height], [width, height], [width, 1]]
    try:
        with _warnings_logged("evaluating the WCS"):
            world = wcs.all_pix2world(pixels, 1)
    except _wcs_errors() as exc:
        logger.debug("No footprint: the WCS cannot place the corner pixels: %s", exc)
        return None

    longitudes = world[:, wcs.wcs.lng]
    latitudes = world[:, wcs.wcs.lat]
    if wcs.wcs.lngtyp != "RA":
        converted = _to_icrs(wcs, longitudes, latitudes)
        if converted is None:
            return None
        longitudes, latitudes = converted
    positions = list(zip(longitudes.tolist(), latitudes.tolist(), strict=True))
    if not all(math.isfinite(lon) and math.isfinite(lat) for lon, lat in positions):
        logger.debug("No footprint: the WCS puts corner pixels nowhere: %s", positions)
        return None
    return _polygon_dict(positions)


def _image_size(headers: Mapping[str, Any]) -> tuple[int, int] | None:
    """(NAXIS1, NAXIS2) when the frame is a 2-D image, else None."""
    width = _axis_length(headers.get("NAXIS1"))
    height = _axis_length(headers.get("NAXIS2"))
    if width is None or height is None:
        logger.debug(
            "No footprint: NAXIS1=%r NAXIS2=%r is not an image size",
            headers.get("NAXIS1"),
            headers.get("NAXIS2"),
        )
        return None
    for key, value in headers.items():
        # An image with extra axes of length 1 is still one image of the sky; a cube
        # has one per plane, and the archive keeps no footprint for it.
        if (
            isinstance(key, str)
            and _EXTRA_AXIS_KEYWORD.fullmatch(key)
            and _is_set(value)
            and _axis_length(value) != 1
        ):
            logger.debug("No footprint: %s=%r (only length 1 is an image)", key, value)
            return None
    return width, height


def _axis_length(value: Any) -> int | None:
    """A positive whole number of pixels, else None."""
    if not _is_finite_number(value) or value != int(value) or value < 1:
        return None
    return int(value)


def _celestial_wcs(headers: Mapping[str, Any]) -> WCS | None:
    """The WCS of the first two pixel axes when they are a celestial pair, else None."""
    from astropy.wcs import WCS

    if not (_is_set(headers.get("CTYPE1")) and _is_set(headers.get("CTYPE2"))):
        logger.debug("No footprint: CTYPE1 and CTYPE2 are not both set")
        return None
    # WCSLIB skips a numeric keyword holding text or no value and uses its default
    # instead, which would put the footprint somewhere else without a word.
    not_numbers = {
        key: value
        for key, value in headers.items()
        if isinstance(key, str)
        and _NUMERIC_WCS_KEYWORD.fullmatch(key)
        and not _is_finite_number(value)
    }
    if not_numbers:
        logger.debug("No footprint: WCS keywords that are not numbers: %s", not_numbers)
        return None
    header = _fits_header(headers)
    try:
        with _warnings_logged("reading the WCS"):
            # naxis=2 keeps the first two axes, so an image with a degenerate third
            # axis (NAXIS3 = 1) or SIP terms in a 3-axis header still has a WCS.
            wcs = WCS(header, naxis=2)
    except _wcs_errors() as exc:
        logger.debug("No footprint: the WCS cannot be read: %s", exc)
        return None
    if not wcs.has_celestial:
        logger.debug(
            "No footprint: CTYPE1=%r and CTYPE2=%r are not a celestial pair",
            headers.get("CTYPE1"),
            headers.get("CTYPE2"),
        )
        return None
    return wcs


def _fits_header(headers: Mapping[str, Any]) -> fits.Header:
    """A FITS header of the WCS cards astropy accepts; bad ones are logged."""
    from astropy.io import fits

    cards = []
    for key, value in headers.items():
        if not (isinstance(key, str) and _WCS_KEYWORD.fullmatch(key)):
            continue
        try:
            cards.append(fits.Card(key, value))
        except (ValueError, TypeError) as exc:
            logger.debug("Leaving %s=%r out of the WCS header: %s", key, value, exc)
    with _warnings_logged("building the WCS header"):
        return fits.Header(cards)


def _to_icrs(wcs: WCS, longitudes: Any, latitudes: Any) -> tuple[Any, Any] | None:
    """Galactic or ecliptic corners as ICRS RA/Dec, or None when that is impossible."""
    from astropy.coordinates import SkyCoord
    from astropy.wcs.utils import wcs_to_celestial_frame

    try:
        frame = wcs_to_celestial_frame(wcs)
        icrs = SkyCoord(longitudes, latitudes, unit="deg", frame=frame).icrs
    except (ValueError, TypeError) as exc:
        logger.debug(
            "No footprint: %s/%s corners cannot be turned into RA/Dec: %s",
            wcs.wcs.lngtyp,
            wcs.wcs.lattyp,
            exc,
        )
        return None
    return icrs.ra.deg, icrs.dec.deg


def _wcs_errors() -> tuple[type[Exception], ...]:
    """What astropy raises for a header or WCS it cannot use."""
    from astropy.io.fits.verify import VerifyError

    # astropy.wcs's own errors (WcsError and its subclasses) are ValueErrors.
    return (ValueError, TypeError, KeyError, IndexError, ArithmeticError, VerifyError)


@contextlib.contextmanager
def _warnings_logged(action: str) -> Iterator[None]:
    """Log astropy's warnings (such as its fixes to dates) at DEBUG instead of warning.

    Besides keeping a library quiet, this stops a process that turns warnings into
    errors from losing footprints. ``warnings.catch_warnings`` changes process-wide
    state, so footprints are worked out one thread at a time (a few milliseconds
    each); a warning another thread raises meanwhile is logged here too.
    """
    with _WARNINGS_LOCK, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for warning in caught:
        logger.debug("While %s: %s", action, warning.message)


# Corners to geometry


def _polygon_dict(positions: Iterable[tuple[float, float]]) -> Corners:
    ring = [[float(lon), float(lat)] for lon, lat in positions]
    ring.append(list(ring[0]))
    return {"type": "Polygon", "coordinates": [ring]}


def _ring_positions(corners: Mapping[str, Any]) -> list[tuple[float, float]]:
    """The corner positions of a corners dict, without the closing repeat."""
    if not isinstance(corners, Mapping) or corners.get("type") != "Polygon":
        raise FootprintError(
            f"corners must be a dict with type 'Polygon', not {_shown(corners)}"
        )
    coordinates = corners.get("coordinates")
    if (
        not _is_sequence(coordinates)
        or not coordinates
        or not _is_sequence(coordinates[0])
    ):
        raise FootprintError(
            "corners 'coordinates' must be a list holding a ring of positions, not "
            f"{_shown(coordinates)}"
        )
    positions = [_position(position) for position in coordinates[0]]
    if len(positions) > 1 and positions[0] == positions[-1]:
        positions.pop()
    if not positions:
        raise FootprintError("corners hold no positions")
    return positions


def _position(position: Any) -> tuple[float, float]:
    if _is_sequence(position) and len(position) >= 2:
        lon, lat = position[0], position[1]
        if _is_finite_number(lon) and _is_finite_number(lat) and -90.0 <= lat <= 90.0:
            return float(lon), float(lat)
    raise FootprintError(
        f"corner {_shown(position)} is not [ra_deg, dec_deg] with finite numbers and "
        "Dec within [-90, 90]"
    )


def _continuous_geometry(
    corners: list[tuple[float, float]],
) -> Polygon | MultiPolygon:
    """The polygon the corners enclose, RA unwrapped from the first corner.

    Corners are joined by the great circles between them, as points along each arc.
    """
    from shapely import make_valid
    from shapely.geometry import Polygon

    ring = _with_pole_meridians(_great_circle_ring(corners))
    steps = _ra_steps(ring)
    longitudes = list(itertools.accumulate(steps[:-1], initial=ring[0][0]))
    latitudes = [lat for _, lat in ring]
    turns = round(math.fsum(steps) / 360.0)
    shell = list(zip(longitudes, latitudes, strict=True))

    if turns != 0:
        if abs(turns) > 1:
            raise FootprintError(f"corners wind round a pole {abs(turns)} times")
        pole = _enclosed_pole(steps, latitudes, turns)
        end = longitudes[0] + 360.0 * turns
        shell += [(end, latitudes[0]), (end, pole), (longitudes[0], pole)]

    if len(set(shell)) >= 3:
        polygon = Polygon(shell)
        # A ring crossing itself (strong distortion) or doubling back on itself (a
        # frame one pixel high) is repaired. What keeps less area than the strip
        # round a single point becomes a strip, which snapping to the grid when the
        # footprint is cut at a seam cannot wipe out.
        if not polygon.is_valid:
            polygon = _polygonal(make_valid(polygon))
        if polygon is not None and polygon.area >= (2 * DEGENERATE_HALF_WIDTH_DEG) ** 2:
            return polygon
    return _thin_strip(shell)


def _great_circle_ring(
    corners: list[tuple[float, float]],
) -> list[tuple[float, float]]:
    """The corners, with points along the great-circle arc from each to the next."""
    ring = []
    for start, end in zip(corners, [*corners[1:], corners[0]], strict=True):
        ring.append(start)
        ring.extend(_points_along_arc(start, end))
    return ring


def _points_along_arc(
    start: tuple[float, float], end: tuple[float, float]
) -> list[tuple[float, float]]:
    """Points strictly between ``start`` and ``end`` on the shorter great circle.

    Pieces of the arc are halved, a pass at a time, until the straight line in
    (RA, Dec) across each piece is within :data:`EDGE_TOLERANCE_DEG` of the arc at a
    quarter, half and three quarters of the way, and no piece turns more than a
    quarter of the way round in RA, so that unwrapping RA cannot go the wrong way
    round a pole.
    """
    first, last = _unit_vector(start), _unit_vector(end)
    angle = _angle_between(first, last)
    # An arc from or to a pole runs along a meridian, which is straight in (RA, Dec);
    # opposite points have no single great circle between them.
    if angle == 0.0 or angle > math.pi - 1e-9 or _at_pole(start) or _at_pole(end):
        return []

    vertices = {0.0: start, 1.0: end}
    unsettled = [(0.0, 1.0)]
    while unsettled and len(vertices) < _MAX_POINTS_PER_EDGE:
        halves = []
        for low, high in unsettled:
            if high - low <= _MIN_ARC_FRACTION or len(vertices) >= _MAX_POINTS_PER_EDGE:
                continue
            samples = {
                share: _position_of(
                    _along_arc(first, last, angle, low + share * (high - low))
                )
                for share in (0.25, 0.5, 0.75)
            }
            if _strays(vertices[low], vertices[high], samples):
                middle = (low + high) / 2.0
                vertices[middle] = samples[0.5]
                halves += [(low, middle), (middle, high)]
        unsettled = halves
    return [vertices[fraction] for fraction in sorted(vertices)][1:-1]


def _strays(
    start: tuple[float, float],
    end: tuple[float, float],
    arc_samples: Mapping[float, tuple[float, float]],
) -> bool:
    """Whether the straight (RA, Dec) line from start to end strays from the arc.

    ``arc_samples`` maps a share of the way along to the arc's position there.
    """
    if _at_pole(start) or _at_pole(end):
        return False
    ra_step = _signed_step(start[0], end[0])
    if abs(ra_step) > 90.0:
        return True
    dec_step = end[1] - start[1]
    for share, arc_point in arc_samples.items():
        line_point = (start[0] + share * ra_step, start[1] + share * dec_step)
        # Measured on the sky: near a pole a long stretch of RA is a short way.
        separation = _angle_between(_unit_vector(line_point), _unit_vector(arc_point))
        if math.degrees(separation) > EDGE_TOLERANCE_DEG:
            return True
    return False


def _with_pole_meridians(
    ring: list[tuple[float, float]],
) -> list[tuple[float, float]]:
    """The ring with each point at a pole replaced by the meridians meeting there.

    At a pole RA means nothing: an edge reaching it along one meridian leaves along
    another, which in (RA, Dec) is a stretch of the line Dec = +-90 from the RA of the
    point before to the RA of the point after.
    """
    if all(_at_pole(position) for position in ring):
        # A frame too small to leave the pole: the pole itself, made a strip later.
        return [(ring[0][0], math.copysign(90.0, ring[0][1]))]
    count = len(ring)
    result = []
    for index, position in enumerate(ring):
        if not _at_pole(position):
            result.append(position)
        elif not _at_pole(ring[index - 1]):
            before = ring[index - 1]
            after = next(
                ring[(index + ahead) % count]
                for ahead in range(1, count)
                if not _at_pole(ring[(index + ahead) % count])
            )
            pole = math.copysign(90.0, position[1])
            result += [(before[0], pole), (after[0], pole)]
    return result


def _ra_steps(ring: list[tuple[float, float]]) -> list[float]:
    """The RA from each point of the ring to the next, the last back to the first.

    Each step takes the shorter way round. A step of half a turn has none; it comes
    from an edge running straight through a pole, which the frame then touches but
    does not hold, so such steps are turned whichever way leaves the ring winding
    round no pole.
    """
    steps = [
        _signed_step(start[0], end[0])
        for start, end in zip(ring, [*ring[1:], ring[0]], strict=True)
    ]
    turns = round(math.fsum(steps) / 360.0)
    for index, step in enumerate(steps):
        if turns == 0:
            break
        if abs(abs(step) - 180.0) < 1e-9 and step * turns > 0.0:
            steps[index] = step - math.copysign(360.0, turns)
            turns -= int(math.copysign(1, turns))
    return steps


def _enclosed_pole(steps: list[float], latitudes: list[float], turns: int) -> float:
    """The pole inside a ring winding once round the sky: the smaller side of it."""
    # Taken eastward round the ring, the region between it and the north pole has
    # area integral((1 - sin Dec) dRA), the region down to the south pole
    # integral((1 + sin Dec) dRA). A frame is the smaller region, so it holds the
    # north pole when integral(sin Dec dRA) is positive.
    heights = [math.sin(math.radians(lat)) for lat in latitudes]
    following = [*heights[1:], heights[0]]
    flow = math.fsum(
        step * (here + there) / 2.0
        for step, here, there in zip(steps, heights, following, strict=True)
    )
    return 90.0 if flow * turns >= 0.0 else -90.0


def _unit_vector(position: tuple[float, float]) -> tuple[float, float, float]:
    ra, dec = math.radians(position[0]), math.radians(position[1])
    return (math.cos(dec) * math.cos(ra), math.cos(dec) * math.sin(ra), math.sin(dec))


def _position_of(vector: tuple[float, float, float]) -> tuple[float, float]:
    """(RA, Dec) in degrees of a direction; RA within [-180, 180]."""
    x, y, z = vector
    return math.degrees(math.atan2(y, x)), math.degrees(math.atan2(z, math.hypot(x, y)))


def _angle_between(
    first: tuple[float, float, float], second: tuple[float, float, float]
) -> float:
    """The angle (radians) between two unit vectors, accurate for tiny angles too."""
    chord = math.dist(first, second)
    return 2.0 * math.asin(min(chord / 2.0, 1.0))


def _along_arc(
    first: tuple[float, float, float],
    last: tuple[float, float, float],
    angle: float,
    fraction: float,
) -> tuple[float, float, float]:
    """The unit vector ``fraction`` of the way along the arc from first to last."""
    weight_first = math.sin((1.0 - fraction) * angle) / math.sin(angle)
    weight_last = math.sin(fraction * angle) / math.sin(angle)
    return tuple(
        weight_first * a + weight_last * b for a, b in zip(first, last, strict=True)
    )


def _at_pole(position: tuple[float, float]) -> bool:
    return 90.0 - abs(position[1]) <= _POLE_TOLERANCE_DEG


def _signed_step(start: float, end: float) -> float:
    """``end - start`` in RA, taken the shorter way round: within [-180, 180)."""
    return (end - start + 180.0) % 360.0 - 180.0


def _thin_strip(shell: list[tuple[float, float]]) -> Polygon | MultiPolygon:
    """The corners' line (or point) widened into a valid polygon of almost no area."""
    from shapely.geometry import LineString, Point

    path = [shell[0]]
    path += [point for point in shell[1:] if point != path[-1]]
    line = Point(path[0]) if len(path) == 1 else LineString(path)
    return line.buffer(
        DEGENERATE_HALF_WIDTH_DEG, cap_style="square", join_style="mitre"
    )


def _cut_at_seam(geometry: BaseGeometry, west: float) -> Polygon | MultiPolygon:
    """``geometry`` folded into longitudes [west, west + 360], cut where it crosses.

    Pieces lying outside the window are moved by whole turns into it; pieces meeting
    again (a frame across RA 0 when the window is [-180, 180]) are merged.
    """
    from shapely import union_all
    from shapely.affinity import translate
    from shapely.geometry import box

    min_lon, _, max_lon, _ = geometry.bounds
    first_turn = math.floor((min_lon - west) / 360.0)
    last_turn = math.floor((max_lon - west) / 360.0)
    pieces = []
    for turn in range(first_turn, last_turn + 1):
        offset = 360.0 * turn
        window = box(west + offset, -90.0, west + offset + 360.0, 90.0)
        piece = _polygonal(geometry.intersection(window))
        if piece is not None:
            pieces.append(translate(piece, xoff=-offset))
    merged = _polygonal(union_all(pieces, grid_size=_GRID_DEG))
    if merged is None:
        raise FootprintError(f"footprint {_shown(geometry.wkt)} has no area on the sky")
    return _counter_clockwise(merged)


def _polygonal(geometry: BaseGeometry) -> Polygon | MultiPolygon | None:
    """The parts of ``geometry`` with area, as one Polygon or MultiPolygon, or None."""
    from shapely.geometry import MultiPolygon

    polygons = _polygons_in(geometry)
    if not polygons:
        return None
    return polygons[0] if len(polygons) == 1 else MultiPolygon(polygons)


def _polygons_in(geometry: BaseGeometry) -> list[Polygon]:
    from shapely.geometry import Polygon

    if isinstance(geometry, Polygon):
        return [geometry] if geometry.area > 0.0 else []
    parts = getattr(geometry, "geoms", [])
    return [polygon for part in parts for polygon in _polygons_in(part)]


def _counter_clockwise(geometry: Polygon | MultiPolygon) -> Polygon | MultiPolygon:
    from shapely.geometry import MultiPolygon
    from shapely.geometry.polygon import orient

    if isinstance(geometry, MultiPolygon):
        return MultiPolygon([orient(polygon, sign=1.0) for polygon in geometry.geoms])
    return orient(geometry, sign=1.0)


def _as_footprint(
    geometry_or_corners: BaseGeometry | Mapping[str, Any] | None,
) -> Polygon | MultiPolygon | None:
    from shapely.geometry import MultiPolygon, Polygon

    if geometry_or_corners is None or isinstance(geometry_or_corners, Mapping):
        return footprint_from_corners(geometry_or_corners)
    if isinstance(geometry_or_corners, Polygon | MultiPolygon):
        return geometry_or_corners
    raise FootprintError(
        f"expected a corners dict or a shapely (Multi)Polygon, not "
        f"{_shown(geometry_or_corners)}"
    )


# GeoJSON


def _geojson_dict(geometry: Polygon | MultiPolygon) -> dict[str, Any]:
    polygons = list(getattr(geometry, "geoms", [geometry]))
    rings = [_polygon_rings(polygon) for polygon in polygons]
    if len(rings) == 1:
        return {"type": "Polygon", "coordinates": rings[0]}
    return {"type": "MultiPolygon", "coordinates": rings}


def _polygon_rings(polygon: Polygon) -> list[list[list[float]]]:
    rings = [polygon.exterior, *polygon.interiors]
    return [[[float(lon), float(lat)] for lon, lat in ring.coords] for ring in rings]


def _feature_name(record: Mapping[str, Any]) -> str | None:
    """The record's file name (basename and extension), else its basename, else None."""
    # A frame and its fpacked copy share a basename but not a file name.
    for key in ("store_path", "file"):
        path = record.get(key)
        if isinstance(path, str | pathlib.PurePath):
            name = pathlib.PurePath(path).name
            if name:
                return name
    basename = record.get("basename")
    return basename if isinstance(basename, str) and basename else None


def _unique(name: str | None, taken: set[str]) -> str | None:
    """``name``, or ``name#2``, ``name#3``... if already taken; marks it taken."""
    if name is None:
        return None
    candidate, repeat = name, 1
    while candidate in taken:
        repeat += 1
        candidate = f"{name}#{repeat}"
    taken.add(candidate)
    return candidate


def _feature(record: Mapping[str, Any], feature_id: str | None) -> dict[str, Any]:
    basename = record.get("basename")
    try:
        geometry = geojson_geometry(record.get("area"))
    except FootprintError as exc:
        raise FootprintError(f"area of record {basename!r}: {exc}") from exc
    feature: dict[str, Any] = {"type": "Feature"}
    if feature_id is not None:
        feature["id"] = feature_id
    feature["geometry"] = geometry
    feature["properties"] = _properties(record)
    return feature


def _properties(record: Mapping[str, Any]) -> dict[str, Any]:
    """The record's fields that are JSON scalars; dates become ISO 8601 text."""
    properties: dict[str, Any] = {}
    for key, value in record.items():
        if not isinstance(key, str) or key in ("area", "headers"):
            continue
        if isinstance(value, datetime.date | datetime.time):
            properties[key] = value.isoformat()
        elif isinstance(value, float):
            # JSON has no NaN or infinity; an unknown number is null.
            properties[key] = value if math.isfinite(value) else None
        elif value is None or isinstance(value, str | int | bool):
            properties[key] = value
    return properties


# Small shared pieces


def _is_set(value: Any) -> bool:
    """Whether a header value counts as given: neither None nor empty text."""
    return value is not None and value != ""


def _is_finite_number(value: Any) -> bool:
    """Whether ``value`` is a finite real number (not a bool, not text)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return False
    return math.isfinite(value)


def _is_sequence(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str | bytes)


def _normalised_ra(ra_deg: float) -> float:
    """``ra_deg`` within [0, 360)."""
    ra = ra_deg % 360.0
    # A tiny negative angle modulo 360 rounds to 360.0 itself.
    return 0.0 if ra == 360.0 else ra


def _shown(value: Any, limit: int = 120) -> str:
    """``repr(value)``, shortened for an error message."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
