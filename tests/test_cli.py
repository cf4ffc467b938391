"""The ``ocs-archive`` command, run end to end in a subprocess."""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from testframes import FRAME_DATA_KEYS, REAL_PDF_METADATA, SAMPLES

from ocs_archive.record import build_record, open_data_file
from ocs_archive.settings import settings
from ocs_archive.storage.filesystemstore import FileSystemStore

RECORD_KEYS = {*FRAME_DATA_KEYS, "headers", "area", "basename"}
DESCRIBE_KEYS = {*RECORD_KEYS, "store_path", "content_type", "md5", "size_bytes"}

PDF = "ogg2m001-en06-20240305-0012-e92-summary.pdf"
PDF_SIDECAR = "ogg2m001-en06-20240305-0012-e92-summary.json"
TAR = "ogg2m001-en06-20240305-0012-e00.tar.gz"

# Where each sample is kept, and as what, by the default file types.
SAMPLE_STORE_PATHS = {
    "bias_fa04_20240305_bin1x1.fits": (
        "lsc/fa04/20240305/processed/bias_fa04_20240305_bin1x1.fits",
        "image/fits",
    ),
    "lsc1m009-fa04-20240305-0101-e00.fits": (
        "lsc/fa04/20240305/raw/lsc1m009-fa04-20240305-0101-e00.fits",
        "image/fits",
    ),
    "lsc1m009-fa04-20240305-0101-e91.fits.fz": (
        "lsc/fa04/20240305/processed/lsc1m009-fa04-20240305-0101-e91.fits.fz",
        "image/fits",
    ),
    "lsc1m009-fa04-20240305-0101-e91_cat.fits": (
        "lsc/fa04/20240305/processed/lsc1m009-fa04-20240305-0101-e91_cat.fits",
        "image/fits",
    ),
    TAR: (f"ogg/en06/20240305/raw/{TAR}", "application/x-tar"),
    PDF: (f"ogg/en06/20240305/processed/{PDF}", ""),
}


SUMMARY = re.compile(r"^(\d+) frames ok, (\d+) failed, \d+\.\d MB in \d+\.\d\d s$")


def environment(**variables: str) -> dict[str, str]:
    """This process's environment without any library setting, plus ``variables``."""
    names = {name for name in vars(settings) if name.isupper()}
    clean = {
        name: value
        for name, value in os.environ.items()
        if name not in names and not name.startswith("AWS_")
    }
    return {**clean, **variables}


def run_cli(
    *arguments: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    text: bool = True,
    command: tuple[str, ...] = (sys.executable, "-m", "ocs_archive"),
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*command, *arguments],
        capture_output=True,
        text=text,
        env=environment() if env is None else env,
        cwd=cwd,
        timeout=120,
    )


