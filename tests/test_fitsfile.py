"""FITS, LCO, tar, SOAR and thumbnail files built from frames the tests write."""

from __future__ import annotations

import io
import json
import os
import tarfile
import tracemalloc

import pytest
from testframes import REQUIRED, fits_bytes

from ocs_archive.input.file import EmptyFile, File, FileSpecificationException
from ocs_archive.input.fitsfile import FitsFile
from ocs_archive.input.lcofitsfile import LETTER_TO_OBSTYPE, LcoFitsFile
from ocs_archive.input.lcotarwithfitsfile import LcoTarWithFitsFile
from ocs_archive.input.soarfitsfile import SOAR_PREFIX_TO_RLEVEL, SOARFitsFile
from ocs_archive.input.tarwithfitsfile import TarWithFitsFile
from ocs_archive.input.thumbnailfile import ThumbnailFile


def in_memory(content: bytes, name: str) -> File:
    return File(io.BytesIO(content), name)


def headers_of(datafile_class, name, headers=None, metadata=None, **options):
    frame = fits_bytes(headers, compressed=name.endswith(".fz"), **options)
    built = datafile_class(in_memory(frame, name), metadata)
    return built.get_header_data().get_headers()


# FitsFile


def test_first_hdu_with_every_required_key_wins():
    from astropy.io import fits

    incomplete = fits.PrimaryHDU()
    incomplete.header["OBJECT"] = "first"
    complete = fits.ImageHDU()
    for key, value in {**REQUIRED, "OBJECT": "second"}.items():
        complete.header[key] = value
    buffer = io.BytesIO()
    fits.HDUList([incomplete, complete]).writeto(buffer)
    built = FitsFile(in_memory(buffer.getvalue(), "x-e00.fits"))
    assert built.get_header_data().get_target_name() == "second"


def test_metadata_wins_over_headers_and_completes_them():
    headers = headers_of(
        FitsFile,
        "x-e00.fits",
        drop=("SITEID",),
        metadata={"SITEID": "coj", "OBJECT": "M31"},
        headers={"OBJECT": "header"},
    )
    assert headers["SITEID"] == "coj"
    assert headers["OBJECT"] == "M31"


def test_no_hdu_complete_lists_the_closest_missing_keys():
    frame = fits_bytes(drop=("SITEID", "TELID"))
    with pytest.raises(
        FileSpecificationException,
        match=r"No HDU of x-e00.fits has them all; the closest lacks SITEID, TELID",
    ):
        FitsFile(in_memory(frame, "x-e00.fits"))


def test_fpacked_frames_give_the_image_header_not_the_table():
    headers = headers_of(FitsFile, "x-e00.fits.fz", shape=(6, 5))
    assert headers["NAXIS1"] == 5 and headers["NAXIS2"] == 6
    assert not any(key.startswith("ZIMAGE") or key == "TTYPE1" for key in headers)


def test_wrong_extension_is_refused():
    with pytest.raises(
        FileSpecificationException, match=r"must have extension .fits or .fits.fz"
    ):
        FitsFile(in_memory(fits_bytes(), "x-e00.tar.gz"))


def test_blacklist_and_empty_key_removed():
    from astropy.io import fits

    header = fits.Header(REQUIRED)
    header["HISTORY"] = "reduced"
    header["COMMENT"] = "a comment"
    header[""] = "blank"
    header["SECRET"] = 1
    buffer = io.BytesIO()
    fits.PrimaryHDU(header=header).writeto(buffer)
    content = buffer.getvalue()
    default = FitsFile(in_memory(content, "x.fits")).get_header_data().get_headers()
    assert "HISTORY" not in default and "COMMENT" not in default and "" not in default
    custom = FitsFile(in_memory(content, "x.fits"), None, ("SECRET",))
    kept = custom.get_header_data().get_headers()
    assert "SECRET" not in kept and "" not in kept
    assert kept["HISTORY"] == "reduced"
    assert json.dumps(kept, allow_nan=False)


