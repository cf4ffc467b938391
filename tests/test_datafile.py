"""DataFile: required metadata, repairs, public dates, store paths."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from unittest import mock

import pytest
from testframes import FRAME_DATA_KEYS, REQUIRED
from testframes import REAL_PDF_METADATA as PDF_METADATA

from ocs_archive.input import portal
from ocs_archive.input.file import DataFile, EmptyFile, FileSpecificationException
from ocs_archive.settings import settings

PDF = "cptnrs03-fa13-20150219-0001-e92-summary.pdf"


def data_file(metadata, name=PDF, **options):
    return DataFile(EmptyFile(name), metadata, **options)


def public_date(**changes):
    metadata = {**REQUIRED, "DATE-OBS": "2015-02-19T13:56:05.261", **changes}
    name = changes.pop("name", "lsc1m009-fa04-20150219-0101-e00.pdf")
    metadata.pop("name", None)
    return data_file(metadata, name).get_header_data().get_public_date()


def test_pdf_path_from_metadata():
    assert (
        data_file(PDF_METADATA).get_filestore_path()
        == "cpt/nres03/20150219/processed/cptnrs03-fa13-20150219-0001-e92-summary.pdf"
    )


def test_missing_required_keys_are_listed_with_the_file():
    metadata = {k: v for k, v in PDF_METADATA.items() if k not in ("SITEID", "TELID")}
    with pytest.raises(
        FileSpecificationException,
        match=rf"Could not find required keywords in headers! {PDF} lacks "
        "SITEID, TELID",
    ):
        data_file(metadata)


def test_header_lists_accept_any_iterable_and_read_settings_at_call_time():
    dated = {"DATE-OBS": "2015-02-19T13:56:05.261"}
    built = data_file(dated, required_headers={})
    assert built.get_header_data().get_headers() == {
        **dated,
        "DAY-OBS": "20150219",
        "L1PUBDAT": "2016-02-19T13:56:05.261000",
    }
    assert data_file(dated, required_headers=[]).required_headers == ()
    with mock.patch("ocs_archive.settings.settings.REQUIRED_HEADERS", ("ONLY",)):
        with pytest.raises(FileSpecificationException, match="lacks ONLY"):
            data_file({"SITEID": "x"})
        assert data_file({"ONLY": 1, **dated}).required_headers == ("ONLY",)
    with mock.patch("ocs_archive.input.file.settings.HEADER_BLACKLIST", ("X",)):
        assert data_file(PDF_METADATA).blacklist_headers == ("X",)


def test_callers_metadata_is_not_modified():
    metadata = {**PDF_METADATA, "DAY-OBS": "", "L1PUBDAT": ""}
    snapshot = dict(metadata)
    built = data_file(metadata)
    assert metadata == snapshot
    assert built.get_header_data().get_observation_day() == "20150219"


@pytest.mark.parametrize(
    ("date", "day"),
    [
        ("2020-01-31T20:09:56.956", "20200131"),
        ("2024-03-05 01:02:03.456", "20240305"),
        ("2024-03-05", "20240305"),
    ],
)
def test_observation_day_repaired_from_date(date, day):
    built = data_file({**PDF_METADATA, "DATE-OBS": date, "DAY-OBS": ""})
    assert built.get_header_data().get_observation_day() == day
    path = built.get_filestore_path()
    assert path.split("/")[2] == day
    assert " " not in path and ":" not in path


def test_integer_day_obs_gives_a_text_day_and_path():
    built = data_file({**PDF_METADATA, "DAY-OBS": 20240304})
    assert built.get_header_data().get_observation_day() == "20240304"
    assert built.get_filestore_path().startswith("cpt/nres03/20240304/processed/")


def test_bad_day_obs_is_refused_with_key_value_and_file(caplog):
    with pytest.raises(
        FileSpecificationException,
        match=rf"DAY-OBS '2015/02/19' in {PDF} is not a date \(expected YYYYMMDD\)",
    ):
        data_file({**PDF_METADATA, "DAY-OBS": "2015/02/19"})
    with caplog.at_level(logging.WARNING):
        built = data_file({**PDF_METADATA, "DAY-OBS": "2015-02-19"})
    assert built.get_header_data().get_observation_day() == "20150219"
    assert "DAY-OBS '2015-02-19'" in caplog.text


# Public date rules, in order


def test_public_date_kept_when_set():
    assert public_date(L1PUBDAT="2030-01-01T00:00:00") == "2030-01-01T00:00:00"


def test_calibrations_and_public_proposals_are_public_at_once():
    assert public_date(OBSTYPE="BIAS") == "2015-02-19T13:56:05.261"
    assert public_date(PROPID="LCOEPO2014B-010") == "2015-02-19T13:56:05.261"
    assert public_date(PROPID="calibrate") == "2015-02-19T13:56:05.261"


def test_private_proposals_and_file_types_are_private_for_999_years():
    assert public_date(PROPID="LCOEngineering") == "3013-06-22T13:56:05.261000"
    assert (
        public_date(name="tfn0m414-kb29-20151216-0380-t00.pdf")
        == "3013-06-22T13:56:05.261000"
    )


def test_other_data_is_proprietary_for_days_until_public():
    assert public_date() == "2016-02-19T13:56:05.261000"
    with mock.patch.object(settings, "DAYS_UNTIL_PUBLIC", 10):
        assert public_date() == "2015-03-01T13:56:05.261000"


def test_offset_is_kept():
    assert public_date(**{"DATE-OBS": "2024-03-05T01:02:03Z"}) == (
        "2025-03-05T01:02:03+00:00"
    )


def test_integer_proposal_id_follows_the_rules():
    assert public_date(PROPID=2024001) == "2016-02-19T13:56:05.261000"
    with mock.patch.object(settings, "PUBLIC_PROPOSALS", ("2024",)):
        assert public_date(PROPID=2024001) == "2015-02-19T13:56:05.261"


@pytest.mark.parametrize("date", ["", None, "not a date", "2015-13-45T00:00:00"])
def test_unusable_observation_date_names_the_key(date):
    metadata = {**REQUIRED, "DATE-OBS": date, "DAY-OBS": "20150219"}
    with pytest.raises(FileSpecificationException, match="DATE-OBS"):
        DataFile(EmptyFile("x-e00.pdf"), metadata)


@pytest.mark.parametrize("level", ["ninety", 1.5, [1]])
def test_non_integer_reduction_level_is_refused_when_built(level):
    with pytest.raises(
        FileSpecificationException, match=rf"RLEVEL .* is not an integer.*{PDF}"
    ):
        data_file({**PDF_METADATA, "RLEVEL": level})


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("SITEID", "../../outside"),
        ("SITEID", "/etc"),
        ("SITEID", ".."),
        ("INSTRUME", "a\\b"),
        ("INSTRUME", ""),
        ("SITEID", "lsc\n"),
        ("DAY-OBS", "../../x"),
    ],
)
def test_unsafe_path_components_are_refused(key, value):
    with pytest.raises(FileSpecificationException, match=key):
        data_file({**PDF_METADATA, key: value}).get_filestore_path()


def test_archive_frame_data_has_exactly_the_documented_keys():
    record = data_file(PDF_METADATA).get_header_data().get_archive_frame_data()
    assert tuple(record) == FRAME_DATA_KEYS
    assert record["related_frame_filenames"] == []
    assert record["target_name"] == "" and record["request_id"] is None


def test_no_footprint_without_wcs_or_field():
    assert data_file(PDF_METADATA).get_wcs_corners() is None


# The Observation Portal, played by a real local HTTP server


class _Portal(BaseHTTPRequestHandler):
    answers: dict[str, tuple[int, bytes]] = {}
    requests: list[tuple[str, str | None]] = []

    def do_GET(self):  # noqa: N802 - the handler API's name
        _Portal.requests.append((self.path, self.headers.get("Authorization")))
        status, body = _Portal.answers.get(self.path, (404, b"{}"))
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def portal_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Portal)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Portal.answers, _Portal.requests = {}, []
    portal.clear_cache()
    base_url = f"http://127.0.0.1:{server.server_address[1]}/portal"
    with (
        mock.patch.object(settings, "OBSERVATION_PORTAL_BASE_URL", base_url),
        mock.patch.object(settings, "OBSERVATION_PORTAL_API_TOKEN", "s3cret"),
    ):
        yield _Portal
    portal.clear_cache()
    server.shutdown()
    server.server_close()


def _tags(handler, proposal, tags):
    body = json.dumps({"id": proposal, "tags": tags}).encode()
    handler.answers[f"/portal/api/proposals/{proposal}"] = (200, body)


def test_portal_tags_decide_privacy(portal_server):
    _tags(portal_server, "LCO2024A-001", ["private", "other"])
    _tags(portal_server, "LCO2024A-002", ["public"])
    private = public_date(PROPID="LCO2024A-001")
    public = public_date(PROPID="LCO2024A-002")
    assert private == "3013-06-22T13:56:05.261000"
    assert public == "2015-02-19T13:56:05.261"
    assert portal_server.requests[0] == (
        "/portal/api/proposals/LCO2024A-001",
        "Token s3cret",
    )


def test_portal_tags_beat_the_proposal_lists(portal_server):
    _tags(portal_server, "LCOEPO-9", ["internal"])
    assert public_date(PROPID="LCOEPO-9") == "3013-06-22T13:56:05.261000"


def test_portal_answers_are_cached_across_files(portal_server):
    _tags(portal_server, "P1", ["public"])
    for _ in range(3):
        public_date(PROPID="P1")
    assert len(portal_server.requests) == 1


def test_portal_failures_fall_back_to_the_rules(portal_server, caplog):
    portal_server.answers["/portal/api/proposals/BAD"] = (200, b"not json")
    with caplog.at_level(logging.WARNING):
        assert public_date(PROPID="BAD") == "2016-02-19T13:56:05.261000"
        assert public_date(PROPID="MISSING") == "2016-02-19T13:56:05.261000"
    assert "BAD" in caplog.text


def test_data_privacy_tags(portal_server):
    _tags(portal_server, "P2", ["public", "key-project", "internal"])
    built = data_file({**PDF_METADATA, "PROPID": "P2"})
    assert built.proposal_tags == ["public", "key-project", "internal"]
    assert built.data_privacy_tags == ["public", "internal"]


def test_unreachable_portal_gives_none_quickly(caplog):
    portal.clear_cache()
    with (
        mock.patch.object(
            settings, "OBSERVATION_PORTAL_BASE_URL", "http://127.0.0.1:9"
        ),
        mock.patch.object(settings, "OBSERVATION_PORTAL_API_TOKEN", "t"),
        caplog.at_level(logging.WARNING),
    ):
        built = data_file({**PDF_METADATA, "PROPID": "P3"})
        assert built.proposal_tags is None
        assert built.data_privacy_tags == []
    assert "could not reach the Observation Portal" in caplog.text
    portal.clear_cache()


def test_portal_not_asked_without_settings_or_proposal():
    with mock.patch.object(
        settings, "OBSERVATION_PORTAL_BASE_URL", "http://127.0.0.1:9"
    ):
        assert data_file(PDF_METADATA).proposal_tags is None


def test_backslash_in_a_name_is_part_of_it_and_refused_in_a_store_path():
    built = DataFile(EmptyFile("night1\\frame-e00.pdf"), PDF_METADATA)
    assert built.open_file.basename == "night1\\frame-e00"
    with pytest.raises(FileSpecificationException, match="path separator"):
        built.get_filestore_path()


def test_overlong_path_components_are_refused():
    with pytest.raises(FileSpecificationException, match="SITEID .* longer than 255"):
        data_file({**PDF_METADATA, "SITEID": "s" * 300}).get_filestore_path()
    longest = "y" * 250 + ".pdf"
    assert data_file(PDF_METADATA, longest).get_filestore_path().endswith(longest)


@pytest.mark.parametrize(
    ("day", "expected"), [(20240304.0, "20240304"), ("2024-03-04", "20240304")]
)
def test_day_obs_forms_that_are_repaired(day, expected):
    built = data_file({**PDF_METADATA, "DAY-OBS": day})
    assert built.get_header_data().get_observation_day() == expected


@pytest.mark.parametrize("day", ["20241399", "2015/02/19", 2024.5, True, "2024030"])
def test_day_obs_that_is_not_a_calendar_date(day):
    with pytest.raises(FileSpecificationException, match=r"DAY-OBS .* is not a date"):
        data_file({**PDF_METADATA, "DAY-OBS": day})


def test_non_iso_observation_date_names_date_obs_when_the_day_is_derived():
    with pytest.raises(
        FileSpecificationException,
        match=r"DATE-OBS '05/03/24' in .* is not an ISO date, so DAY-OBS cannot be",
    ):
        data_file({**PDF_METADATA, "DATE-OBS": "05/03/24", "DAY-OBS": ""})


def test_public_date_past_the_last_representable_year():
    with pytest.raises(FileSpecificationException, match="too late.*past the year"):
        data_file(
            {**PDF_METADATA, "PROPID": "LCOEngineering", "DATE-OBS": "9999-03-05"}
        )


def test_null_marker_reduction_level_is_raw():
    built = data_file({**PDF_METADATA, "RLEVEL": "N/A"})
    assert built.get_header_data().get_reduction_level() == 0


def test_proposal_ids_are_percent_encoded_in_the_portal_url(portal_server):
    _tags(portal_server, "public9", ["public"])
    hostile = "secret2/../../public9"
    assert public_date(PROPID=hostile) == "2016-02-19T13:56:05.261000"
    assert portal_server.requests[-1][0] == (
        "/portal/api/proposals/secret2%2F..%2F..%2Fpublic9"
    )


def test_empty_file_md5_of_a_name_that_is_not_utf8():
    name = os.fsdecode(b"bad\xff-e00.fits")
    assert EmptyFile(name).get_md5() == hashlib.md5(b"bad\xff-e00.fits").hexdigest()
