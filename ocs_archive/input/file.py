"""Frames as the archive sees them: an open file, and the record built from it.

:class:`File` wraps an open binary file and knows its name, size and md5.
:class:`DataFile` builds the header data of a frame and the store path it is kept at;
it is the base class of every file type and is used as is for files whose metadata
comes separately (PDFs).
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import IO, Any

from ocs_archive.exceptions import FileSpecificationException
from ocs_archive.hashing import md5_of_stream
from ocs_archive.input import portal
from ocs_archive.input.headerdata import HeaderData
from ocs_archive.settings import settings

__all__ = [
    "DataFile",
    "EmptyFile",
    "File",
    "FileSpecificationException",
    "settings",
]

logger = logging.getLogger(__name__)

# 999 years, the archive's way of saying "never public".
FOREVER = timedelta(days=365 * 999)

# The longest file or directory name common filesystems accept.
MAX_SEGMENT_BYTES = 255

_DAY_PATTERN = re.compile(r"^\d{8}$")
_DATE_PREFIX = re.compile(r"^\s*(\d{4})-(\d{2})-(\d{2})")


def _known_extensions() -> list[str]:
    # Imported here: the factory imports this module.
    from ocs_archive.input.filefactory import EXTENSION_TO_FILE_CLASS

    known = set(EXTENSION_TO_FILE_CLASS) | set(settings.FILETYPE_MAPPING_OVERRIDES)
    return sorted((ext for ext in known if isinstance(ext, str) and ext), key=len)[::-1]


class File:
    """An open binary file-like object and the name it goes by.

    ``filename`` is ``path`` when given, else the object's ``name`` or ``filename``
    attribute, else None; ``basename`` and ``extension`` are derived from it.

    The md5 is computed once and reused while the file is unchanged: for an object
    backed by an operating-system file, "unchanged" means the same device, inode, size
    and modification and change times (``os.fstat``); other objects (``BytesIO``) are
    hashed on every call, since nothing cheap tells whether they were modified.
    """

    def __init__(self, fileobj: IO[bytes], path: str | os.PathLike | None = None):
        self.fileobj = fileobj
        self.path = os.fspath(path) if path is not None else None
        self._md5: tuple[tuple[int, ...], str] | None = None
        self.basename, self.extension = self.get_basename_and_extension(self.filename)

    @property
    def filename(self) -> str | None:
        if self.path is not None:
            return self.path
        for attribute in ("name", "filename"):
            name = getattr(self.fileobj, attribute, None)
            if isinstance(name, str | bytes | os.PathLike):
                return os.fsdecode(name)
        return None

    @staticmethod
    def get_basename_and_extension(
        path: str | os.PathLike | None,
    ) -> tuple[str | None, str | None]:
        """Split the last component of ``path`` into (basename, extension).

        A name ending in an extension the file factory knows keeps that extension
        (``ngc0001.set2.fits`` gives ``('ngc0001.set2', '.fits')``); otherwise
        everything from the first dot on is the extension (``x-e00.fits.fz`` gives
        ``('x-e00', '.fits.fz')``). A leading dot does not start an extension.
        """
        if path is None:
            return None, None
        name = os.path.basename(os.fsdecode(path))
        for extension in _known_extensions():
            if name.endswith(extension) and len(name) > len(extension):
                return name[: -len(extension)], extension
        first_dot = name.find(".", 1 if name.startswith(".") else 0)
        if first_dot <= 0:
            return name, ""
        return name[:first_dot], name[first_dot:]

    def get_from_start(self) -> IO[bytes]:
        """The file object, positioned at its first byte."""
        self.fileobj.seek(0)
        return self.fileobj

    def __len__(self) -> int:
        """The size in bytes; leaves the file positioned at its start."""
        signature = self.content_signature()
        if signature is not None:
            size = signature[2]
        else:
            size = self.fileobj.seek(0, os.SEEK_END)
        self.fileobj.seek(0)
        return size

    def get_md5(self) -> str:
        """The hex md5 of the whole content, read in chunks from the start."""
        signature = self.content_signature()
        if signature is not None and self._md5 is not None:
            cached_signature, md5 = self._md5
            if cached_signature == signature:
                return md5
        md5, _ = md5_of_stream(self.get_from_start())
        self.fileobj.seek(0)
        self.remember_md5(md5, signature)
        return md5

    def remember_md5(self, md5: str, signature: tuple[int, ...] | None) -> None:
        """Record an md5 computed elsewhere (a store hashing while it copies).

        ``signature`` is what :meth:`content_signature` returned before the bytes
        were read; nothing is recorded when the file has changed since.
        """
        if signature is not None and signature == self.content_signature():
            self._md5 = (signature, md5)

    def content_signature(self) -> tuple[int, ...] | None:
        """What identifies the current content of an OS-backed file, else None."""
        try:
            status = os.fstat(self.fileobj.fileno())
        except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
            return None
        return (
            status.st_dev,
            status.st_ino,
            status.st_size,
            status.st_mtime_ns,
            status.st_ctime_ns,
        )


class EmptyFile(File):
    """A zero-byte :class:`File` that only carries a name.

    Used to compute store paths from metadata alone. Its md5 is the md5 of its name.
    """

    def __init__(self, path: str | None = None):
        super().__init__(io.BytesIO(b""), path=path)

    @property
    def filename(self) -> str:
        return self.path if self.path is not None else "dummy_file.fits"

    def get_md5(self) -> str:
        # fsencode gives the UTF-8 bytes, and the original bytes of a name that is
        # not valid UTF-8.
        return hashlib.md5(os.fsencode(self.filename)).hexdigest()


class DataFile:
    """A frame and its header data: the base class of every file type.

    Used as is, the header data is ``file_metadata`` alone, which must hold every key
    of ``required_headers``. ``blacklist_headers`` and ``required_headers`` accept any
    iterable of keys (``{}`` or ``[]`` for none); omitted, they are the
    ``HEADER_BLACKLIST`` and ``REQUIRED_HEADERS`` settings at the time of the call.
    The caller's ``file_metadata`` is copied, never modified.

    Raises :class:`FileSpecificationException`, naming the file and the key, when the
    metadata is incomplete or cannot be repaired.
    """

    def __init__(
        self,
        open_file: File,
        file_metadata: Mapping[str, Any] | None = None,
        blacklist_headers: Iterable[str] | None = None,
        required_headers: Iterable[str] | None = None,
    ):
        self.open_file = open_file
        self.blacklist_headers = tuple(
            settings.HEADER_BLACKLIST
            if blacklist_headers is None
            else blacklist_headers
        )
        self.required_headers = tuple(
            settings.REQUIRED_HEADERS if required_headers is None else required_headers
        )
        self._create_header_data(dict(file_metadata or {}))
        self._repair_observation_day()
        self._repair_public_date()
        self._check_reduction_level()

    # Building the header data

    def _create_header_data(self, file_metadata: dict[str, Any]) -> None:
        missing = self._missing_required_headers(file_metadata)
        if missing:
            raise FileSpecificationException(
                f"Could not find required keywords in headers! {self.name} lacks "
                f"{', '.join(missing)}"
            )
        self.header_data = HeaderData(file_metadata)

    def _missing_required_headers(self, headers: Mapping[str, Any]) -> list[str]:
        return [key for key in self.required_headers if key not in headers]

    def _is_valid_file_metadata(self, metadata_dict: Mapping[str, Any]) -> bool:
        """True when ``metadata_dict`` holds every required key."""
        return not self._missing_required_headers(metadata_dict)

    @property
    def name(self) -> str:
        """The frame's file name, for messages."""
        filename = self.open_file.filename
        if filename is None:
            return "<unnamed file>"
        return os.path.basename(filename) or filename

    # Repairs

    def _repair_observation_day(self) -> None:
        key = settings.OBSERVATION_DAY_KEY
        day = self.header_data.get_observation_day()
        if day in (None, ""):
            day = self._day_from_observation_date()
            if day:
                self.header_data.update_headers({key: day})
            return

        normalised = _normalise_day(day)
        if normalised is None:
            raise FileSpecificationException(
                f"{key} {day!r} in {self.name} is not a date (expected YYYYMMDD)"
            )
        if normalised != day:
            logger.warning(
                "%s %r in %s repaired to %r", key, day, self.name, normalised
            )
            self.header_data.update_headers({key: normalised})

    def _day_from_observation_date(self) -> str | None:
        date = self.header_data.get_observation_date()
        if isinstance(date, datetime):
            return date.strftime("%Y%m%d")
        if not date:
            return None
        match = _DATE_PREFIX.match(str(date))
        if match:
            day = "".join(match.groups())
        else:
            # Not an extended ISO date: the part before 'T' without dashes, which
            # still reads basic ISO dates such as 20200131T200956.
            day = str(date).split("T")[0].replace("-", "")
        if _normalise_day(day) is None:
            key = settings.OBSERVATION_DATE_KEY
            raise FileSpecificationException(
                f"{key} {date!r} in {self.name} is not an ISO date, so "
                f"{settings.OBSERVATION_DAY_KEY} cannot be derived from it "
                "(expected e.g. 2015-02-19T13:56:05.261)"
            )
        return day

    def _repair_public_date(self) -> None:
        if self.header_data.get_public_date():
            return
        privacy = self._privacy()
        if privacy == "public":
            public_date = self.header_data.get_observation_date()
        elif privacy == "private":
            public_date = self._observation_date_plus(FOREVER)
        else:
            days = timedelta(days=settings.DAYS_UNTIL_PUBLIC)
            public_date = self._observation_date_plus(days)
        self.header_data.update_headers({settings.PUBLIC_DATE_KEY: public_date})

    def _privacy(self) -> str:
        """``public``, ``private`` or ``proprietary``, by the first rule that applies.

        The proposal's portal tags decide first; then calibrations and public
        proposals are public; private proposals and private file types are private;
        anything else is proprietary for ``DAYS_UNTIL_PUBLIC`` days.
        """
        tags = self.data_privacy_tags
        if any(tag in settings.PRIVATE_PROPOSAL_TAGS for tag in tags):
            return "private"
        if any(tag in settings.PUBLIC_PROPOSAL_TAGS for tag in tags):
            return "public"

        proposal_id = self.header_data.get_proposal_id()
        proposal_id = "" if proposal_id is None else str(proposal_id)
        basename = self.open_file.basename or ""
        if self.header_data.get_configuration_type() in settings.CALIBRATION_TYPES:
            return "public"
        if proposal_id and any(p in proposal_id for p in settings.PUBLIC_PROPOSALS):
            return "public"
        if proposal_id and any(p in proposal_id for p in settings.PRIVATE_PROPOSALS):
            return "private"
        if any(fragment in basename for fragment in settings.PRIVATE_FILE_TYPES):
            return "private"
        return "proprietary"

    def _observation_date_plus(self, delta: timedelta) -> str:
        from dateutil.parser import ParserError, parse

        key = settings.OBSERVATION_DATE_KEY
        date = self.header_data.get_observation_date()
        if isinstance(date, datetime):
            return (date + delta).isoformat()
        if date in (None, ""):
            raise FileSpecificationException(
                f"{key} is missing in {self.name}: the public date cannot be computed"
            )
        try:
            parsed = parse(str(date))
        except (ParserError, ValueError, OverflowError) as exc:
            raise FileSpecificationException(
                f"{key} {date!r} in {self.name} is not a date "
                "(expected ISO 8601, e.g. 2015-02-19T13:56:05.261)"
            ) from exc
        try:
            return (parsed + delta).isoformat()
        except OverflowError:
            raise FileSpecificationException(
                f"{key} {date!r} in {self.name} is too late: its public date, "
                f"{delta.days} days later, is past the year 9999"
            ) from None

    def _check_reduction_level(self) -> None:
        try:
            self.header_data.get_reduction_level()
        except FileSpecificationException as exc:
            raise FileSpecificationException(f"{exc} in {self.name}") from None

    # Observation Portal

    @property
    def proposal_tags(self) -> list[str] | None:
        """The proposal's tags in the Observation Portal, or None.

        None when the portal is not configured, the proposal id is empty, or the
        portal cannot be asked; answers are cached for a few minutes across files.
        """
        return portal.get_proposal_tags(self.header_data.get_proposal_id())

    @property
    def data_privacy_tags(self) -> list[str]:
        """The proposal's tags that are privacy tags (public or private)."""
        privacy_tags = (*settings.PRIVATE_PROPOSAL_TAGS, *settings.PUBLIC_PROPOSAL_TAGS)
        return [tag for tag in self.proposal_tags or () if tag in privacy_tags]

    # What clients ask for

    def get_header_data(self) -> HeaderData:
        return self.header_data

    def get_filestore_content_type(self) -> str:
        return ""

    def get_filestore_path(self) -> str:
        """``<site>/<instrument>/<observation day>/<raw|processed>/<file name>``.

        Raises :class:`FileSpecificationException` when a component is missing or is
        not a safe single path segment.
        """
        reduction = (
            "raw" if self.header_data.get_reduction_level() == 0 else "processed"
        )
        return self.join_store_path(
            *self.site_and_instrument_segments(),
            self.observation_day_segment(),
            reduction,
        )

    def site_and_instrument_segments(self) -> tuple[str, str]:
        """The site and instrument, checked as store path segments."""
        return (
            self.store_path_segment(
                settings.SITE_ID_KEY, self.header_data.get_site_id()
            ),
            self.store_path_segment(
                settings.INSTRUMENT_ID_KEY, self.header_data.get_instrument_id()
            ),
        )

    def observation_day_segment(self) -> str:
        """The observation day, checked as a store path segment."""
        return self.store_path_segment(
            settings.OBSERVATION_DAY_KEY, self.header_data.get_observation_day()
        )

    def join_store_path(self, *directories: str) -> str:
        """The store path of this frame's file under ``directories``.

        Each directory must be a safe single path segment, as must the file name.
        """
        file_name = f"{self.open_file.basename or ''}{self.open_file.extension or ''}"
        segments = [self.store_path_segment("directory", d) for d in directories]
        return "/".join((*segments, self.store_path_segment("file name", file_name)))

    def store_path_segment(self, key: str, value: Any) -> str:
        """``value`` as one path segment, or raise naming ``key`` and the value."""
        text = "" if value is None else str(value)
        problem = _segment_problem(text)
        if problem:
            raise FileSpecificationException(
                f"{key} {value!r} in {self.name} cannot be part of a store path: "
                f"{problem}"
            )
        return text

    def get_wcs_corners(self) -> dict | None:
        """The frame's footprint as a GeoJSON-style polygon of four corners, or None.

        See :func:`ocs_archive.footprint.wcs_corners` for the rules.
        """
        from ocs_archive import footprint

        return footprint.wcs_corners(self.header_data.get_headers())

    def get_footprint(self):
        """The frame's footprint as a valid shapely geometry, or None.

        See :func:`ocs_archive.footprint.footprint_from_corners` for the conventions.
        """
        from ocs_archive import footprint

        return footprint.footprint_from_corners(self.get_wcs_corners())


def _normalise_day(day: Any) -> str | None:
    """``day`` as ``YYYYMMDD`` text, or None when it is not a calendar date."""
    if isinstance(day, bool):
        return None
    if isinstance(day, float) and day.is_integer():
        day = int(day)
    if isinstance(day, int):
        day = str(day)
    if not isinstance(day, str):
        return None
    text = day.strip()
    match = _DATE_PREFIX.match(text)
    if match and len(text) == 10:
        text = "".join(match.groups())
    if not _DAY_PATTERN.match(text):
        return None
    try:
        datetime.strptime(text, "%Y%m%d")
    except ValueError:
        return None
    return text


def _segment_problem(text: str) -> str | None:
    if text == "":
        return "it is empty"
    if text in (".", ".."):
        return "it names a directory"
    if "/" in text or "\\" in text:
        return "it contains a path separator"
    if any(ord(char) < 32 or ord(char) == 127 for char in text):
        return "it contains a control character"
    if len(os.fsencode(text)) > MAX_SEGMENT_BYTES:
        return f"it is longer than {MAX_SEGMENT_BYTES} bytes"
    return None
