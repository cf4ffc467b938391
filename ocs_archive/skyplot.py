"""Draw frames' footprints on a sky plot saved as PNG.

Needs matplotlib, which is optional: ``pip install 'ocs-archive[plot]'``. It is
imported when a plot is drawn, never when this module is imported.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ocs_archive.footprint import (
    FootprintError,
    continuous_footprint,
    footprint_from_corners,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from shapely.geometry import MultiPolygon, Polygon

logger = logging.getLogger(__name__)

_FIGURE_SIZE_INCHES = (8.0, 6.0)
_DPI = 100
# Room left round the footprints, as a share of the larger side of the data, and at
# least this many degrees so that a single small frame is not drawn edge to edge.
_MARGIN_SHARE = 0.05
_MIN_MARGIN_DEG = 0.01
# Beyond this |Dec| a degree of RA is so short on the sky that drawing it to scale
# squeezes the plot into a sliver, so RA and Dec are drawn with their own scales.
_TRUE_SCALE_MAX_DEC = 80.0
# Labels: their size, their distance from the centre they name, the height of a line
# when labels are stacked, and how close (all in points) two centres must be drawn
# for their labels to be stacked rather than placed side by side.
_LABEL_FONT_PT = 7.0
_LABEL_GAP_PT = 4.0
_LABEL_LINE_PT = 9.0
_SAME_PLACE_PT = 6.0


@dataclass(frozen=True)
class SkyWindow:
    """The stretch of sky that holds a set of footprints, in degrees.

    RA runs on one unbroken axis, so ``ra_min`` and ``ra_max`` may leave [0, 360):
    footprints on both sides of RA 0 give, for example, -0.2 to 0.2. The window is
    placed so that its middle lies within [0, 360).
    """

    ra_min: float
    ra_max: float
    dec_min: float
    dec_max: float


@dataclass(frozen=True)
class _PlacedFootprint:
    basename: str
    geometry: Polygon | MultiPolygon
    centre: tuple[float, float]


def sky_window(records: Iterable[Mapping[str, Any]]) -> SkyWindow | None:
    """The smallest window holding every record's footprint, or None when none has one.

    Records are archive records with ``area`` (a corners dict or None). The RA axis is
    cut in the middle of the widest stretch of RA no footprint covers, so frames on
    both sides of RA 0 sit side by side. Raises
    :class:`~ocs_archive.footprint.FootprintError` naming a record whose ``area`` is
    malformed.
    """
    return _window(_placed_footprints(records))


def plot_footprints(
    records: Iterable[Mapping[str, Any]],
    output_path: str | os.PathLike[str],
    *,
    label_limit: int = 12,
) -> int:
    """Draw each record's footprint and centre on a sky plot; return how many.

    The PNG shows RA increasing to the left and Dec upward, in degrees, zoomed to
    :func:`sky_window` with a margin; when at most ``label_limit`` footprints are drawn
    each is labelled with its record's ``basename``. Records without ``area`` are
    skipped. Drawing uses matplotlib's Agg renderer and needs no display.

    Raises ``ImportError`` when matplotlib is not installed, ``ValueError`` for a
    negative ``label_limit`` and :class:`~ocs_archive.footprint.FootprintError` for a
    record whose ``area`` is malformed.
    """
    if label_limit < 0:
        raise ValueError(f"label_limit must be 0 or more, not {label_limit!r}")
    figure, drawn = _figure(records, label_limit)
    figure.savefig(output_path, format="png")
    logger.debug("Drew %s footprints in %s", drawn, output_path)
    return drawn


def _figure(
    records: Iterable[Mapping[str, Any]], label_limit: int
) -> tuple[Figure, int]:
    """The plot of the records' footprints, and how many it shows."""
    figure_class, canvas_class, formatter_class = _matplotlib()
    placed = _placed_footprints(records)

    figure = figure_class(figsize=_FIGURE_SIZE_INCHES, dpi=_DPI)
    canvas_class(figure)
    axes = figure.add_subplot()
    _draw(axes, placed)
    _frame_axes(axes, _window(placed))
    if len(placed) <= label_limit:
        _label(axes, placed)
    axes.xaxis.set_major_formatter(formatter_class(_ra_tick_label))
    axes.set_xlabel("Right ascension (deg)")
    axes.set_ylabel("Declination (deg)")
    noun = "frame" if len(placed) == 1 else "frames"
    axes.set_title(f"Footprints of {len(placed)} {noun}")
    axes.grid(True, linewidth=0.5, alpha=0.4)
    return figure, len(placed)