def md5_of(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def failure_lines(stderr: str) -> dict[str, str]:
    """``PATH: message`` lines of standard error, as {path: message}."""
    lines = {}
    for line in stderr.splitlines():
        path, separator, message = line.partition(": ")
        if separator:
            lines[path] = message
    return lines


def sample_records_in_process() -> dict[str, dict[str, Any]]:
    """The record of each sample built by the library itself, as JSON would give it."""
    sidecar = json.loads((SAMPLES / PDF_SIDECAR).read_text())
    records = {}
    for name in SAMPLE_STORE_PATHS:
        metadata = sidecar if name == PDF else None
        with open_data_file(SAMPLES / name, metadata) as data_file:
            records[name] = json.loads(json.dumps(build_record(data_file)))
    return records


# describe


@pytest.fixture(scope="module")
def described_samples() -> subprocess.CompletedProcess:
    return run_cli("describe", str(SAMPLES))


@pytest.fixture(scope="module")
def sample_records(described_samples) -> dict[str, dict[str, Any]]:
    assert described_samples.returncode == 0, described_samples.stderr
    records = json.loads(described_samples.stdout)
    assert isinstance(records, list)
    return {Path(record["file"]).name: record for record in records}


def test_describe_gives_one_record_per_supported_sample(
    described_samples, sample_records
):
    assert sorted(sample_records) == sorted(SAMPLE_STORE_PATHS)
    assert described_samples.stderr == "skipped 2 files of unsupported types\n"


@pytest.mark.parametrize("name", sorted(SAMPLE_STORE_PATHS))
def test_describe_record_has_the_archive_fields(sample_records, name):
    record = sample_records[name]

    assert set(record) - {"file"} == DESCRIBE_KEYS
    assert record["basename"] == name.split(".")[0]
    assert (record["store_path"], record["content_type"]) == SAMPLE_STORE_PATHS[name]
    assert record["md5"] == md5_of(SAMPLES / name)
    assert record["size_bytes"] == (SAMPLES / name).stat().st_size
    json.dumps(record, allow_nan=False)


def test_describe_records_are_what_the_library_builds(sample_records):
    expected = sample_records_in_process()

    for name, record in sample_records.items():
        assert {key: record[key] for key in RECORD_KEYS} == expected[name], name


def test_describe_reads_the_pdf_metadata_from_the_json_beside_it(sample_records):
    sidecar = json.loads((SAMPLES / PDF_SIDECAR).read_text())
    record = sample_records[PDF]

    assert record["headers"].items() >= sidecar.items()
    assert record["reduction_level"] == sidecar["RLEVEL"] == 92
    assert record["site_id"] == sidecar["SITEID"]
    assert record["observation_day"] == sidecar["DAY-OBS"]


def test_describe_jsonl_gives_the_same_records_one_per_line(sample_records):
    result = run_cli("describe", "--jsonl", "--quiet", str(SAMPLES))

    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert len(lines) == len(SAMPLE_STORE_PATHS)
    by_name = {Path(record["file"]).name: record for record in map(json.loads, lines)}
    assert by_name == sample_records
    assert result.stderr == ""


def test_describe_metadata_inline_and_from_a_file(tmp_path):
    metadata = {
        **json.loads((SAMPLES / PDF_SIDECAR).read_text()),
        "SITEID": "coj",
        "INSTRUME": "en12",
    }
    metadata_file = tmp_path / "metadata.json"
    metadata_file.write_text(json.dumps(metadata))
    expected_path = f"coj/en12/20240305/processed/{PDF}"

    for option in (json.dumps(metadata), f"@{metadata_file}"):
        result = run_cli("describe", "--metadata", option, str(SAMPLES / PDF))

        assert result.returncode == 0, result.stderr
        [record] = json.loads(result.stdout)
        assert record["store_path"] == expected_path
        assert record["headers"]["SITEID"] == "coj"


def test_describe_metadata_wins_over_fits_headers():
    frame = SAMPLES / "lsc1m009-fa04-20240305-0101-e00.fits"

    result = run_cli("describe", "--metadata", '{"OBJECT": "M 31"}', str(frame))

    [record] = json.loads(result.stdout)
    assert record["target_name"] == "M 31"
    assert record["md5"] == md5_of(frame)


def test_describe_type_forces_the_data_file_class(make_frame):
    frame = make_frame("lsc1m009-fa04-20240305-0101-e91.fits.fz")

    by_name = run_cli("describe", str(frame))
    as_fits = run_cli(
        "describe", "--type", "ocs_archive.input.fitsfile.FitsFile", str(frame)
    )

    [from_name] = json.loads(by_name.stdout)
    [from_header] = json.loads(as_fits.stdout)
    assert from_name["reduction_level"] == 91
    assert from_name["store_path"].split("/")[3] == "processed"
    assert from_header["reduction_level"] == 0
    assert from_header["store_path"].split("/")[3] == "raw"


def test_describe_type_lco_tar_takes_reduction_level_90_for_a_tar():
    class_path = "ocs_archive.input.lcotarwithfitsfile.LcoTarWithFitsFile"

    result = run_cli("describe", "--type", class_path, str(SAMPLES / TAR))

    [record] = json.loads(result.stdout)
    assert record["reduction_level"] == 90
    assert record["store_path"] == f"ogg/en06/20240305/processed/{TAR}"


def test_describe_reports_each_failing_file_and_describes_the_others(tmp_path):
    good = SAMPLES / "lsc1m009-fa04-20240305-0101-e00.fits"
    not_fits = tmp_path / "broken.fits"
    not_fits.write_bytes(b"this is not a FITS file")
    missing = tmp_path / "missing.fits"
    unsupported = tmp_path / "notes.txt"
    unsupported.write_text("observing notes")

    result = run_cli(
        "describe", str(not_fits), str(good), str(missing), str(unsupported)
    )

    assert result.returncode == 1
    [record] = json.loads(result.stdout)
    assert record["md5"] == md5_of(good)
    failures = failure_lines(result.stderr)
    assert set(failures) == {str(not_fits), str(missing), str(unsupported)}
    assert failures[str(not_fits)].startswith(
        "Could not find required keywords in headers! broken.fits is not a FITS file"
    )
    assert "No such file or directory" in failures[str(missing)]
    assert failures[str(unsupported)] == (
        "file extension .txt is not a currently supported file type"
    )


def test_describe_with_a_class_that_does_not_exist_fails_every_file():
    frame = SAMPLES / "lsc1m009-fa04-20240305-0101-e00.fits"

    result = run_cli("describe", "--type", "this.is.fake.FitsFile", str(frame))

    assert result.returncode == 1
    assert failure_lines(result.stderr) == {
        str(frame): "module this.is.fake was not found. Please ensure the class "
        "path is correct"
    }


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("{bad json", "--metadata is not valid JSON"),
        ('["a list"]', "--metadata must hold a JSON object"),
        ("@/nonexistent/metadata.json", "cannot read metadata file"),
    ],
)
def test_describe_bad_metadata_is_a_usage_error(option, message):
    result = run_cli("describe", "--metadata", option, str(SAMPLES / PDF))

    assert result.returncode == 2
    assert result.stdout == ""
    assert f"ocs-archive describe: error: {message}" in result.stderr


