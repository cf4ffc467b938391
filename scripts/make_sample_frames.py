"""Write the small sample frames kept in ``samples/``.

Usage::

    python scripts/make_sample_frames.py [OUTDIR]

OUTDIR defaults to ``samples/`` at the repository root. The frames imitate what Las
Cumbres Observatory telescopes and pipelines write: a raw image, its fpacked processed
version and source catalog, the master bias used to process it, a spectrograph bundle,
and a summary PDF with the metadata an ingester would send along with it.

The images are tiny (16x16 pixels) so the files stay a few kB each, but their world
coordinate systems are scaled so that the footprint on the sky is the real camera's
field of view. Everything is fixed (dates, random seed, file-creation dates, archive
timestamps), so running the script twice writes the same bytes.
"""

import argparse
import gzip
import io
import json
import math
import tarfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.coordinates import Angle, EarthLocation
from astropy.io import fits
from astropy.time import Time
from astropy.wcs import WCS

DEFAULT_OUTDIR = Path(__file__).resolve().parent.parent / "samples"
RANDOM_SEED = 20240305

# A Sinistro camera covers 26.5 arcmin with 4096 pixels of 0.389 arcsec; the sample
# images keep that field of view with 16 pixels.
IMAGE_SHAPE = (16, 16)
IMAGE_SCALE_DEG = 0.389 * 4096 / IMAGE_SHAPE[1] / 3600

# fpack picks a dither seed from the clock unless told otherwise; a fixed seed keeps
# the compressed bytes reproducible while quantising the way fpack does.
FPACK_DITHER_SEED = 4242


@dataclass(frozen=True)
class Site:
    """Where a telescope stands, and the names its frames carry."""

    site_id: str
    name: str
    enclosure_id: str
    telescope_id: str
    telescope: str
    node: str
    latitude: float
    longitude: float
    height: float
    temperature: float
    humidity: float
    wind_speed: float


@dataclass(frozen=True)
class Exposure:
    """One exposure: when, where, of what, and for which proposal."""

    site: Site
    instrument: str
    instrument_type: str
    day_obs: str
    frame_number: int
    letter: str
    obstype: str
    date_obs: str
    exptime: float
    target: str
    ra: str
    dec: str
    filter_name: str
    proposal_id: str
    user_id: str
    block_uid: str
    molecule_uid: str
    request_number: str
    tracking_number: str

    def basename(self, reduction_level: int) -> str:
        """The LCO frame name: node-instrument-day-frame-letter and level."""
        return (
            f"{self.site.node}-{self.instrument}-{self.day_obs}-"
            f"{self.frame_number:04d}-{self.letter}{reduction_level:02d}"
        )

    @property
    def start(self) -> datetime:
        return datetime.fromisoformat(self.date_obs).replace(tzinfo=UTC)

    @property
    def ra_deg(self) -> float:
        return Angle(self.ra, unit=u.hourangle).degree

    @property
    def dec_deg(self) -> float:
        return Angle(self.dec, unit=u.deg).degree


LSC = Site(
    site_id="lsc",
    name="LCO node at Cerro Tololo Inter-American Observatory",
    enclosure_id="domc",
    telescope_id="1m0a",
    telescope="1m0-09",
    node="lsc1m009",
    latitude=-30.1673833,
    longitude=-70.8047889,
    height=2198.0,
    temperature=14.3,
    humidity=23.4,
    wind_speed=11.52,
)
OGG = Site(
    site_id="ogg",
    name="LCO node at Haleakala Observatory",
    enclosure_id="clma",
    telescope_id="2m0a",
    telescope="2m0-01",
    node="ogg2m001",
    latitude=20.7069444,
    longitude=-156.2575,
    height=3055.0,
    temperature=6.8,
    humidity=41.0,
    wind_speed=18.36,
)

# 47 Tuc early in the Chilean night: low in the south-west, near RA 0 h.
SCIENCE_EXPOSURE = Exposure(
    site=LSC,
    instrument="fa04",
    instrument_type="1m0-SciCam-Sinistro",
    day_obs="20240305",
    frame_number=101,
    letter="e",
    obstype="EXPOSE",
    date_obs="2024-03-06T00:41:26.304",
    exptime=60.0,
    target="47 Tuc",
    ra="00:24:05.360",
    dec="-72:04:52.60",
    filter_name="rp",
    proposal_id="LCO2024A-012",
    user_id="a.observer",
    block_uid="1893214417",
    molecule_uid="1910672265",
    request_number="0003481127",
    tracking_number="0001926540",
)

