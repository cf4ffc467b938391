"""The s3 store against servers that fail: absent, throttling, silent.

Each server here is a socket on 127.0.0.1 that this test opens: one that refuses
connections, one that answers every request with an S3 error, one that never
answers. No S3 server is needed.
"""

from __future__ import annotations

import http.server
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from ocs_archive.settings import settings
from ocs_archive.storage.filestore import FileStoreConnectionError
from ocs_archive.storage.s3store import S3Store

STORE_PATH = "lsc/fa04/20240305/raw/lsc1m009-fa04-20240305-0101-e00.fits"


@pytest.fixture
def point_at(monkeypatch) -> Iterator[Callable[[int], None]]:
    """Points the library at a local port, with short timeouts and two attempts."""

    def point(port: int) -> None:
        monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test-access")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret")
        for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setattr(settings, "S3_ENDPOINT_URL", f"http://127.0.0.1:{port}")
        monkeypatch.setattr(settings, "BUCKET", "test-bucket")
        monkeypatch.setattr(settings, "AWS_DEFAULT_REGION", "us-east-1")
        monkeypatch.setattr(settings, "S3_ADDRESSING_STYLE", "path")
        monkeypatch.setattr(settings, "S3_CONNECT_TIMEOUT", 1, raising=False)
        monkeypatch.setattr(settings, "S3_READ_TIMEOUT", 1, raising=False)
        monkeypatch.setattr(settings, "S3_MAX_ATTEMPTS", 2, raising=False)
        S3Store.get_s3_client.cache_clear()

    yield point
    S3Store.get_s3_client.cache_clear()


def every_operation(store: S3Store, data_file) -> dict[str, Callable[[], object]]:
    def read() -> None:
        with store.get_fileobj(STORE_PATH, "v1"):
            pass

    return {
        "store_file": lambda: store.store_file(data_file),
        "get_fileobj": read,
        "get_file_size": lambda: store.get_file_size(STORE_PATH, "v1"),
        "delete_file": lambda: store.delete_file(STORE_PATH, "v1"),
    }


OPERATIONS = ["store_file", "get_fileobj", "get_file_size", "delete_file"]


@pytest.fixture
def data_file(make_test_frame, open_data_file):
    return open_data_file(make_test_frame())


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port held by this test but not listening: connections are refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        yield holder.getsockname()[1]


@pytest.mark.parametrize("operation", OPERATIONS)
def test_a_server_that_is_not_there_is_a_connection_error(
    point_at, closed_port, data_file, operation
):
    point_at(closed_port)
    call = every_operation(S3Store(), data_file)[operation]

    started = time.monotonic()
    with pytest.raises(FileStoreConnectionError, match="Could not connect"):
        call()
    # Two attempts of a refused connection, and one backoff of at most a second.
    assert time.monotonic() - started < 10


def test_signing_a_url_needs_no_server(point_at, closed_port):
    point_at(closed_port)
    url = S3Store().get_url(STORE_PATH, "v1", 60)
    assert url.startswith(f"http://127.0.0.1:{closed_port}/test-bucket/{STORE_PATH}?")
    assert "versionId=v1" in url


class SlowDownHandler(http.server.BaseHTTPRequestHandler):
    """Answers every request as a throttled S3 would, and counts them."""

    requests: list[str]

    def answer(self) -> None:
        self.requests.append(f"{self.command} {self.path}")
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        body = (
            b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
            b"<Message>Please reduce your request rate.</Message></Error>"
        )
        self.send_response(503)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = answer

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def throttling_server() -> Iterator[tuple[int, list[str]]]:
    handler = type("Handler", (SlowDownHandler,), {"requests": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], handler.requests
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("operation", OPERATIONS)
def test_throttling_is_a_connection_error_after_bounded_retries(
    point_at, throttling_server, data_file, operation
):
    port, requests = throttling_server
    point_at(port)
    call = every_operation(S3Store(), data_file)[operation]

    # HEAD answers carry no body, so there only the status is known.
    with pytest.raises(FileStoreConnectionError, match="SlowDown|HTTP 503|503"):
        call()
    assert len(requests) == 2  # S3_MAX_ATTEMPTS


@pytest.fixture
def silent_server() -> Iterator[int]:
    """Accepts connections and never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


def test_a_server_that_never_answers_times_out(point_at, silent_server, data_file):
    point_at(silent_server)

    started = time.monotonic()
    with pytest.raises(FileStoreConnectionError, match="Read timeout"):
        S3Store().store_file(data_file)
    # Two attempts of one second each, and one backoff of at most a second.
    assert time.monotonic() - started < 10