def test_null_values_normalised():
    headers = headers_of(
        FitsFile,
        "x.fits",
        headers={
            "REQNUM": "UNSPECIFIED",
            "TRACKNUM": "None",
            "MOLUID": "N/A",
            "FILTER": "N/A",
            "OBJECT": "UNKNOWN",
            "CCDSUM": "2 2",
        },
    )
    assert headers["REQNUM"] is None
    assert headers["TRACKNUM"] is None
    assert headers["MOLUID"] is None
    assert headers["FILTER"] == ""
    assert headers["OBJECT"] == ""
    assert headers["CCDSUM"] == "2 2"


def test_related_frames_lose_their_extensions():
    headers = headers_of(
        FitsFile,
        "x.fits",
        headers={
            "L1IDBIAS": "bias_kb05_20150219_bin2x2.fits",
            "L1IDDARK": "N/A",
            "L1IDFLAT": "flat-e00",
            "ORIGNAME": "x-e00.fits.fz",
        },
    )
    assert headers["L1IDBIAS"] == "bias_kb05_20150219_bin2x2"
    assert headers["L1IDDARK"] == ""
    assert headers["L1IDFLAT"] == "flat-e00"
    assert headers["ORIGNAME"] == "x-e00"


def test_header_values_are_plain_json():
    from astropy.io import fits

    header = fits.Header(REQUIRED)
    header["EMPTY"] = None
    header["FLAG"] = True
    header["CPLX"] = complex(1, 2)
    buffer = io.BytesIO()
    fits.PrimaryHDU(header=header).writeto(buffer)
    headers = FitsFile(in_memory(buffer.getvalue(), "x.fits")).get_header_data()
    values = headers.get_headers()
    assert values["EMPTY"] is None
    assert values["FLAG"] is True
    assert values["CPLX"] == "(1+2j)"
    assert json.loads(json.dumps(values, allow_nan=False)) == values


@pytest.mark.parametrize(
    ("bad_card", "kept"), [(b"BADVAL  = 12.3.4", "12.3.4"), (b"BADVAL  = abc", "abc")]
)
def test_bad_card_is_repaired_not_fatal(bad_card, kept):
    frame = bytearray(fits_bytes({"GOODKEY": 1, "BADVAL": 2}))
    start = frame.index(b"BADVAL  =")
    frame[start : start + 80] = bad_card.ljust(80)
    with pytest.warns(Warning, match="Verif"):
        built = FitsFile(in_memory(bytes(frame), "x.fits"))
    headers = built.get_header_data().get_headers()
    assert headers["GOODKEY"] == 1
    assert headers["SITEID"] == "lsc"
    assert headers["BADVAL"] == kept


def test_unparsable_card_is_repaired_with_a_warning(caplog):
    from astropy.io import fits

    from ocs_archive.input.fitsheaders import header_to_dict

    header = fits.Header.fromstring(
        "".join(
            card.ljust(80)
            for card in ("GOODKEY = 1", "BADVAL  = (1, ", "OTHER   = 'x'", "END")
        )
    )
    values = header_to_dict(header, "x.fits HDU 0")
    assert values["GOODKEY"] == 1 and values["OTHER"] == "x"
    assert values["BADVAL"] == "(1,"
    assert "x.fits HDU 0: repaired card" in caplog.text
    assert "BADVAL" in caplog.text


@pytest.mark.parametrize("cut", [100, 2880, 2880 + 10, 2880 + 6000])
def test_truncated_frames_are_refused(cut):
    frame = fits_bytes(shape=(40, 40))
    with pytest.raises(FileSpecificationException, match=r"x.fits"):
        FitsFile(in_memory(frame[:cut], "x.fits"))


def test_missing_padding_only_is_accepted():
    frame = fits_bytes(shape=(4, 4))
    unpadded = frame[: 2880 + 4 * 4 * 4]
    built = FitsFile(in_memory(unpadded, "x.fits"))
    assert built.get_header_data().get_site_id() == "lsc"


def test_garbage_after_signature_is_refused():
    with pytest.raises(FileSpecificationException, match="x.fits"):
        FitsFile(in_memory(b"SIMPLE  =" + b"\x00\xff" * 3000, "x.fits"))