# Afternoon biases are taken with the telescope parked at the zenith, so the pointing
# is the local sidereal time and the site latitude.
BIAS_EXPOSURE = Exposure(
    site=LSC,
    instrument="fa04",
    instrument_type="1m0-SciCam-Sinistro",
    day_obs="20240305",
    frame_number=5,
    letter="b",
    obstype="BIAS",
    date_obs="2024-03-05T21:38:10.518",
    exptime=0.0,
    target="N/A",
    ra="03:51:26.800",
    dec="-30:10:02.58",
    filter_name="air",
    proposal_id="calibrate",
    user_id="lsc_calibrations",
    block_uid="1893187702",
    molecule_uid="1910598031",
    request_number="UNSPECIFIED",
    tracking_number="UNSPECIFIED",
)

SPECTRUM_EXPOSURE = Exposure(
    site=OGG,
    instrument="en06",
    instrument_type="2m0-FLOYDS-SciCam",
    day_obs="20240305",
    frame_number=12,
    letter="e",
    obstype="SPECTRUM",
    date_obs="2024-03-06T07:05:42.851",
    exptime=900.0,
    target="NGC 2903",
    ra="09:32:10.110",
    dec="+21:30:02.90",
    filter_name="air",
    proposal_id="LCO2024A-027",
    user_id="b.observer",
    block_uid="1893240931",
    molecule_uid="1910703388",
    request_number="0003482214",
    tracking_number="0001927001",
)


def iso_seconds(moment: datetime) -> str:
    """A UTC time as FITS writes it, to the millisecond and without an offset."""
    return moment.replace(tzinfo=None).isoformat(timespec="milliseconds")


def horizontal_position(exposure: Exposure) -> tuple[float, float]:
    """Altitude and azimuth of the pointing at the start, in degrees.

    Uses the mean sidereal time formula: good to a small fraction of a degree, which is
    all a sample header needs. astropy's AltAz would consult Earth-orientation tables
    whose updates would change the written bytes from one install to the next.
    """
    julian_days = Time(exposure.start).jd - 2451545.0
    sidereal_deg = 280.46061837 + 360.98564736629 * julian_days
    hour_angle = math.radians(sidereal_deg + exposure.site.longitude - exposure.ra_deg)
    latitude = math.radians(exposure.site.latitude)
    dec = math.radians(exposure.dec_deg)

    sin_alt = math.sin(latitude) * math.sin(dec) + math.cos(latitude) * math.cos(
        dec
    ) * math.cos(hour_angle)
    azimuth = math.atan2(
        -math.sin(hour_angle) * math.cos(dec),
        math.cos(latitude) * math.sin(dec)
        - math.sin(latitude) * math.cos(dec) * math.cos(hour_angle),
    )
    return math.degrees(math.asin(sin_alt)), math.degrees(azimuth) % 360


def site_cards(site: Site) -> list[tuple]:
    """Observatory, enclosure and telescope identity."""
    location = EarthLocation.from_geodetic(
        site.longitude * u.deg, site.latitude * u.deg, site.height * u.m
    )
    return [
        ("ORIGIN", "LCOGT", "Organization responsible for the data"),
        ("SITEID", site.site_id, "ID code of the Observatory site"),
        ("SITE", site.name, "Site"),
        ("ENCID", site.enclosure_id, "ID code of the Enclosure"),
        ("TELID", site.telescope_id, "ID code of the Telescope"),
        ("TELESCOP", site.telescope, "The Name of the Telescope"),
        ("LATITUDE", site.latitude, "[deg North] Telescope Latitude"),
        ("LONGITUD", site.longitude, "[deg East] Telescope Longitude"),
        ("HEIGHT", site.height, "[m] Altitude of Telescope above sea level"),
        ("OBSGEO-X", round(location.x.to_value(u.m), 3), "[m] Cartesian X (WGS84)"),
        ("OBSGEO-Y", round(location.y.to_value(u.m), 3), "[m] Cartesian Y (WGS84)"),
        ("OBSGEO-Z", round(location.z.to_value(u.m), 3), "[m] Cartesian Z (WGS84)"),
    ]