def test_describe_every_real_frame_matches_the_reference(lco_data, reference_records):
    pdf = next(name for name in reference_records if name.endswith(".pdf"))

    folder = run_cli("describe", "--quiet", str(lco_data))
    pdf_alone = run_cli(
        "describe", "--metadata", json.dumps(REAL_PDF_METADATA), str(lco_data / pdf)
    )

    # Without its metadata the PDF fails, and the frames are still described.
    assert folder.returncode == 1
    assert list(failure_lines(folder.stderr)) == [str(lco_data / pdf)]
    assert pdf_alone.returncode == 0, pdf_alone.stderr
    records = [*json.loads(folder.stdout), *json.loads(pdf_alone.stdout)]
    assert sorted(Path(r["file"]).name for r in records) == sorted(reference_records)
    for record in records:
        name = Path(record["file"]).name
        reference = reference_records[name]
        for key in (*FRAME_DATA_KEYS, "basename", "content_type", "md5"):
            assert record[key] == reference[key], f"{name}: {key}"
        assert record["store_path"] == reference["filestore_path"], name


# store


def store_samples(root: Path, *options: str) -> subprocess.CompletedProcess:
    return run_cli(
        "store", str(SAMPLES), "--filestore", "local", "--root", str(root), *options
    )


@pytest.fixture(scope="module")
def stored_samples(tmp_path_factory):
    root = tmp_path_factory.mktemp("store")
    return root, store_samples(root)


def test_store_keeps_every_sample_at_its_store_path(stored_samples):
    root, result = stored_samples

    assert result.returncode == 0, result.stderr
    stored = json.loads(result.stdout)
    assert [Path(item["file"]).name for item in stored] == sorted(SAMPLE_STORE_PATHS)
    for item in stored:
        name = Path(item["file"]).name
        md5 = md5_of(SAMPLES / name)
        assert item["store_path"] == SAMPLE_STORE_PATHS[name][0]
        assert item["version"] == {
            "key": md5,
            "md5": md5,
            "extension": name[name.index(".") :],
        }
        assert md5_of(root / item["store_path"]) == md5


