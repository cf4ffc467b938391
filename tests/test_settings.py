"""Settings: read from the environment at import, validated, patchable at run time."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ocs_archive.settings import settings
from ocs_archive.settings.settings import get_tuple_from_environment


def test_defaults_match_the_documented_table():
    assert settings.BUCKET == "testbucket"
    assert settings.S3_ENDPOINT_URL == "https://s3.us-west-2.amazonaws.com"
    assert settings.S3_DAYS_TO_IA_STORAGE == 60
    assert settings.S3_ADDRESSING_STYLE == "virtual"
    assert settings.FILESTORE_TYPE == "dummy"
    assert settings.FILESYSTEM_STORAGE_BASE_URL == "http://0.0.0.0/"
    assert settings.OBSERVATION_PORTAL_BASE_URL is None
    assert settings.PRIVATE_PROPOSAL_TAGS == ("private", "internal")
    assert settings.PUBLIC_PROPOSAL_TAGS == ("public",)
    assert settings.FILETYPE_MAPPING_OVERRIDES == {}
    assert settings.HEADER_BLACKLIST == ("HISTORY", "COMMENT")
    assert settings.REQUIRED_HEADERS == (
        "PROPID",
        "DATE-OBS",
        "DAY-OBS",
        "INSTRUME",
        "SITEID",
        "TELID",
        "OBSTYPE",
        "BLKUID",
    )
    assert settings.NULL_HEADER_VALUES == ("N/A", "UNSPECIFIED", "UNKNOWN")
    assert settings.DAYS_UNTIL_PUBLIC == 365
    assert settings.PRIVATE_FILE_TYPES == ("-t00", "-x00")
    assert settings.RELATED_FRAME_KEYS[0] == "L1IDBIAS"
    assert len(settings.RELATED_FRAME_KEYS) == 16
    assert settings.INTEGER_TYPES == ["REQNUM", "TRACKNUM", "BLKUID", "MOLUID"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("a,b", ("a", "b")),
        (" a, b ,", ("a", "b")),
        (",a,", ("a",)),
        ("", ()),
        (" , ", ()),
    ],
)
def test_tuple_from_environment(monkeypatch, value, expected):
    monkeypatch.setenv("OCS_TEST_LIST", value)
    assert get_tuple_from_environment("OCS_TEST_LIST", "x") == expected


def test_tuple_from_environment_default(monkeypatch):
    monkeypatch.delenv("OCS_TEST_LIST", raising=False)
    assert get_tuple_from_environment("OCS_TEST_LIST", "x,y") == ("x", "y")


def _import_settings_with(**environment: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **environment}
    return subprocess.run(
        [sys.executable, "-c", "import ocs_archive.settings.settings"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DAYS_UNTIL_PUBLIC", "a year"),
        ("S3_DAYS_TO_IA_STORAGE", "6o"),
        ("FILETYPE_MAPPING_OVERRIDES", "['.fits']"),
        ("FILETYPE_MAPPING_OVERRIDES", "{'.x': "),
        ("S3_ADDRESSING_STYLE", "sideways"),
    ],
)
def test_malformed_values_fail_at_import_naming_variable_and_value(variable, value):
    result = _import_settings_with(**{variable: value})
    assert result.returncode != 0
    assert variable in result.stderr
    assert repr(value) in result.stderr


def test_environment_values_are_read_at_import():
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import ocs_archive.settings.settings as s;"
            "print(s.DAYS_UNTIL_PUBLIC, s.FILETYPE_MAPPING_OVERRIDES, "
            "s.OBSERVATION_PORTAL_API_TOKEN, s.CALIBRATION_TYPES)",
        ],
        env={
            **os.environ,
            "DAYS_UNTIL_PUBLIC": "30",
            "FILETYPE_MAPPING_OVERRIDES": "{'.fits': 'a.B'}",
            "OBSERVATION_PORTAL_API_TOKEN": "",
            "CALIBRATION_TYPES": "BIAS, DARK",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.strip() == "30 {'.fits': 'a.B'} None ('BIAS', 'DARK')"


def test_importing_the_package_does_not_import_heavy_modules():
    code = (
        "import sys, ocs_archive, ocs_archive.input.file, "
        "ocs_archive.storage.filestorefactory, ocs_archive.cli;"
        "print(sorted(m for m in ('boto3', 'astropy.wcs', 'shapely', 'requests') "
        "if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip() == "[]"


def test_timeouts_accept_fractions_of_a_second_and_refuse_the_rest():
    code = "import ocs_archive.settings.settings as s; print(s.S3_CONNECT_TIMEOUT)"
    ok = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "S3_CONNECT_TIMEOUT": "0.5"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ok.stdout.strip() == "0.5"
    refused = _import_settings_with(S3_READ_TIMEOUT="0")
    assert "S3_READ_TIMEOUT='0' is not a number of seconds above 0" in refused.stderr
