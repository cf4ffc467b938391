"""Reading FITS headers, and only headers, into plain JSON-typed dicts.

Building an archive record must not read a frame's data: a 1 GiB image costs the same
as a 16 MiB one. Each HDU's header is parsed and its data skipped; fpacked images give
their image header (the compressed table's ``Z*`` keywords are not the frame's).

Header values become plain JSON types: str, int, float, bool or None. An undefined
value becomes None, a complex value its text, and commentary cards (``COMMENT``,
``HISTORY``) their lines joined by newlines. A card that cannot be parsed is fixed
where astropy can fix it, and skipped otherwise; either way a warning names it.
"""

from __future__ import annotations

import io
import logging
import math
import re
from collections.abc import Iterator
from typing import IO, Any

from ocs_archive.exceptions import FileSpecificationException

logger = logging.getLogger(__name__)

FITS_BLOCK = 2880
FITS_SIGNATURE = b"SIMPLE  ="

# A standard card, read without astropy: an 8-character keyword, then either
# commentary text or "= " and a string, logical or number value, and a comment.
# Anything else (and every card astropy has already parsed) is left to astropy.
_CARD_LENGTH = 80
_KEYWORD_FIELD = re.compile(r"[A-Z0-9_-]{1,8} *| {8}")
_VALUE_FIELD = re.compile(
    r" *(?:'(?P<string>(?:[ -&(-~]|'')*)'(?=$|/| )"
    r"|(?P<logical>[TF])"
    r"|(?P<number>[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[EeDd][+-]?[0-9]+)?)"
    r")? *(?:/.*)?"
)
# astropy reads a string such as 'AXIS.1: 1' as a record-valued card (DP1.AXIS.1).
_RECORD_VALUE = re.compile(r" *[A-Za-z_][\w.]* *: *[+-]? *[0-9.]")
# astropy ends a string at its first quote that spaces and a slash follow, even the
# second quote of a doubled one ('O''/HARA' is "O'"): such strings are left to it.
_EARLY_STRING_END = re.compile(r"' */")
_COMMENTARY_KEYWORDS = frozenset({"COMMENT", "HISTORY", ""})
_SPECIAL_KEYWORDS = frozenset({"CONTINUE", "HIERARCH", "END"})
_NUMBER_EXPONENT = str.maketrans("Dd", "Ee")

# What astropy raises on a file it cannot parse; anything else is a bug to surface.
_UNREADABLE_FITS = (OSError, ValueError, KeyError, IndexError, TypeError, EOFError)


def is_fits(stream: IO[bytes]) -> bool:
    """True when the stream, read from its current position, starts like FITS."""
    start = stream.tell()
    try:
        return stream.read(len(FITS_SIGNATURE)) == FITS_SIGNATURE
    finally:
        stream.seek(start)


def iter_fits_headers(
    stream: IO[bytes], size: int | None, name: str
) -> Iterator[dict[str, Any]]:
    """Yield the header of each HDU of the FITS bytes in ``stream``, in order.

    ``size`` is the byte length of the FITS bytes (None when unknown) and lets a
    truncated file be told apart from a complete one. ``name`` is used in messages.
    Raises :class:`FileSpecificationException` when the bytes are not readable FITS.
    """
    from astropy.io import fits
    from astropy.io.fits.verify import VerifyError

    try:
        hdu_list = fits.open(
            _KeepOpen(stream),
            mode="readonly",
            memmap=False,
            lazy_load_hdus=True,
            ignore_missing_end=True,
            cache=False,
        )
    except (*_UNREADABLE_FITS, VerifyError) as exc:
        raise FileSpecificationException(
            f"{name} is not a readable FITS file: {exc}"
        ) from exc

    with hdu_list:
        index = 0
        while True:
            try:
                hdu = hdu_list[index]
            except IndexError:
                return
            except (*_UNREADABLE_FITS, VerifyError) as exc:
                raise FileSpecificationException(
                    f"{name} is not a readable FITS file: HDU {index}: {exc}"
                ) from exc
            _check_not_truncated(hdu_list, index, hdu, size, name)
            yield header_to_dict(hdu.header, f"{name} HDU {index}")
            index += 1


class _KeepOpen(io.RawIOBase):
    """A read-only view of a stream that astropy may close without closing it.

    astropy closes the file object it was given when its HDU list is closed; the
    frame's file belongs to the caller and must stay open.
    """

    def __init__(self, stream: IO[bytes]):
        super().__init__()
        self._stream = stream

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        readinto = getattr(self._stream, "readinto", None)
        if readinto is not None:
            return readinto(buffer)
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def read(self, size: int = -1) -> bytes:
        return self._stream.read(size)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._stream.seek(offset, whence)

    def tell(self) -> int:
        return self._stream.tell()

    def close(self) -> None:
        """Leave the underlying stream open."""


def _check_not_truncated(hdu_list, index: int, hdu, size: int | None, name: str):
    if size is None:
        return
    data_location = _data_location(hdu_list, index, hdu)
    if data_location is None:
        return
    offset, padded_size = data_location
    end = offset + _unpadded_data_size(hdu, padded_size)
    if end > size:
        raise FileSpecificationException(
            f"{name} is truncated: HDU {index} needs {end} bytes, the file has {size}"
        )