def test_store_prints_a_summary(stored_samples):
    _, result = stored_samples

    lines = result.stderr.splitlines()
    summaries = [SUMMARY.match(line) for line in lines]
    assert [match.groups() for match in summaries if match] == [("6", "0")]
    assert "skipped 2 files of unsupported types" in lines


def test_store_with_three_workers_gives_the_same_result(stored_samples, tmp_path):
    _, serial = stored_samples

    parallel = store_samples(tmp_path, "--workers", "3")

    assert parallel.returncode == 0
    assert json.loads(parallel.stdout) == json.loads(serial.stdout)
    for item in json.loads(parallel.stdout):
        assert md5_of(tmp_path / item["store_path"]) == item["version"]["md5"]


def test_store_jsonl_and_quiet(stored_samples, tmp_path):
    _, serial = stored_samples

    result = store_samples(tmp_path, "--jsonl", "--quiet")

    assert result.returncode == 0
    assert [json.loads(line) for line in result.stdout.splitlines()] == json.loads(
        serial.stdout
    )
    assert result.stderr == ""


def test_store_reports_a_failing_frame_and_stores_the_others(make_frame, tmp_path):
    good = make_frame()
    bad = make_frame("lsc1m009-fa04-20240305-0102-e00.fits", {"SITEID": "../.."})
    root = tmp_path / "store"

    result = run_cli(
        "store", str(bad), str(good), "--filestore", "local", "--root", str(root)
    )

    assert result.returncode == 1
    [item] = json.loads(result.stdout)
    assert md5_of(root / item["store_path"]) == md5_of(good)
    failures = failure_lines(result.stderr)
    assert failures[str(bad)].startswith(
        "SITEID '../..' in lsc1m009-fa04-20240305-0102-e00.fits cannot be part of a "
        "store path"
    )
    summaries = [SUMMARY.match(line) for line in result.stderr.splitlines()]
    assert [match.groups() for match in summaries if match] == [("1", "1")]
    assert sorted(os.listdir(tmp_path)) == sorted([good.name, bad.name, "store"])


def test_workers_report_failing_frames_in_order_and_store_the_others(
    make_frame, tmp_path
):
    frames = [
        make_frame(f"lsc1m009-fa04-20240305-{number:04d}-e00.fits")
        for number in range(1, 9)
    ]
    bad = make_frame("lsc1m009-fa04-20240305-0005-e00.fits", {"SITEID": "../.."})
    frames[4] = bad
    root = tmp_path / "store"

    result = run_cli(
        "store",
        *map(str, frames),
        *("--filestore", "local", "--root", str(root)),
        *("--workers", "3", "--jsonl"),
    )

    assert result.returncode == 1
    stored = [json.loads(line) for line in result.stdout.splitlines()]
    assert [item["file"] for item in stored] == [
        str(frame) for frame in frames if frame != bad
    ]
    for item in stored:
        assert md5_of(root / item["store_path"]) == item["version"]["md5"]
    assert list(failure_lines(result.stderr)) == [str(bad)]
    summaries = [SUMMARY.match(line) for line in result.stderr.splitlines()]
    assert [match.groups() for match in summaries if match] == [("7", "1")]


def many_frames(make_frame, folder: Path, count: int) -> None:
    """``count`` frames of 4 MiB, all links to one file."""
    first = make_frame("lsc1m009-fa04-20240305-0001-e00.fits", shape=(1024, 1024))
    for number in range(2, count + 1):
        os.link(first, folder / f"lsc1m009-fa04-20240305-{number:04d}-e00.fits")


def start_storing(folder: Path, root: Path, *options: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "ocs_archive", "store", str(folder)]
    command += ["--filestore", "local", "--root", str(root), *options]
    return subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment(),
        start_new_session=True,  # a process group of its own, as a service has
    )


def wait_for_a_stored_frame(root: Path, process: subprocess.Popen) -> None:
    import time

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if any(not path.name.startswith(".") for path in root.rglob("*.fits")):
            return
        time.sleep(0.01)
    pytest.fail("no frame was stored")