def timing_cards(exposure: Exposure, written: datetime) -> list[tuple]:
    """Frame numbering and the times of the exposure."""
    stop = exposure.start + timedelta(seconds=exposure.exptime + 1.3)
    return [
        ("OBSTYPE", exposure.obstype, "Observation type"),
        ("FRAMENUM", exposure.frame_number, "Running frame number"),
        ("MOLTYPE", exposure.obstype, "Molecule type"),
        ("MOLNUM", 3, "Molecule number"),
        ("MOLFRNUM", 1, "Exposure number within molecule"),
        ("FRMTOTAL", 1, "Total number of exposures within molecule"),
        ("ORIGNAME", exposure.basename(0) + ".fits", "Fname written by ICS"),
        ("TIMESYS", "UTC", "Time system used"),
        ("DATE", written.isoformat(timespec="seconds"), "[UTC] Date file written"),
        ("DATE-OBS", exposure.date_obs, "[UTC] Start date and time"),
        ("DAY-OBS", exposure.day_obs, "[UTC] Date at start of local observing night"),
        ("UTSTART", exposure.date_obs[11:], "[UTC] The start time of the observation"),
        ("UTSTOP", iso_seconds(stop)[11:], "[UTC] The finish time of the observation"),
        ("MJD-OBS", round(Time(exposure.start).mjd, 7), "[UTC days] Start date/time"),
        ("EXPTIME", exposure.exptime, "[s] Exposure length"),
    ]


def imager_cards(exposure: Exposure) -> list[tuple]:
    """Camera settings; sections and pixel scale describe the 16-pixel sample."""
    rows, columns = IMAGE_SHAPE
    section = f"[1:{columns},1:{rows}]"
    return [
        ("FILTER", exposure.filter_name, "Filter used"),
        ("INSTRUME", exposure.instrument, "Instrument used"),
        ("INSTYPE", exposure.instrument_type, "Type of instrument"),
        ("INSSTATE", "OKAY", "The instrument status"),
        ("DETECTOR", "Fairchild CCD486 BI", "Detector type"),
        ("GAIN", 1.0, "[electrons/count] Pixel gain"),
        ("RDNOISE", 7.2, "[electrons/pixel] Read noise"),
        ("SATURATE", 64000.0, "[ADU] Saturation level"),
        ("CCDSUM", "1 1", "CCD on-chip summing/binning"),
        ("DATASEC", section, "[binned pixel] Data section"),
        ("TRIMSEC", section, "[binned pixel] Section of useful data"),
        ("PIXSCALE", round(IMAGE_SCALE_DEG * 3600, 3), "[arcsec/pixel] Pixel scale"),
        ("CCDATEMP", -110.02, "[deg C] CCD actual temperature"),
    ]


def spectrograph_cards(exposure: Exposure) -> list[tuple]:
    """FLOYDS settings, including the slit whose half-length bounds the footprint."""
    return [
        ("FILTER", exposure.filter_name, "Filter used"),
        ("INSTRUME", exposure.instrument, "Instrument used"),
        ("INSTYPE", exposure.instrument_type, "Type of instrument"),
        ("INSSTATE", "OKAY", "The instrument status"),
        ("DETECTOR", "E2V CCD42-10", "Detector type"),
        ("GAIN", 2.0, "[electrons/count] Pixel gain"),
        ("RDNOISE", 3.5, "[electrons/pixel] Read noise"),
        ("CCDSUM", "1 1", "CCD on-chip summing/binning"),
        ("APERTYPE", "SLIT", "Aperture type"),
        ("APERWID", 1.6, "[arcsec] Slit width"),
        ("APERLEN", 30.0, "[arcsec] Slit length"),
        ("RADIUS", 15.0, "[arcsec] Half the slit length on the sky"),
    ]


def scheduling_cards(exposure: Exposure) -> list[tuple]:
    """Proposal and the scheduler's identifiers for this observation."""
    start = exposure.start.replace(tzinfo=None)
    block_start = start - timedelta(minutes=2)
    block_end = start + timedelta(seconds=exposure.exptime + 300)
    return [
        ("TAGID", "LCO", "Time Allocation Group ID"),
        ("USERID", exposure.user_id, "User ID"),
        ("PROPID", exposure.proposal_id, "Proposal ID"),
        ("GROUPID", exposure.target, "Group ID"),
        ("SCHEDNAM", "POND", "Name of scheduler in control"),
        ("TRACKNUM", exposure.tracking_number, "Request DB tracking number"),
        ("REQNUM", exposure.request_number, "Request DB request number"),
        ("MOLUID", exposure.molecule_uid, "Molecule unique ID"),
        ("BLKTYPE", "POND", "Group type"),
        ("BLKUID", exposure.block_uid, "Group unique ID"),
        ("BLKSDATE", block_start.isoformat(timespec="seconds"), "[UTC] Block start"),
        ("BLKEDATE", block_end.isoformat(timespec="seconds"), "[UTC] Block end"),
    ]