def _matplotlib() -> tuple[Any, Any, Any]:
    """matplotlib's Figure, Agg canvas and tick formatter; ImportError says how."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.ticker import FuncFormatter
    except ImportError as exc:
        raise ImportError(
            "Drawing footprints needs matplotlib: pip install 'ocs-archive[plot]'"
        ) from exc
    return Figure, FigureCanvasAgg, FuncFormatter


def _placed_footprints(records: Iterable[Mapping[str, Any]]) -> list[_PlacedFootprint]:
    """Each record's footprint, moved by whole turns of RA onto one unbroken axis."""
    from shapely.affinity import translate

    found = []
    for record in records:
        basename = str(record.get("basename") or "")
        try:
            geometry = continuous_footprint(record.get("area"))
            if geometry is not None and _all_round(geometry):
                # Round a pole the continuous footprint starts wherever the first
                # corner is; cut at RA 0 instead, where the axis will start.
                geometry = footprint_from_corners(record.get("area"))
        except FootprintError as exc:
            raise FootprintError(f"area of record {basename!r}: {exc}") from exc
        if geometry is not None:
            found.append((basename, geometry))
    if not found:
        return []

    seam = _emptiest_ra([geometry.bounds for _, geometry in found])
    shifts = [
        360.0 * math.ceil((seam - geometry.bounds[0]) / 360.0) for _, geometry in found
    ]
    # Move everything by a whole turn so that the window's middle lies in [0, 360).
    pairs = list(zip(found, shifts, strict=True))
    west = min(geometry.bounds[0] + shift for (_, geometry), shift in pairs)
    east = max(geometry.bounds[2] + shift for (_, geometry), shift in pairs)
    turn = 360.0 * math.floor((west + east) / 2.0 / 360.0)

    placed = []
    for (basename, geometry), shift in pairs:
        moved = translate(geometry, xoff=shift - turn)
        placed.append(_PlacedFootprint(basename, moved, _centre(moved)))
    return placed


def _all_round(geometry: Polygon | MultiPolygon) -> bool:
    """Whether a footprint spans every RA (it holds a pole)."""
    west, _, east, _ = geometry.bounds
    return east - west >= 360.0 - 1e-9


def _emptiest_ra(bounds: list[tuple[float, float, float, float]]) -> float:
    """An RA in the middle of the widest stretch of RA that no footprint covers."""
    arcs = sorted(
        (west % 360.0, west % 360.0 + (east - west)) for west, _, east, _ in bounds
    )
    if any(end - start >= 360.0 for start, end in arcs):
        return 0.0
    # Going round twice meets the gap that spans RA 0 as well as the others.
    laps = arcs + [(start + 360.0, end + 360.0) for start, end in arcs]
    widest, seam = 0.0, 0.0
    reach = laps[0][1]
    for start, end in laps[1:]:
        if start - reach > widest:
            widest, seam = start - reach, (start + reach) / 2.0
        reach = max(reach, end)
    return seam % 360.0


def _centre(geometry: Polygon | MultiPolygon) -> tuple[float, float]:
    """Where to mark a footprint's centre: its pole when it holds one."""
    west, south, east, north = geometry.bounds
    if _all_round(geometry) and (north == 90.0 or south == -90.0):
        return (west + east) / 2.0, 90.0 if north == 90.0 else -90.0
    point = geometry.centroid
    return point.x, point.y


def _window(placed: list[_PlacedFootprint]) -> SkyWindow | None:
    if not placed:
        return None
    bounds = [footprint.geometry.bounds for footprint in placed]
    return SkyWindow(
        ra_min=min(west for west, _, _, _ in bounds),
        ra_max=max(east for _, _, east, _ in bounds),
        dec_min=min(south for _, south, _, _ in bounds),
        dec_max=max(north for _, _, _, north in bounds),
    )