@pytest.mark.parametrize(
    ("signal_name", "status", "options", "to_group"),
    [
        ("SIGINT", 130, ("--workers", "2", "--jsonl"), False),
        ("SIGINT", 130, ("--workers", "2"), True),
        ("SIGINT", 130, (), False),
        ("SIGTERM", 143, ("--workers", "3"), False),
        ("SIGTERM", 143, ("--workers", "3"), True),
    ],
    ids=[
        "ctrl-c, 2 workers, lines",
        "ctrl-c from a terminal, 2 workers",
        "ctrl-c",
        "sigterm",
        "sigterm to the process group",
    ],
)
def test_an_interrupted_batch_stops_cleanly(
    make_frame, tmp_path, signal_name, status, options, to_group
):
    import signal

    many_frames(make_frame, tmp_path, 120)
    root = tmp_path.parent / f"{tmp_path.name}-store"
    with start_storing(tmp_path, root, *options) as process:
        wait_for_a_stored_frame(root, process)
        if to_group:  # as a terminal or a service manager sends it
            os.killpg(process.pid, getattr(signal, signal_name))
        else:
            process.send_signal(getattr(signal, signal_name))
        output, errors = process.communicate(timeout=60)

    assert process.returncode == status, errors
    if "--jsonl" in options:
        reported = [json.loads(line) for line in output.splitlines()]
    else:
        reported = json.loads(output)
    stored = [path for path in root.rglob("*") if path.is_file()]
    # Frames not begun are left alone; those begun are finished, and reported, or
    # (workers stopped with the command) abandoned, leaving nothing behind.
    assert 1 <= len(reported) == len(stored) < 120
    assert {item["store_path"] for item in reported} == {
        str(path.relative_to(root)) for path in stored
    }
    assert f"stopped: {len(stored)} of 120 files done" in errors
    assert errors.endswith("ocs-archive: interrupted\n")
    for path in stored:
        assert not path.name.startswith(".ocs-archive-"), "a partial file was left"
        assert md5_of(path) == md5_of(tmp_path / path.name)
    assert "Traceback" not in errors


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")
def test_a_killed_worker_stops_the_batch_with_one_line(make_frame, tmp_path):
    import signal

    many_frames(make_frame, tmp_path, 120)
    root = tmp_path.parent / f"{tmp_path.name}-store"
    with start_storing(tmp_path, root, "--workers", "3", "--jsonl") as process:
        wait_for_a_stored_frame(root, process)
        children = Path(f"/proc/{process.pid}/task/{process.pid}/children")
        os.kill(int(children.read_text().split()[0]), signal.SIGKILL)
        output, errors = process.communicate(timeout=60)

    assert process.returncode == 1, errors
    assert "a worker process stopped without an answer" in errors
    assert "Traceback" not in errors
    assert any(SUMMARY.match(line) for line in errors.splitlines())
    reported = [json.loads(line) for line in output.splitlines()]
    for item in reported:
        assert md5_of(root / item["store_path"]) == item["version"]["md5"]


def test_the_readme_set_up_command_with_the_console_script(tmp_path):
    script = Path(sys.executable).with_name("ocs-archive")
    if not script.is_file():
        pytest.skip(f"no ocs-archive script beside {sys.executable}")

    result = run_cli(
        "store",
        str(SAMPLES),
        "--filestore",
        "local",
        "--root",
        "archive-store",
        cwd=tmp_path,
        command=(str(script),),
    )

    assert result.returncode == 0, result.stderr
    for name, (store_path, _) in SAMPLE_STORE_PATHS.items():
        assert md5_of(tmp_path / "archive-store" / store_path) == md5_of(SAMPLES / name)


def test_store_without_a_root_says_what_to_set(tmp_path):
    result = run_cli("store", str(SAMPLES / PDF), "--filestore", "local", cwd=tmp_path)

    assert result.returncode != 0
    assert "FILESYSTEM_STORAGE_ROOT_DIR" in result.stderr
    assert "Traceback" not in result.stderr


# settings