def pointing_cards(exposure: Exposure) -> list[tuple]:
    """Where the telescope pointed, with altitude and airmass that agree with it.

    The Moon and weather cards hold the same values for every exposure of a site, as
    the samples cover one night.
    """
    altitude, azimuth = horizontal_position(exposure)
    airmass = 1 / math.sin(math.radians(altitude))
    return [
        ("OBJECT", exposure.target, "Object name"),
        ("RA", exposure.ra, "[HH:MM:SS.sss] RA where telescope is pointing"),
        ("DEC", exposure.dec, "[sDD:MM:SS.ss] Dec where telescope is pointing"),
        ("RADESYS", "ICRS", "[[FK5,ICRS]] Fundamental coord. system"),
        ("CAT-RA", exposure.ra, "[HH:MM:SS.sss] Catalog RA of the object"),
        ("CAT-DEC", exposure.dec, "[sDD:MM:SS.ss] Catalog Dec of the object"),
        ("CAT-EPOC", 2000.0, "[Year] Catalog epoch of the coordinates"),
        ("SRCTYPE", "EXTRASOLAR", "Source type"),
        ("AZIMUTH", round(azimuth, 4), "[deg] Azimuth axis position"),
        ("ALTITUDE", round(altitude, 4), "[deg] Altitude axis position"),
        ("AIRMASS", round(airmass, 4), "Effective mean airmass"),
        ("ROTSKYPA", 0.0, "[deg] Rotator position angle"),
        ("MOONSTAT", "DOWN", "[{UP, DOWN}] Moon position at obs start"),
        ("MOONFRAC", 0.2105, "[(0 - 1)] Lunar Illuminated Fraction"),
        ("WMSTEMP", exposure.site.temperature, "[deg C] External temperature"),
        ("WMSHUMID", exposure.site.humidity, "[%] Current percentage humidity"),
        ("WINDSPEE", exposure.site.wind_speed, "[km/h] Windspeed"),
    ]


def celestial_wcs(
    ra_deg: float, dec_deg: float, rotation_deg: float, crpix: tuple[float, float]
) -> WCS:
    """A gnomonic WCS with a CD matrix, north up and east left when unrotated."""
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [ra_deg, dec_deg]
    wcs.wcs.crpix = list(crpix)
    cos_rot = math.cos(math.radians(rotation_deg))
    sin_rot = math.sin(math.radians(rotation_deg))
    # RA grows to the east, which is to the left on the sky as seen from the ground.
    wcs.wcs.cd = IMAGE_SCALE_DEG * np.array([[-cos_rot, sin_rot], [sin_rot, cos_rot]])
    return wcs


def wcs_cards(wcs: WCS) -> list[tuple]:
    """The WCS as the CTYPE, CRPIX, CRVAL and CD cards LCO frames carry."""
    cards = [
        ("CTYPE1", "RA---TAN", "Type of WCS Projection"),
        ("CTYPE2", "DEC--TAN", "Type of WCS Projection"),
        ("CRPIX1", round(float(wcs.wcs.crpix[0]), 4), "[pixel] Reference pixel axis 1"),
        ("CRPIX2", round(float(wcs.wcs.crpix[1]), 4), "[pixel] Reference pixel axis 2"),
        ("CRVAL1", round(float(wcs.wcs.crval[0]), 9), "[deg] RA at reference pixel"),
        ("CRVAL2", round(float(wcs.wcs.crval[1]), 9), "[deg] Dec at reference pixel"),
    ]
    for row in (1, 2):
        for column in (1, 2):
            value = float(wcs.wcs.cd[row - 1, column - 1])
            comment = "[deg/pixel] Transformation matrix element"
            cards.append((f"CD{row}_{column}", float(f"{value:.10e}"), comment))
    return cards


def build_header(*card_groups: list[tuple]) -> fits.Header:
    """Join groups of (key, value, comment) cards into one header."""
    header = fits.Header()
    for group in card_groups:
        header.extend(fits.Card(*card) for card in group)
    return header


def gaussian_blob(
    shape: tuple[int, int], x: float, y: float, flux: float, sigma: float
) -> np.ndarray:
    """A normalised 2-D Gaussian times flux, centred on zero-based pixel (x, y)."""
    rows, columns = np.indices(shape)
    radius_sq = (columns - x) ** 2 + (rows - y) ** 2
    return flux * np.exp(-radius_sq / (2 * sigma**2)) / (2 * math.pi * sigma**2)