def test_non_fits_bytes_fall_back_to_metadata():
    built = FitsFile(EmptyFile("x.fits"), file_metadata=dict(REQUIRED))
    assert built.get_filestore_path() == "lsc/fa04/20240304/raw/x.fits"
    with pytest.raises(FileSpecificationException, match="lacks"):
        FitsFile(EmptyFile("x.fits"), file_metadata={"SITEID": "lsc"})


def test_headers_only_are_read(tmp_path):
    """A large frame costs no more memory than its header to describe."""
    from astropy.io import fits

    header = fits.Header()
    header["SIMPLE"] = True
    header["BITPIX"] = -32
    header["NAXIS"] = 2
    header["NAXIS1"] = 4096
    header["NAXIS2"] = 4096
    header.update(REQUIRED)
    header_bytes = header.tostring().encode()
    data_bytes = 4096 * 4096 * 4
    path = tmp_path / "big.fits"
    path.write_bytes(header_bytes)
    # A sparse file: the data blocks take no disk space and read back as zeros.
    os.truncate(path, len(header_bytes) + data_bytes)
    with open(path, "rb") as fileobj:
        tracemalloc.start()
        built = FitsFile(File(fileobj))
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert built.get_header_data().get_site_id() == "lsc"
    assert built.get_header_data().get_headers()["NAXIS1"] == 4096
    assert peak < data_bytes / 10


def test_fits_content_type():
    assert FitsFile(in_memory(fits_bytes(), "x.fits")).get_filestore_content_type() == (
        "image/fits"
    )


def test_file_named_with_extra_dots_reads_as_fits():
    built = FitsFile(in_memory(fits_bytes(), "ngc0001.set2.fits"))
    assert built.open_file.basename == "ngc0001.set2"
    assert built.get_filestore_path() == "lsc/fa04/20240304/raw/ngc0001.set2.fits"


# LcoFitsFile


@pytest.mark.parametrize(
    ("name", "headers", "expected"),
    [
        ("lsc1m009-fa04-20240305-0101-e00.fits.fz", {}, "EXPOSE"),
        ("ogg2m001-en06-20240305-0012-e00.fits.fz", {}, "SPECTRUM"),
        ("lsc1m009-fa04-20240305-0101-e00.fits.fz", {"TELID": "igla"}, "TARGET"),
        ("lsc1m009-fa04-20240305-0101-e00.fits.fz", {"ENCID": "igl"}, "TARGET"),
        ("lsc1m009-fa04-20240305-0101-a00.fits.fz", {}, "ARC"),
        ("lsc1m009-fa04-20240305-0101-a00.fits.fz", {"ENCID": "igl"}, "DOUBLE"),
        ("trace-fa04-20240305-0101-e00.fits.fz", {}, "TRACE"),
        ("arc-fa04-20240305-0101-e00.fits.fz", {}, "ARC"),
        ("lsc1m009-fa04-20240305-bias-b00.fits.fz", {}, "BIAS"),
        ("lsc1m009-fa04-20240305-bpm-x00.fits.fz", {}, "BPM"),
        *[
            (f"lsc1m009-fa04-20240305-0101-{letter}00.fits.fz", {}, obstype)
            for letter, obstype in LETTER_TO_OBSTYPE.items()
        ],
    ],
)
def test_configuration_type_inferred_from_name(name, headers, expected):
    for missing in ("", "UNKNOWN"):
        values = {**headers, "OBSTYPE": missing}
        assert headers_of(LcoFitsFile, name, values)["OBSTYPE"] == expected


@pytest.mark.parametrize(
    "name",
    ["lsc1m009-fa04-20240305.fits.fz", "lsc1m009-fa04-20240305-0101-z00.fits.fz"],
)
def test_configuration_type_that_cannot_be_inferred(name):
    with pytest.raises(
        FileSpecificationException,
        match=r"^OBSTYPE is UNKNOWN and could not be inferred. "
        rf"Please manually correct it \({name}\)$",
    ):
        headers_of(LcoFitsFile, name, {"OBSTYPE": "UNKNOWN"})


def test_configuration_type_kept_when_set():
    name = "lsc1m009-fa04-20240305-0101-b00.fits.fz"
    assert headers_of(LcoFitsFile, name, {"OBSTYPE": "DARK"})["OBSTYPE"] == "DARK"


