"""Fixtures of the S3 store tests, from ``seaweedfs_fixtures.py``.

One SeaweedFS server for the session; for each test a fresh versioned bucket and the
settings that point the library at it.
"""

from __future__ import annotations

import seaweedfs_fixtures as _fixtures  # on pythonpath, see pyproject.toml

seaweedfs = _fixtures.seaweedfs
s3_setup = _fixtures.s3_setup
open_data_file = _fixtures.open_data_file
make_test_frame = _fixtures.make_test_frame
make_bytes_file = _fixtures.make_bytes_file
pdf_metadata = _fixtures.pdf_metadata