# Sources in the 47 Tuc field: the cluster core and a few stars, as (offset east,
# offset north) in arcmin, flux in electrons and width in sample pixels. Counts are
# kept at what one real 0.389 arcsec pixel would see, so the sample looks like a
# camera frame, although each sample pixel spans 100 arcsec.
FIELD_SOURCES = [
    (0.0, 0.0, 1.5e5, 1.1),
    (-7.9, 5.2, 1.2e4, 0.55),
    (6.1, -8.3, 6.0e3, 0.55),
    (9.4, 7.7, 3.5e3, 0.55),
    (-4.6, -9.8, 2.0e3, 0.55),
]


def source_pixels(wcs: WCS, exposure: Exposure) -> list[tuple[float, float]]:
    """Zero-based pixel positions of FIELD_SOURCES through a frame's WCS."""
    cos_dec = math.cos(math.radians(exposure.dec_deg))
    positions = []
    for east, north, _flux, _sigma in FIELD_SOURCES:
        ra = exposure.ra_deg + east / 60 / cos_dec
        dec = exposure.dec_deg + north / 60
        x, y = wcs.all_world2pix([[ra, dec]], 0)[0]
        positions.append((float(x), float(y)))
    return positions


def raw_science_image(rng: np.random.Generator, wcs: WCS) -> np.ndarray:
    """Bias level plus sky plus sources, with Poisson and read noise, as uint16."""
    expected = np.full(IMAGE_SHAPE, 3.2 * SCIENCE_EXPOSURE.exptime)
    positions = source_pixels(wcs, SCIENCE_EXPOSURE)
    for (x, y), (_e, _n, flux, sigma) in zip(positions, FIELD_SOURCES, strict=True):
        expected += gaussian_blob(IMAGE_SHAPE, x, y, flux, sigma)

    electrons = rng.poisson(expected) + rng.normal(0, 7.2, IMAGE_SHAPE)
    counts = np.clip(np.round(electrons + 1012), 0, 65535)
    return counts.astype(np.uint16)


def processed_image(raw: np.ndarray) -> np.ndarray:
    """Bias-subtracted and flat-fielded counts, as the pipeline writes them."""
    rows, columns = np.indices(IMAGE_SHAPE)
    # Sky flats of a 1 m telescope fall off by a few per cent towards the corners.
    radius_sq = (columns - 7.5) ** 2 + (rows - 7.5) ** 2
    flat = 1.0 - 0.03 * radius_sq / radius_sq.max()
    return ((raw.astype(np.float64) - 1012.0) / flat).astype(np.float32)


def master_bias_image(rng: np.random.Generator) -> np.ndarray:
    """An average of many biases: the small residual pattern around zero."""
    column_pattern = rng.normal(0, 0.8, IMAGE_SHAPE[1])
    noise = rng.normal(0, 7.2 / math.sqrt(21), IMAGE_SHAPE)
    return (column_pattern[np.newaxis, :] + noise).astype(np.float32)


def reduction_cards(exposure: Exposure, processed: np.ndarray) -> list[tuple]:
    """Pipeline results: calibration frames used, image statistics, public date."""
    public_date = exposure.start + timedelta(days=365)
    return [
        ("RLEVEL", 91, "Reduction level"),
        ("PIPEVER", "1.14.1", "Pipeline version"),
        ("WCSERR", 0, "Error status of WCS fit. 0 for no error"),
        ("L1STATBI", 1, "Status flag for bias frame correction"),
        ("L1STATDA", 1, "Status flag for dark frame correction"),
        ("L1STATFL", 1, "Status flag for flat frame correction"),
        ("L1IDBIAS", "bias_fa04_20240305_bin1x1.fits", "ID of bias frame used"),
        ("L1IDDARK", "dark_fa04_20240305_bin1x1.fits", "ID of dark frame used"),
        ("L1IDFLAT", "flat_fa04_20240304_SKYFLAT_bin1x1_rp.fits", "ID of flat used"),
        ("L1IDSHUT", "N/A", "ID of shutter corr. frame used"),
        ("L1IDMASK", "bpm_fa04_20230607_bin1x1.fits", "ID of mask file used"),
        ("L1IDFRNG", "N/A", "ID of fringe frame used"),
        ("L1MEDIAN", round(float(np.median(processed)), 3), "[counts] Median"),
        ("L1SIGMA", round(float(np.std(processed)), 3), "[counts] Std. dev."),
        ("L1FWHM", 1.87, "[arcsec] Frame FWHM in arcsec"),
        ("L1PUBPRV", "private", "Public or private data?"),
        ("L1PUBDAT", iso_seconds(public_date), "[UTC] Date the frame becomes public"),
    ]


