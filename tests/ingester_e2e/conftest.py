"""Fixtures of the end-to-end tests under the ocs-ingester client.

The ingester's metrics package reaches for a metrics server on import unless it is
in test mode, so test mode is switched on here, before any test module imports it.
"""

from __future__ import annotations

import os

os.environ["OPENTSDB_PYTHON_METRICS_TEST_MODE"] = "1"

import json  # noqa: E402
import secrets  # noqa: E402
import threading  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer  # noqa: E402
from urllib.parse import parse_qs, urlsplit  # noqa: E402

import pytest  # noqa: E402
import seaweedfs_fixtures as _fixtures  # noqa: E402 - on pythonpath

seaweedfs = _fixtures.seaweedfs
s3_setup = _fixtures.s3_setup
open_data_file = _fixtures.open_data_file
make_test_frame = _fixtures.make_test_frame
pdf_metadata = _fixtures.pdf_metadata


@dataclass
class FakeArchive:
    """The science archive's HTTP API as the ingester uses it, on 127.0.0.1."""

    root: str
    token: str
    posted: list[dict] = field(default_factory=list)
    refused_requests: list[str] = field(default_factory=list)

    def versions_with_md5(self, md5: str) -> list[dict]:
        return [
            version
            for record in self.posted
            for version in record.get("version_set", [])
            if version.get("md5") == md5
        ]


def archive_handler(archive: FakeArchive) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if not self.authorised():
                return
            if url.path != "/api/versions/":
                self.answer(404, {"detail": "Not found."})
                return
            md5 = parse_qs(url.query).get("md5", [""])[0]
            found = archive.versions_with_md5(md5)
            self.answer(200, {"count": len(found), "results": found})

        def do_POST(self) -> None:
            if not self.authorised():
                return
            if self.path != "/api/frames/":
                self.answer(404, {"detail": "Not found."})
                return
            length = int(self.headers.get("Content-Length") or 0)
            record = json.loads(self.rfile.read(length))
            archive.posted.append(record)
            number = len(archive.posted)
            extension = record["version_set"][0]["extension"]
            self.answer(
                201,
                {
                    "id": number,
                    "filename": f"{record['basename']}{extension}",
                    "url": f"{archive.root}frames/{number}/",
                    "proposal_id": record.get("proposal_id"),
                },
            )

        def authorised(self) -> bool:
            if self.headers.get("Authorization") == f"Token {archive.token}":
                return True
            archive.refused_requests.append(f"{self.command} {self.path}")
            self.answer(401, {"detail": "Invalid token."})
            return False

        def answer(self, status: int, payload: dict) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def fake_archive() -> Iterator[FakeArchive]:
    """A fake archive API; the md5 query finds what was posted before."""
    archive = FakeArchive(root="", token=secrets.token_hex(20))
    server = ThreadingHTTPServer(("127.0.0.1", 0), archive_handler(archive))
    archive.root = f"http://127.0.0.1:{server.server_address[1]}/api/"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield archive
    finally:
        server.shutdown()
        server.server_close()
