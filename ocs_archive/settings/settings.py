"""Configuration of the library, read from the environment once, at import.

Every setting is a plain module-level name with an environment variable of the same
name. Library code reads ``settings.NAME`` when it runs, so replacing a name here at
run time (for example with ``unittest.mock.patch``) takes effect at once.

A malformed value fails at import with an error that names the variable and shows the
value, rather than surfacing later as a confusing failure deep inside an ingest.
"""

import ast
import os

from ocs_archive.exceptions import SettingsError

__all__ = ["SettingsError", "get_tuple_from_environment"]

_S3_ADDRESSING_STYLES = ("virtual", "path", "auto")


def get_tuple_from_environment(variable_name: str, default: str) -> tuple[str, ...]:
    """Read a comma-separated list from the environment.

    Spaces are removed and leading or trailing commas ignored, so ``" a, b,"`` gives
    ``('a', 'b')``. An empty value gives ``()``.
    """
    value = os.getenv(variable_name, default)
    value = value.replace(" ", "").strip(",")
    if not value:
        return ()
    return tuple(value.split(","))


def _int_from_environment(variable_name: str, default: int, unit: str) -> int:
    value = os.getenv(variable_name)
    if value is None or value.strip() == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise SettingsError(
            f"{variable_name}={value!r} is not an integer "
            f"(expected a whole number of {unit})"
        ) from None


def _seconds_from_environment(variable_name: str, default: float) -> float:
    value = os.getenv(variable_name)
    if value is None or value.strip() == "":
        return default
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds > 0 or seconds == float("inf"):
        raise SettingsError(
            f"{variable_name}={value!r} is not a number of seconds above 0"
        )
    return seconds


def _dict_from_environment(variable_name: str, default: str) -> dict:
    value = os.getenv(variable_name, default)
    try:
        parsed = ast.literal_eval(value) if value.strip() else {}
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        parsed = None
    if not isinstance(parsed, dict):
        raise SettingsError(
            f"{variable_name}={value!r} is not a Python dict literal "
            "(expected e.g. {'.fits': 'ocs_archive.input.fitsfile.FitsFile'})"
        )
    return parsed


def _choice_from_environment(
    variable_name: str, default: str, choices: tuple[str, ...]
) -> str:
    value = os.getenv(variable_name, default)
    if value not in choices:
        raise SettingsError(
            f"{variable_name}={value!r} is not one of {', '.join(choices)}"
        )
    return value


def _optional_from_environment(variable_name: str) -> str | None:
    """An unset or empty variable counts as unset."""
    return os.getenv(variable_name) or None


# File stores
FILESTORE_TYPE = os.getenv("FILESTORE_TYPE", "dummy")
FILESYSTEM_STORAGE_ROOT_DIR = os.getenv("FILESYSTEM_STORAGE_ROOT_DIR", "")
FILESYSTEM_STORAGE_BASE_URL = os.getenv(
    "FILESYSTEM_STORAGE_BASE_URL", "http://0.0.0.0/"
)

# S3
BUCKET = os.getenv("BUCKET", "testbucket")
S3_SIGNATURE_VERSION = os.getenv("S3_SIGNATURE_VERSION", "s3v4")
S3_ENDPOINT_URL = os.getenv("S3_ENDPOINT_URL", "https://s3.us-west-2.amazonaws.com")
S3_DAYS_TO_IA_STORAGE = _int_from_environment("S3_DAYS_TO_IA_STORAGE", 60, "days")
S3_ADDRESSING_STYLE = _choice_from_environment(
    "S3_ADDRESSING_STYLE", "virtual", _S3_ADDRESSING_STYLES
)
AWS_DEFAULT_REGION = os.getenv("AWS_DEFAULT_REGION", "")
# A frame of at least S3_MULTIPART_THRESHOLD bytes goes up in parts of
# S3_MULTIPART_PART_SIZE bytes, S3_MULTIPART_CONCURRENCY at a time; one upload holds
# about part size x concurrency bytes in memory (64 MiB with these defaults). From
# one part's size up, parts sent side by side beat one PUT, as boto3 also reckons.
S3_MULTIPART_THRESHOLD = _int_from_environment(
    "S3_MULTIPART_THRESHOLD", 8 * 1024 * 1024, "bytes"
)
S3_MULTIPART_PART_SIZE = _int_from_environment(
    "S3_MULTIPART_PART_SIZE", 8 * 1024 * 1024, "bytes"
)
S3_MULTIPART_CONCURRENCY = _int_from_environment("S3_MULTIPART_CONCURRENCY", 8, "parts")
# Seconds to wait for a connection and for each read; attempts per request, the
# first included, before a FileStoreConnectionError.
S3_CONNECT_TIMEOUT = _seconds_from_environment("S3_CONNECT_TIMEOUT", 10.0)
S3_READ_TIMEOUT = _seconds_from_environment("S3_READ_TIMEOUT", 60.0)
S3_MAX_ATTEMPTS = _int_from_environment("S3_MAX_ATTEMPTS", 5, "attempts")

# Observation Portal
OBSERVATION_PORTAL_BASE_URL = _optional_from_environment("OBSERVATION_PORTAL_BASE_URL")
OBSERVATION_PORTAL_API_TOKEN = _optional_from_environment(
    "OBSERVATION_PORTAL_API_TOKEN"
)
PRIVATE_PROPOSAL_TAGS = get_tuple_from_environment(
    "PRIVATE_PROPOSAL_TAGS", "private,internal"
)
PUBLIC_PROPOSAL_TAGS = get_tuple_from_environment("PUBLIC_PROPOSAL_TAGS", "public")