def write_raw_frame(outdir: Path, raw: np.ndarray, wcs: WCS) -> Path:
    """The frame as the camera writes it: no public date, reduction level 0."""
    header = build_header(
        site_cards(LSC),
        timing_cards(SCIENCE_EXPOSURE, written=datetime(2024, 3, 6, 0, 42, 31)),
        imager_cards(SCIENCE_EXPOSURE),
        scheduling_cards(SCIENCE_EXPOSURE),
        pointing_cards(SCIENCE_EXPOSURE),
        wcs_cards(wcs),
        [("RLEVEL", 0, "Reduction level")],
    )
    path = outdir / (SCIENCE_EXPOSURE.basename(0) + ".fits")
    fits.PrimaryHDU(raw, header).writeto(path, overwrite=True)
    return path


def processed_header(processed: np.ndarray, wcs: WCS) -> fits.Header:
    """The processed frame's header: the raw one plus the pipeline's results."""
    return build_header(
        site_cards(LSC),
        timing_cards(SCIENCE_EXPOSURE, written=datetime(2024, 3, 6, 0, 47, 12)),
        imager_cards(SCIENCE_EXPOSURE),
        scheduling_cards(SCIENCE_EXPOSURE),
        pointing_cards(SCIENCE_EXPOSURE),
        wcs_cards(wcs),
        reduction_cards(SCIENCE_EXPOSURE, processed),
    )


def write_fpacked_frame(outdir: Path, processed: np.ndarray, wcs: WCS) -> Path:
    """The processed frame, tile-compressed behind an empty primary HDU, like fpack."""
    header = processed_header(processed, wcs)
    header["EXTNAME"] = ("SCI", "Extension name")
    compressed = fits.CompImageHDU(
        processed,
        header,
        compression_type="RICE_1",
        quantize_level=16.0,
        quantize_method=1,
        dither_seed=FPACK_DITHER_SEED,
    )
    path = outdir / (SCIENCE_EXPOSURE.basename(91) + ".fits.fz")
    fits.HDUList([fits.PrimaryHDU(), compressed]).writeto(path, overwrite=True)
    return path


def catalog_table(rng: np.random.Generator, wcs: WCS) -> fits.BinTableHDU:
    """The sources the pipeline found, measured in the processed frame."""
    positions = np.array(source_pixels(wcs, SCIENCE_EXPOSURE))
    positions += rng.normal(0, 0.03, positions.shape)
    sky = wcs.all_pix2world(positions, 0)
    flux = np.array([flux for _e, _n, flux, _s in FIELD_SOURCES])
    measured = flux * (1 + rng.normal(0, 0.01, flux.size))
    fwhm = np.array([sigma for *_rest, sigma in FIELD_SOURCES]) * 2.3548

    columns = [
        fits.Column("NUMBER", "J", array=np.arange(1, flux.size + 1)),
        # Catalogs count pixels from 1, like the FITS standard.
        fits.Column("X_IMAGE", "E", unit="pixel", array=positions[:, 0] + 1),
        fits.Column("Y_IMAGE", "E", unit="pixel", array=positions[:, 1] + 1),
        fits.Column("ALPHA_J2000", "D", unit="deg", array=sky[:, 0]),
        fits.Column("DELTA_J2000", "D", unit="deg", array=sky[:, 1]),
        fits.Column("FLUX_AUTO", "E", unit="count", array=measured),
        fits.Column("FLUXERR_AUTO", "E", unit="count", array=np.sqrt(measured)),
        fits.Column("FWHM_IMAGE", "E", unit="pixel", array=fwhm),
        # The cluster core is crowded and blended: extraction flags 1 and 2.
        fits.Column("FLAGS", "I", array=np.array([3, 0, 0, 0, 0])),
    ]
    table = fits.BinTableHDU.from_columns(columns)
    table.header["EXTNAME"] = ("CAT", "Extension name")
    return table


def write_catalog(
    outdir: Path, rng: np.random.Generator, processed: np.ndarray, wcs: WCS
) -> Path:
    """Catalog: the frame's header on an empty primary HDU, then the source table.

    Real catalogs drop the image's WCS cards from the primary header, which has no
    image, so the archive finds no footprint for them.
    """
    header = processed_header(processed, wcs)
    for key in [key for key in header if key.startswith(("CTYPE", "CRPIX", "CRVAL"))]:
        del header[key]
    for key in ("CD1_1", "CD1_2", "CD2_1", "CD2_2"):
        del header[key]

    path = outdir / (SCIENCE_EXPOSURE.basename(91) + "_cat.fits")
    hdus = fits.HDUList([fits.PrimaryHDU(header=header), catalog_table(rng, wcs)])
    hdus.writeto(path, overwrite=True)
    return path