def test_settings_prints_every_setting_and_masks_the_token():
    env = environment(
        OBSERVATION_PORTAL_API_TOKEN="supersecret",
        AWS_SECRET_ACCESS_KEY="awskeysecret",
        FILESTORE_TYPE="local",
    )

    result = run_cli("settings", env=env)

    assert result.returncode == 0
    lines = result.stdout.splitlines()
    names = [line.split(" = ")[0] for line in lines]
    expected = sorted(
        name for name in vars(settings) if name.isupper() and not name.startswith("_")
    )
    assert [name for name in names if "(environment)" not in name] == expected
    assert "OBSERVATION_PORTAL_API_TOKEN = '****'" in lines
    assert "OBSERVATION_PORTAL_BASE_URL = None" in lines
    assert "FILESTORE_TYPE = 'local'" in lines
    assert "AWS_SECRET_ACCESS_KEY (environment) = '****'" in lines
    assert "supersecret" not in result.stdout + result.stderr
    assert "awskeysecret" not in result.stdout + result.stderr


# fetch, url, delete


@pytest.fixture
def stored_frame(tmp_path):
    """A local store holding the raw sample frame: (root, store path, md5)."""
    root = tmp_path / "store"
    frame = SAMPLES / "lsc1m009-fa04-20240305-0101-e00.fits"
    with open_data_file(frame) as data_file:
        version = FileSystemStore(root).store_file(data_file)
        store_path = data_file.get_filestore_path()
    return root, store_path, version["md5"]


def test_fetch_writes_the_stored_frame(stored_frame, tmp_path):
    root, store_path, md5 = stored_frame
    output = tmp_path / "fetched.fits"
    local = ("--filestore", "local", "--root", str(root))

    to_file = run_cli("fetch", store_path, "-o", str(output), *local)
    to_stdout = run_cli("fetch", store_path, *local, text=False)

    assert to_file.returncode == 0, to_file.stderr
    assert md5_of(output) == md5
    assert hashlib.md5(to_stdout.stdout).hexdigest() == md5
    assert sorted(os.listdir(tmp_path)) == ["fetched.fits", "store"]


def test_fetch_into_a_missing_folder_is_reported(stored_frame, tmp_path):
    root, store_path, _ = stored_frame
    output = tmp_path / "missing" / "fetched.fits"

    result = run_cli(
        "fetch",
        store_path,
        "-o",
        str(output),
        "--filestore",
        "local",
        "--root",
        str(root),
    )

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert str(output.parent) in result.stderr


