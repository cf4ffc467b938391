"""Header values read straight from standard cards are the ones astropy gives."""

from __future__ import annotations

import pytest
from testframes import real_data_dir

from ocs_archive.input import fitsheaders

CARDS = [
    "STRING  = 'plain text'         / a comment",
    "QUOTED  = 'it''s ''quoted'''",
    "EMPTY   = ''",
    "BLANKS  = '     '",
    "LEADING = '   lead and trail   '",
    "SLASH   = 'a/b / c'            / comment / with slashes",
    "TIGHT   = 'abc'/comment right after",
    "COLON   = '12:34:56.7'         / a sexagesimal string",
    "EARLY   = 'O''/HARA'",
    "EARLYSP = 'it'' / x' / comment",
    "EMPTYEND= ''/c'",
    "EMPTYSP = '' / x'",
    "DOUBLED = 'a'''",
    "APOSTR  = 'abc'                / it's a comment with a quote",
    "END     = 5",
    "RECORD  = 'AXIS.1: 1'          / astropy reads this as DP-style record",
    "SPACED  = 'NAME : 2.5'",
    "TRUE    =                    T / logical",
    "FALSE   = F",
    "ZERO    =                    0",
    "NEGATIVE=                   -5",
    "PLUS    =                   +7",
    "LEADZERO=                  007",
    "HUGE    = 123456789012345678901234567890",
    "FLOAT   =                  1.5 / float",
    "NOLEAD  =                  -.5",
    "TRAILDOT=                   1.",
    "EXPO    =                  1E5",
    "DEXPO   =               1.5D-3",
    "LOWEXPO =                1.5d3",
    "PLUSEXP =             3.0E+10",
    "INFINITE=                1E999",
    "UNDEF   =                      / no value at all",
    "NOTHING =",
    "COMPLEX = (1.0, 2.0)",
    "SIGNGAP = -  5",
    "BADVAL  = 12.3.4",
    "QUOTEIN =                    1 / comment with ' a quote",
    "DATE-OBS= '2015-12-21T15:48:03.963' / hyphen in the keyword",
    "UNDER_S =                    2",
    "lower   =                    3",
    "NOEQUALS  5",
    "HISTORY first line of history",
    "HISTORY   = 'history with an equals sign'",
    "COMMENT a comment card",
    "        a card with a blank keyword",
    "HIERARCH ESO DET CHIP = 5 / long keyword",
    "LONGSTR = 'the start of a long string that runs on and on and on and on &'",
    "CONTINUE  'and its end'",
]


def header_of(images: list[str]):
    from astropy.io import fits

    text = "".join(image.ljust(80) for image in images) + "END".ljust(80)
    return fits.Header.fromstring(text.ljust(-(-len(text) // 2880) * 2880))


def astropy_only(header) -> dict:
    """What header_to_dict gives when astropy reads every card."""
    original = fitsheaders._read_standard_card
    fitsheaders._read_standard_card = lambda card: None
    try:
        return fitsheaders.header_to_dict(header, "test")
    finally:
        fitsheaders._read_standard_card = original


def typed(values: dict) -> dict:
    """Values with their types, so that 1 and 1.0 and True differ."""
    return {key: (type(value).__name__, value) for key, value in values.items()}


def test_every_kind_of_card_reads_as_astropy_reads_it():
    expected = typed(astropy_only(header_of(CARDS)))
    read = typed(fitsheaders.header_to_dict(header_of(CARDS), "test"))

    assert read == expected
    # A few answers spelled out, so that a change in both readers is seen.
    assert read["QUOTED"] == ("str", "it's 'quoted'")
    assert read["LEADING"] == ("str", "   lead and trail")
    assert read["DEXPO"] == ("float", 0.0015)
    assert read["HUGE"] == ("int", 123456789012345678901234567890)
    assert read["INFINITE"] == ("NoneType", None)
    assert read["UNDEF"] == ("NoneType", None)
    assert read["TRUE"] == ("bool", True)
    assert read["RECORD.AXIS.1"] == ("float", 1.0)
    # astropy ends a string early, or looks further, in these.
    assert read["EARLY"] == ("str", "O'")
    assert read["EMPTYEND"] == ("str", "'/c")
    assert read["DOUBLED"] == ("str", "a'")
    assert read["LONGSTR"][1].endswith("on and on and its end")


def test_standard_cards_are_read_without_astropy():
    header = header_of(CARDS)
    taken = {
        card.keyword
        for card in header.cards
        if fitsheaders._read_standard_card(card) is not None
    }

    assert {"STRING", "QUOTED", "TRUE", "HUGE", "DEXPO", "UNDEF", "HISTORY"} <= taken
    # Left to astropy: what astropy turns into something else, or must repair.
    for keyword in ("COMPLEX", "SIGNGAP", "BADVAL", "LONGSTR", "RECORD.AXIS.1"):
        assert keyword not in taken


def test_a_card_astropy_has_parsed_is_left_to_astropy():
    header = header_of(["CHANGED =                    1"])
    header["CHANGED"] = 2.5

    assert fitsheaders.header_to_dict(header, "test")["CHANGED"] == 2.5


def test_every_card_of_the_real_frames_reads_as_astropy_reads_it():
    folder = real_data_dir()
    if folder is None:
        pytest.skip("the real LCO frames are not beside the repository")
    from astropy.io import fits

    compared = 0
    for path in sorted(folder.glob("*.fits*")):
        with fits.open(path, lazy_load_hdus=True, memmap=False) as hdus:
            texts = [hdu.header.tostring() for hdu in hdus]
        for text in texts:
            ours = fitsheaders.header_to_dict(fits.Header.fromstring(text), "test")
            theirs = astropy_only(fits.Header.fromstring(text))
            assert typed(ours) == typed(theirs), path.name
            compared += len(theirs)
    assert compared > 5_000