def _draw(axes: Axes, placed: list[_PlacedFootprint]) -> None:
    for index, footprint in enumerate(placed):
        colour = _colour(index)
        for polygon in getattr(footprint.geometry, "geoms", [footprint.geometry]):
            longitudes, latitudes = polygon.exterior.xy
            axes.plot(longitudes, latitudes, color=colour, linewidth=1.0)
        axes.plot(*footprint.centre, marker="+", markersize=8, color=colour)


def _label(axes: Axes, placed: list[_PlacedFootprint]) -> None:
    """Name each footprint beside its centre, inside the axes and clear of the others.

    Labels run away from the nearer side edge and sit above the centre, or below it
    when the top edge is too close. Labels of centres drawn within a few points of
    each other (a frame and its processed copy) are stacked one line apart.
    """
    # Fix the axes' final box, which drawing to scale changes, so that data positions
    # can be turned into points on the page.
    axes.apply_aspect()
    points_per_pixel = 72.0 / axes.get_figure().dpi
    box = axes.bbox
    middle_x = (box.x0 + box.x1) / 2.0
    centres: list[tuple[float, float]] = []
    for index, footprint in enumerate(placed):
        if not footprint.basename:
            continue
        x, y = axes.transData.transform(footprint.centre)
        stacked = sum(
            abs(x - other_x) * points_per_pixel < _SAME_PLACE_PT
            and abs(y - other_y) * points_per_pixel < _SAME_PLACE_PT
            for other_x, other_y in centres
        )
        centres.append((x, y))
        rise = _LABEL_GAP_PT + stacked * _LABEL_LINE_PT
        room_above = (box.y1 - y) * points_per_pixel
        above = room_above >= rise + _LABEL_LINE_PT
        on_right = x > middle_x
        axes.annotate(
            footprint.basename,
            footprint.centre,
            xytext=(
                -_LABEL_GAP_PT if on_right else _LABEL_GAP_PT,
                rise if above else -rise,
            ),
            textcoords="offset points",
            ha="right" if on_right else "left",
            va="bottom" if above else "top",
            fontsize=_LABEL_FONT_PT,
            color=_colour(index),
        )


def _colour(index: int) -> str:
    return f"C{index % 10}"


def _frame_axes(axes: Axes, window: SkyWindow | None) -> None:
    """Zoom to the window with a margin, RA increasing to the left."""
    if window is None:
        axes.set_xlim(360.0, 0.0)
        axes.set_ylim(-90.0, 90.0)
        axes.text(0.5, 0.5, "no footprints", transform=axes.transAxes, ha="center")
        return

    middle_ra = (window.ra_min + window.ra_max) / 2.0
    middle_dec = (window.dec_min + window.dec_max) / 2.0
    true_scale = abs(middle_dec) <= _TRUE_SCALE_MAX_DEC
    # One degree of RA spans cos(Dec) degrees of sky.
    squeeze = math.cos(math.radians(middle_dec)) if true_scale else 1.0
    width = (window.ra_max - window.ra_min) * squeeze
    height = window.dec_max - window.dec_min
    if true_scale:
        margin = max(_MARGIN_SHARE * max(width, height), _MIN_MARGIN_DEG)
        width, height = width + 2.0 * margin, height + 2.0 * margin
        # Widen the shorter side to the axes' own proportions, so that drawing to
        # scale leaves the footprints in the middle rather than in a thin strip.
        box = axes.get_position()
        figure_width, figure_height = axes.get_figure().get_size_inches()
        box_ratio = (box.height * figure_height) / (box.width * figure_width)
        if height < width * box_ratio:
            height = width * box_ratio
        else:
            width = height / box_ratio
    else:
        width += 2.0 * max(_MARGIN_SHARE * width, _MIN_MARGIN_DEG)
        height += 2.0 * max(_MARGIN_SHARE * height, _MIN_MARGIN_DEG)

    half_ra = width / squeeze / 2.0
    axes.set_xlim(middle_ra + half_ra, middle_ra - half_ra)
    axes.set_ylim(
        max(middle_dec - height / 2.0, -90.0), min(middle_dec + height / 2.0, 90.0)
    )
    if true_scale:
        axes.set_aspect(1.0 / squeeze, adjustable="box")


def _ra_tick_label(value: float, _position: int | None = None) -> str:
    """An RA tick on the unbroken axis, shown within [0, 360)."""
    ra = round(value % 360.0, 6) % 360.0
    return f"{ra:g}"