# Data files
FILETYPE_MAPPING_OVERRIDES = _dict_from_environment("FILETYPE_MAPPING_OVERRIDES", "{}")
IGNORED_CHARS = get_tuple_from_environment("IGNORED_CHARS", "-l00,tstnrs")
HEADER_BLACKLIST = get_tuple_from_environment("HEADER_BLACKLIST", "HISTORY,COMMENT")
REQUIRED_HEADERS = get_tuple_from_environment(
    "REQUIRED_HEADERS",
    "PROPID,DATE-OBS,DAY-OBS,INSTRUME,SITEID,TELID,OBSTYPE,BLKUID",
)
REQUIRED_THUMBNAIL_METADATA = get_tuple_from_environment(
    "REQUIRED_THUMBNAIL_METADATA",
    "frame_basename,size,DATE-OBS,DAY-OBS,INSTRUME,SITEID,TELID",
)
NULL_HEADER_VALUES = get_tuple_from_environment(
    "NULL_HEADER_VALUES", "N/A,UNSPECIFIED,UNKNOWN"
)
CALIBRATION_TYPES = get_tuple_from_environment(
    "CALIBRATION_TYPES", "BIAS,DARK,SKYFLAT,EXPERIMENTAL"
)
PUBLIC_PROPOSALS = get_tuple_from_environment(
    "PUBLIC_PROPOSALS", "EPO,calib,standard,pointing"
)
PRIVATE_PROPOSALS = get_tuple_from_environment("PRIVATE_PROPOSALS", "LCOEngineering")
DAYS_UNTIL_PUBLIC = _int_from_environment("DAYS_UNTIL_PUBLIC", 365, "days")
PRIVATE_FILE_TYPES = get_tuple_from_environment("PRIVATE_FILE_TYPES", "-t00,-x00")

# Header mapping: which header key holds each concept of the archive record
OBSERVATION_DATE_KEY = os.getenv("OBSERVATION_DATE_KEY", "DATE-OBS")
OBSERVATION_DAY_KEY = os.getenv("OBSERVATION_DAY_KEY", "DAY-OBS")
OBSERVATION_END_TIME_KEY = os.getenv("OBSERVATION_END_TIME_KEY", "UTSTOP")
REDUCTION_LEVEL_KEY = os.getenv("REDUCTION_LEVEL_KEY", "RLEVEL")
EXPOSURE_TIME_KEY = os.getenv("EXPOSURE_TIME_KEY", "EXPTIME")
INSTRUMENT_ID_KEY = os.getenv("INSTRUMENT_ID_KEY", "INSTRUME")
SITE_ID_KEY = os.getenv("SITE_ID_KEY", "SITEID")
TELESCOPE_ID_KEY = os.getenv("TELESCOPE_ID_KEY", "TELID")
OBSERVATION_ID_KEY = os.getenv("OBSERVATION_ID_KEY", "BLKUID")
CONFIGURATION_ID_KEY = os.getenv("CONFIGURATION_ID_KEY", "MOLUID")
PRIMARY_OPTICAL_ELEMENT_KEY = os.getenv("PRIMARY_OPTICAL_ELEMENT_KEY", "FILTER")
TARGET_NAME_KEY = os.getenv("TARGET_NAME_KEY", "OBJECT")
REQUEST_ID_KEY = os.getenv("REQUEST_ID_KEY", "REQNUM")
REQUESTGROUP_ID_KEY = os.getenv("REQUESTGROUP_ID_KEY", "TRACKNUM")
CONFIGURATION_TYPE_KEY = os.getenv("CONFIGURATION_TYPE_KEY", "OBSTYPE")
PROPOSAL_ID_KEY = os.getenv("PROPOSAL_ID_KEY", "PROPID")
CATALOG_TARGET_FRAME_KEY = os.getenv("CATALOG_TARGET_FRAME_KEY", "L1IDCAT")
PUBLIC_DATE_KEY = os.getenv("PUBLIC_DATE_KEY", "L1PUBDAT")
THUMBNAIL_FRAME_BASENAME_KEY = os.getenv(
    "THUMBNAIL_FRAME_BASENAME_KEY", "frame_basename"
)
THUMBNAIL_SIZE_KEY = os.getenv("THUMBNAIL_SIZE_KEY", "size")
RADIUS_KEY = os.getenv("RADIUS_KEY", "RADIUS")
RA_KEY = os.getenv("RA_KEY", "RA")
DEC_KEY = os.getenv("DEC_KEY", "DEC")
RELATED_FRAME_KEYS = get_tuple_from_environment(
    "RELATED_FRAME_KEYS",
    "L1IDBIAS,L1IDDARK,L1IDFLAT,L1IDSHUT,L1IDMASK,L1IDFRNG,L1IDCAT,L1IDARC,"
    "L1ID1D,L1ID2D,L1IDSUM,TARFILE,ORIGNAME,ARCFILE,FLATFILE,GUIDETAR",
)

# Keys whose values are integers in the archive; their null values become None.
INTEGER_TYPES = [
    REQUEST_ID_KEY,
    REQUESTGROUP_ID_KEY,
    OBSERVATION_ID_KEY,
    CONFIGURATION_ID_KEY,
]