def _data_location(hdu_list, index: int, hdu) -> tuple[int, int] | None:
    """(offset, padded size) of the HDU's data in the file, or None if unknown."""
    # astropy keeps both on each HDU it reads. Its public fileinfo() gives the same
    # figures but re-serialises every header read so far on each call, which makes
    # a file of many HDUs quadratic, and fails on headers it cannot re-serialise.
    offset = getattr(hdu, "_data_offset", None)
    padded_size = getattr(hdu, "_data_size", None)
    if isinstance(offset, int) and isinstance(padded_size, int):
        return offset, padded_size
    try:
        info = hdu_list.fileinfo(index)
    except _UNREADABLE_FITS as exc:
        logger.debug("HDU %d: data location unknown (%s)", index, exc)
        return None
    return info["datLoc"], info["datSpan"]


def _unpadded_data_size(hdu, padded_size: int) -> int:
    from astropy.io.fits import CompImageHDU

    if isinstance(hdu, CompImageHDU):
        # The image header stands in for the table's own; allow for missing padding.
        return max(padded_size - (FITS_BLOCK - 1), 0)
    header = hdu.header
    axes = int(header.get("NAXIS", 0) or 0)
    if axes == 0:
        return 0
    elements = 1
    for axis in range(1, axes + 1):
        elements *= int(header.get(f"NAXIS{axis}", 0) or 0)
    groups = int(header.get("GCOUNT", 1) or 1)
    heap = int(header.get("PCOUNT", 0) or 0)
    if header.get("GROUPS") is True:
        # Random groups: NAXIS1 is 0 by definition and does not count.
        elements = elements // max(int(header.get("NAXIS1", 0) or 1), 1)
    return abs(int(header.get("BITPIX", 8))) // 8 * groups * (heap + elements)


def header_to_dict(header, where: str) -> dict[str, Any]:
    """A FITS header as a dict of plain JSON values; a repeated key keeps its first."""
    from astropy.io.fits.verify import VerifyError

    values: dict[str, Any] = {}
    commentary: dict[str, list[str]] = {}
    for card in header.cards:
        read = _read_standard_card(card)
        if read is not None:
            keyword, value = read
        else:
            try:
                keyword, value = card.keyword, card.value
            except (VerifyError, ValueError) as exc:
                keyword, value = _repair_card(card, where, exc)
                if keyword is None:
                    continue
        if keyword in ("COMMENT", "HISTORY", ""):
            commentary.setdefault(keyword, []).append(str(value))
            continue
        if keyword not in values:
            values[keyword] = plain_value(value, keyword, where)
    for keyword, lines in commentary.items():
        values.setdefault(keyword, "\n".join(lines))
    return values


def _read_standard_card(card) -> tuple[str, Any] | None:
    """The keyword and value of a standard card as astropy would give them, read
    straight from its 80 characters; None for a card astropy must read.

    astropy parses a value through several layers and looks its settings up on the
    way, which made reading a real frame's 300 cards take milliseconds. The result
    is the same for every card taken here; the tests compare both on real frames.
    """
    image = getattr(card, "_image", None)
    if (
        not isinstance(image, str)
        or len(image) != _CARD_LENGTH
        or getattr(card, "_modified", True)
        or getattr(card, "_value", None) is not None
        or not _KEYWORD_FIELD.fullmatch(image, 0, 8)
    ):
        return None
    keyword = image[:8].rstrip()
    if keyword in _COMMENTARY_KEYWORDS:
        return keyword, image[8:].rstrip()
    if keyword in _SPECIAL_KEYWORDS or image[8:10] != "= ":
        return None
    match = _VALUE_FIELD.fullmatch(image, 10)
    if match is None:
        return None
    text = match.group("string")
    if text is not None:
        if _RECORD_VALUE.match(text) or _EARLY_STRING_END.search(text):
            return None
        # After '', astropy looks for a longer string first: ''/c' is "'/c".
        if not text and "'" in image[match.end("string") + 1 :]:
            return None
        return keyword, text.replace("''", "'").rstrip()
    if match.group("logical") is not None:
        return keyword, match.group("logical") == "T"
    number = match.group("number")
    if number is None:
        return keyword, None  # a keyword with no value
    number = number.translate(_NUMBER_EXPONENT)
    try:
        return keyword, int(number)
    except ValueError:
        return keyword, float(number)


def _repair_card(card, where: str, error: Exception) -> tuple[str | None, Any]:
    from astropy.io.fits.verify import VerifyError

    original = _card_text(card)
    try:
        card.verify("fix")
        keyword, value = card.keyword, card.value
    except (VerifyError, ValueError):
        logger.warning("%s: skipped unreadable card %s (%s)", where, original, error)
        return None, None
    logger.warning("%s: repaired card %s to %s = %r", where, original, keyword, value)
    return keyword, value


def _card_text(card) -> str:
    """The card as written, for messages, even when astropy cannot format it."""
    try:
        return repr(card.image.rstrip())
    except (ValueError, TypeError):
        return repr(str(getattr(card, "keyword", "?")))


def plain_value(value: Any, keyword: str = "", where: str = "") -> Any:
    """A header value as a plain JSON value (str, int, float, bool or None)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        logger.warning(
            "%s: %s = %r is not a finite number; kept as None", where, keyword, value
        )
        return None
    if isinstance(value, complex):
        return str(value)
    import numpy as np
    from astropy.io.fits.card import Undefined

    # A keyword written without a value.
    if isinstance(value, Undefined):
        return None
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return plain_value(float(value), keyword, where)
    return str(value)