def test_catalog_gets_target_and_type():
    name = "lsc1m009-fa04-20240305-0101-e91_cat.fits.fz"
    headers = headers_of(LcoFitsFile, name)
    assert headers["OBSTYPE"] == "CATALOG"
    assert headers["L1IDCAT"] == "lsc1m009-fa04-20240305-0101-e91"
    assert headers["RLEVEL"] == 91
    kept = headers_of(LcoFitsFile, name, {"L1IDCAT": "given"})
    assert kept["L1IDCAT"] == "given"


@pytest.mark.parametrize(
    ("name", "headers", "level"),
    [
        ("lsc1m009-fa04-20240305-0101-e91.fits.fz", {}, 91),
        ("lsc1m009-fa04-20240305-0101-e00.fits.fz", {}, 0),
        ("bias_kb70_20151221_bin2x2.fits.fz", {"OBSTYPE": "BIAS"}, 0),
        ("lsc1m009-fa04-20240305-0101-e91.fits.fz", {"RLEVEL": 11}, 11),
    ],
)
def test_reduction_level_from_name_only_when_unset(name, headers, level):
    built = LcoFitsFile(in_memory(fits_bytes(headers, compressed=True), name))
    assert built.get_header_data().get_reduction_level() == level


@pytest.mark.parametrize(
    ("name", "headers"),
    [
        ("bpm_kb05_bin2x2.fits.fz", {}),
        ("lsc1m009-fa04-20240305-bpm.fits.fz", {}),
        ("lsc1m009-fa04-bpm-20240305-0101-e00.fits.fz", {}),
        ("lsc1m009-fa04-20240305-0101-e00.fits.fz", {"EXTNAME": "BPM"}),
        ("lsc1m009-fa04-20240305-0101-e00.fits.fz", {"OBSTYPE": "BPM"}),
    ],
)
def test_bad_pixel_masks_have_their_own_folder(name, headers):
    built = LcoFitsFile(in_memory(fits_bytes(headers, compressed=True), name))
    assert built.get_filestore_path() == f"lsc/fa04/bpm/{name}"
    assert built.open_file.basename == name.split(".")[0]


# Tar bundles


def tar_bytes(members: dict[str, bytes], mode: str = "w:gz") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as bundle:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            bundle.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def test_tar_headers_from_first_fits_member(tmp_path):
    bundle = tar_bytes(
        {
            "readme.txt": b"hello",
            "../../evil-e00.fits": fits_bytes({"OBJECT": "first"}),
            "/abs/second-e00.fits": fits_bytes({"OBJECT": "second"}),
        }
    )
    built = TarWithFitsFile(in_memory(bundle, "ogg2m001-en06-20240305-0012-e00.tar.gz"))
    assert built.get_header_data().get_target_name() == "first"
    assert built.get_filestore_content_type() == "application/x-tar"
    assert not (tmp_path.parent / "evil-e00.fits").exists()


def test_tar_without_fits_member():
    bundle = tar_bytes({"readme.txt": b"hello"})
    with pytest.raises(FileSpecificationException, match="Tar file missing meta fits!"):
        TarWithFitsFile(in_memory(bundle, "x.tar.gz"))


def test_tar_extension_and_corruption():
    with pytest.raises(FileSpecificationException, match="must have extension .tar"):
        TarWithFitsFile(in_memory(tar_bytes({"a.fits": fits_bytes()}), "x.fits"))
    with pytest.raises(FileSpecificationException, match="not a readable tar file"):
        TarWithFitsFile(in_memory(b"\x1f\x8b" + b"junk" * 100, "x.tar.gz"))


def test_plain_tar_is_read():
    bundle = tar_bytes({"x-e00.fits": fits_bytes()}, mode="w")
    built = TarWithFitsFile(in_memory(bundle, "x.tar"))
    assert built.get_header_data().get_site_id() == "lsc"