def write_master_bias(outdir: Path, rng: np.random.Generator) -> Path:
    """The master bias the processed frame names in L1IDBIAS."""
    wcs = celestial_wcs(BIAS_EXPOSURE.ra_deg, BIAS_EXPOSURE.dec_deg, 0.0, (8.5, 8.5))
    header = build_header(
        site_cards(LSC),
        timing_cards(BIAS_EXPOSURE, written=datetime(2024, 3, 5, 22, 31, 40)),
        imager_cards(BIAS_EXPOSURE),
        scheduling_cards(BIAS_EXPOSURE),
        pointing_cards(BIAS_EXPOSURE),
        wcs_cards(wcs),
        [
            ("ISMASTER", True, "Is this a master calibration frame"),
            ("NCOMBINE", 21, "Number of biases combined"),
            ("RLEVEL", 91, "Reduction level"),
            ("PIPEVER", "1.14.1", "Pipeline version"),
            ("L1IDBIAS", "N/A", "ID of bias frame used"),
            ("L1PUBDAT", BIAS_EXPOSURE.date_obs, "[UTC] Date the frame becomes public"),
        ],
    )
    path = outdir / "bias_fa04_20240305_bin1x1.fits"
    fits.PrimaryHDU(master_bias_image(rng), header).writeto(path, overwrite=True)
    return path


def spectrum_header(written: datetime) -> fits.Header:
    """The FLOYDS frame's header: pointing and slit, but no celestial WCS."""
    return build_header(
        site_cards(OGG),
        timing_cards(SPECTRUM_EXPOSURE, written),
        spectrograph_cards(SPECTRUM_EXPOSURE),
        scheduling_cards(SPECTRUM_EXPOSURE),
        pointing_cards(SPECTRUM_EXPOSURE),
    )


def two_d_spectrum(rng: np.random.Generator) -> fits.PrimaryHDU:
    """A 32x8 slit image: a continuum trace across sky lines, as uint16 counts."""
    rows, columns = np.indices((8, 32))
    continuum = 900.0 * np.exp(-((rows - 3.6) ** 2) / 1.2) * (1 + columns / 40)
    sky_lines = 1500.0 * np.isin(columns, [11, 19, 26])
    expected = 40.0 + continuum + sky_lines
    counts = rng.poisson(expected) + rng.normal(0, 3.5, expected.shape) + 1000
    header = spectrum_header(written=datetime(2024, 3, 6, 7, 21, 10))
    return fits.PrimaryHDU(np.round(counts).astype(np.uint16), header)


def one_d_spectrum(rng: np.random.Generator) -> fits.PrimaryHDU:
    """The extracted, flux-calibrated spectrum on a linear wavelength axis."""
    wavelength = 3300.0 + 215.0 * np.arange(32)
    flux = 2.1e-15 * (wavelength / 5500.0) ** 0.7
    flux *= 1 + rng.normal(0, 0.02, flux.size)
    header = spectrum_header(written=datetime(2024, 3, 6, 15, 58, 2))
    header["RLEVEL"] = (90, "Reduction level")
    header["CTYPE1"] = ("WAVE", "Wavelength axis")
    header["CUNIT1"] = ("Angstrom", "Wavelength unit")
    header["CRPIX1"] = (1.0, "Reference pixel")
    header["CRVAL1"] = (3300.0, "[Angstrom] Wavelength at reference pixel")
    header["CDELT1"] = (215.0, "[Angstrom/pixel] Dispersion")
    header["BUNIT"] = ("erg/cm2/s/Angstrom", "Flux unit")
    return fits.PrimaryHDU(flux.astype(np.float32), header)


def fits_bytes(hdu: fits.PrimaryHDU) -> bytes:
    """An HDU written to memory."""
    buffer = io.BytesIO()
    hdu.writeto(buffer)
    return buffer.getvalue()


def reduction_log() -> bytes:
    """A short plain-text note that pipelines leave next to their products."""
    base = SPECTRUM_EXPOSURE.basename(0)
    lines = [
        f"FLOYDS reduction of {base} ({SPECTRUM_EXPOSURE.target})",
        "trace: red order fitted, 1 aperture",
        "arc: ogg2m001-en06-20240305-0013-a00, 41 lines, rms 0.31 Angstrom",
        "flux standard: Feige 34, 2024-03-05",
        "telluric correction: applied",
    ]
    return ("\n".join(lines) + "\n").encode()


def tar_member(name: str, content: bytes, mtime: datetime) -> tuple:
    """A tar entry whose owner, mode and time never depend on the machine."""
    info = tarfile.TarInfo(name)
    info.size = len(content)
    info.mtime = int(mtime.replace(tzinfo=UTC).timestamp())
    info.mode = 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info, io.BytesIO(content)