def test_url_is_the_base_url_and_the_store_path(stored_frame):
    root, store_path, md5 = stored_frame
    env = environment(
        FILESYSTEM_STORAGE_BASE_URL="http://archive.test/files/",
        FILESYSTEM_STORAGE_ROOT_DIR=str(root),
    )

    result = run_cli(
        "url", store_path, "--version-id", md5, "--filestore", "local", env=env
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout == f"http://archive.test/files/{store_path}\n"


def test_delete_removes_the_frame_and_fetch_then_finds_nothing(stored_frame):
    root, store_path, md5 = stored_frame
    env = environment(FILESTORE_TYPE="local", FILESYSTEM_STORAGE_ROOT_DIR=str(root))

    deleted = run_cli("delete", store_path, "--version-id", md5, env=env)
    fetched = run_cli("fetch", store_path, env=env)

    assert deleted.returncode == 0, deleted.stderr
    assert not (root / store_path).exists()
    assert fetched.returncode == 1
    assert fetched.stdout == ""
    assert fetched.stderr == f"{store_path}: nothing is stored there\n"


@pytest.mark.parametrize("command", ["fetch", "url", "delete"])
def test_an_unsafe_store_path_is_reported_as_path_and_message(tmp_path, command):
    (tmp_path / "outside.fits").write_bytes(b"precious")
    root = tmp_path / "store"
    root.mkdir()

    result = run_cli(
        command,
        "../outside.fits",
        "--version-id",
        "",
        "--filestore",
        "local",
        "--root",
        str(root),
    )

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert failure_lines(result.stderr) == {
        "../outside.fits": "store path '../outside.fits' is not a safe relative "
        "path (expected segments separated by '/', none empty, '.', '..' or holding "
        "'\\' or control characters)"
    }
    assert (tmp_path / "outside.fits").read_bytes() == b"precious"


# help


@pytest.mark.parametrize(
    "command",
    ["describe", "store", "settings", "fetch", "url", "delete", "footprints"],
)
def test_every_subcommand_has_help(command):
    result = run_cli(command, "--help")

    assert result.returncode == 0
    assert result.stdout.startswith(f"usage: ocs-archive {command} ")
    assert result.stderr == ""


# Hostile input on the command line


def test_a_malformed_setting_is_one_line_not_a_traceback():
    result = run_cli("settings", env={**environment(), "DAYS_UNTIL_PUBLIC": "abc"})
    assert result.returncode == 1
    assert result.stderr == (
        "ocs-archive: DAYS_UNTIL_PUBLIC='abc' is not an integer "
        "(expected a whole number of days)\n"
    )


def test_output_piped_into_a_reader_that_stops_early_is_not_an_error():
    pipeline = subprocess.run(
        f"{sys.executable} -m ocs_archive describe --jsonl {SAMPLES} | head -n 1",
        shell=True,
        capture_output=True,
        text=True,
        env=environment(),
        timeout=120,
        executable="/bin/bash",
    )
    assert len(pipeline.stdout.splitlines()) == 1
    assert "Broken pipe" not in pipeline.stderr
    assert "Traceback" not in pipeline.stderr


def test_names_with_control_characters_are_reported_on_one_line(tmp_path):
    strange = tmp_path / "bad\nname-e00.fits"
    strange.write_bytes(b"not a frame")
    result = run_cli("describe", str(strange))
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith(str(tmp_path) + "/bad\\nname-e00.fits: ")


def test_verbose_after_the_subcommand(tmp_path):
    result = run_cli("describe", "-v", str(SAMPLES / "bias_fa04_20240305_bin1x1.fits"))
    assert result.returncode == 0
    assert "DEBUG ocs_archive" in result.stderr


def test_a_class_path_without_a_module_is_explained():
    result = run_cli("describe", "--type", "NoDots", str(SAMPLES / PDF))
    assert result.returncode == 1
    assert "class path 'NoDots' must name a module and a class" in result.stderr


def test_metadata_for_a_folder_does_not_override_its_frames_headers(tmp_path):
    folder = tmp_path / "night"
    folder.mkdir()
    for name in (PDF, "lsc1m009-fa04-20240305-0101-e00.fits"):
        (folder / name).write_bytes((SAMPLES / name).read_bytes())
    metadata = {**REAL_PDF_METADATA}

    result = run_cli("describe", "--metadata", json.dumps(metadata), str(folder))

    assert result.returncode == 0, result.stderr
    paths = {Path(r["file"]).name: r["store_path"] for r in json.loads(result.stdout)}
    assert paths[PDF].startswith("cpt/nres03/20150219/")
    assert paths["lsc1m009-fa04-20240305-0101-e00.fits"].startswith("lsc/fa04/")


def test_fetched_files_get_the_usual_permissions(tmp_path):
    root = tmp_path / "store"
    frame = SAMPLES / "lsc1m009-fa04-20240305-0101-e00.fits"
    stored = run_cli(
        "store", "--filestore", "local", "--root", str(root), "--jsonl", str(frame)
    )
    store_path = json.loads(stored.stdout)["store_path"]
    output = tmp_path / "fetched.fits"

    result = run_cli(
        "fetch",
        store_path,
        "-o",
        str(output),
        "--filestore",
        "local",
        "--root",
        str(root),
    )

    assert result.returncode == 0, result.stderr
    assert output.read_bytes() == frame.read_bytes()
    assert stat.S_IMODE(output.stat().st_mode) == 0o666 & ~current_umask()


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_workers_must_be_a_whole_number():
    result = run_cli("store", str(SAMPLES), "--workers", "abc")

    assert result.returncode == 2
    assert "argument --workers: 'abc' is not a whole number" in result.stderr