def test_lco_tar_picks_the_e00_e90_e91_member_and_repairs():
    bundle = tar_bytes(
        {
            "ogg2m001-en06-20240305-0012-1d.fits": fits_bytes({"OBJECT": "1d"}),
            "ogg2m001-en06-20240305-0012-e91.fits": fits_bytes(
                {"OBJECT": "meta", "OBSTYPE": "UNKNOWN"}
            ),
        }
    )
    name = "ogg2m001-en06-20240305-0012-e00.tar.gz"
    built = LcoTarWithFitsFile(in_memory(bundle, name))
    header_data = built.get_header_data()
    assert header_data.get_target_name() == "meta"
    assert header_data.get_configuration_type() == "SPECTRUM"
    assert header_data.get_reduction_level() == 90
    assert built.get_filestore_path() == f"lsc/fa04/20240304/processed/{name}"


# SOAR


@pytest.mark.parametrize(
    ("prefix", "level"), [*SOAR_PREFIX_TO_RLEVEL.items(), ("other", 5)]
)
def test_soar_reduction_level_from_prefix(prefix, level):
    name = f"{prefix}_0001.SOAR.fits"
    built = SOARFitsFile(in_memory(fits_bytes({"RLEVEL": 5}), name))
    assert built.get_header_data().get_reduction_level() == level


# Thumbnails

THUMBNAIL_METADATA = {
    "frame_basename": "lsc1m009-fa04-20240305-0101-e91",
    "size": "small",
    "DATE-OBS": "2024-03-05T01:02:03.456",
    "DAY-OBS": "20240304",
    "INSTRUME": "fa04",
    "SITEID": "lsc",
    "TELID": "1m0a",
    "PROPID": "N/A",
    "REQNUM": "UNSPECIFIED",
}


@pytest.mark.parametrize("extension", [".jpg", ".jpeg"])
def test_thumbnail(extension):
    name = f"lsc1m009-fa04-20240305-0101-e91-small{extension}"
    built = ThumbnailFile(in_memory(b"\xff\xd8 not decoded", name), THUMBNAIL_METADATA)
    assert built.get_filestore_content_type() == "image/jpeg"
    assert built.get_filestore_path() == f"lsc/fa04/20240304/thumbnails/{name}"
    record = built.get_header_data().get_archive_frame_data()
    assert record["frame_basename"] == "lsc1m009-fa04-20240305-0101-e91"
    assert record["size"] == "small"
    assert record["proposal_id"] == ""
    assert record["request_id"] is None


def test_thumbnail_requires_its_own_keys_whatever_required_headers_says():
    metadata = {k: v for k, v in THUMBNAIL_METADATA.items() if k != "size"}
    with pytest.raises(FileSpecificationException, match="lacks size"):
        ThumbnailFile(in_memory(b"", "t.jpg"), metadata, None, [])
    built = ThumbnailFile(in_memory(b"", "t.jpg"), THUMBNAIL_METADATA, None, ["OTHER"])
    assert built.get_header_data().get_size() == "small"


def test_null_marker_reduction_level_is_read_from_the_name():
    name = "lsc1m009-fa04-20240305-0001-e91.fits.fz"
    for marker in ("N/A", "UNKNOWN"):
        built = LcoFitsFile(
            in_memory(fits_bytes({"RLEVEL": marker}, compressed=True), name)
        )
        assert built.get_header_data().get_reduction_level() == 91


def test_control_characters_inside_a_header_string_do_not_break_reading(caplog):
    frame = bytearray(fits_bytes({"OBJECT": "a_b"}))
    start = frame.index(b"'a_b")
    frame[start + 2 : start + 3] = b"\t"
    built = FitsFile(in_memory(bytes(frame), "x.fits"))
    assert built.get_header_data().get_site_id() == "lsc"
    assert "OBJECT" not in built.get_header_data().get_headers()
    assert "x.fits HDU 0: skipped unreadable card 'OBJECT'" in caplog.text


def test_required_headers_in_the_last_of_many_hdus():
    from astropy.io import fits

    hdus = [fits.PrimaryHDU()] + [fits.ImageHDU() for _ in range(300)]
    for key, value in REQUIRED.items():
        hdus[-1].header[key] = value
    buffer = io.BytesIO()
    fits.HDUList(hdus).writeto(buffer)
    built = FitsFile(in_memory(buffer.getvalue(), "x.fits"))
    assert built.get_header_data().get_site_id() == "lsc"