def write_spectrum_bundle(outdir: Path, rng: np.random.Generator) -> Path:
    """The spectrograph's tar.gz: the 2-D frame first, as the archive expects."""
    base = SPECTRUM_EXPOSURE.basename(0)
    packed = datetime(2024, 3, 6, 16, 2, 0)
    members = [
        (f"{base}.fits", fits_bytes(two_d_spectrum(rng))),
        (f"{base}-1d.fits", fits_bytes(one_d_spectrum(rng))),
        (f"{base}-reduction.log", reduction_log()),
    ]

    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, content in members:
            tar.addfile(*tar_member(name, content, packed))

    path = outdir / (base + ".tar.gz")
    # mtime=0 and no file name in the gzip header keep the compressed bytes fixed.
    path.write_bytes(gzip.compress(archive.getvalue(), compresslevel=9, mtime=0))
    return path


def pdf_document(text: str) -> bytes:
    """A one-page PDF showing one line of text, with a correct cross-reference table.

    The text must not contain parentheses or backslashes, which PDF strings escape.
    """
    stream = f"BT /F1 14 Tf 72 720 Td ({text}) Tj ET".encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    # The second line marks the file as binary for tools that sniff the first bytes.
    document = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(document))
        document += b"%d 0 obj\n%s\nendobj\n" % (number, body)

    xref_offset = len(document)
    # Each cross-reference entry is exactly 20 bytes, ending in a space and a newline.
    document += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        document += b"%010d 00000 n \n" % offset
    document += b"trailer\n<< /Size %d /Root 1 0 R >>\n" % (len(objects) + 1)
    document += b"startxref\n%d\n%%%%EOF\n" % xref_offset
    return bytes(document)


def summary_metadata() -> dict:
    """What an ingester sends with the summary PDF, which has no headers of its own."""
    exposure = SPECTRUM_EXPOSURE
    return {
        "SITEID": exposure.site.site_id,
        "TELID": exposure.site.telescope_id,
        "INSTRUME": exposure.instrument,
        "PROPID": exposure.proposal_id,
        "DATE-OBS": exposure.date_obs,
        "DAY-OBS": exposure.day_obs,
        "OBSTYPE": exposure.obstype,
        "BLKUID": exposure.block_uid,
        "REQNUM": exposure.request_number,
        "OBJECT": exposure.target,
        "RLEVEL": 92,
    }


def write_summary(outdir: Path) -> list[Path]:
    """The spectrum's summary PDF and, beside it, the metadata to ingest it with."""
    base = SPECTRUM_EXPOSURE.basename(92) + "-summary"
    text = f"FLOYDS summary: {SPECTRUM_EXPOSURE.target}, {base}"
    pdf_path = outdir / (base + ".pdf")
    pdf_path.write_bytes(pdf_document(text))

    json_path = outdir / (base + ".json")
    metadata = json.dumps(summary_metadata(), indent=2, sort_keys=True)
    json_path.write_text(metadata + "\n")
    return [pdf_path, json_path]


def write_samples(outdir: Path) -> list[Path]:
    """Write every sample into outdir, creating it, and return the paths written."""
    outdir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(RANDOM_SEED)

    ra, dec = SCIENCE_EXPOSURE.ra_deg, SCIENCE_EXPOSURE.dec_deg
    nominal_wcs = celestial_wcs(ra, dec, 0.0, (8.5, 8.5))
    # The astrometric solution differs from the telescope's nominal pointing by a few
    # arcseconds and a small rotation, as real solutions do.
    solved_wcs = celestial_wcs(ra + 0.0011, dec - 0.0007, 0.21, (8.4731, 8.5262))
    raw = raw_science_image(rng, nominal_wcs)
    processed = processed_image(raw)

    return [
        write_raw_frame(outdir, raw, nominal_wcs),
        write_fpacked_frame(outdir, processed, solved_wcs),
        write_catalog(outdir, rng, processed, solved_wcs),
        write_master_bias(outdir, rng),
        write_spectrum_bundle(outdir, rng),
        *write_summary(outdir),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "outdir",
        nargs="?",
        type=Path,
        default=DEFAULT_OUTDIR,
        help=f"folder to write the samples into (default: {DEFAULT_OUTDIR})",
    )
    outdir = parser.parse_args().outdir
    for path in write_samples(outdir):
        print(f"{path.stat().st_size:>7}  {path}")


if __name__ == "__main__":
    main()
