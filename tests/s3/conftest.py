"""Fixtures of the S3 store tests, from ``seaweedfs_fixtures.py``.

One SeaweedFS server for the session; for each test a fresh versioned bucket and the
settings that point the library at it.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType


def load_seaweedfs_fixtures() -> ModuleType:
    """Import ``seaweedfs_fixtures.py`` by its path, once, whatever the import mode."""
    name = "ocs_archive_tests_seaweedfs_fixtures"
    module = sys.modules.get(name)
    if module is None:
        path = Path(__file__).resolve().parent / "seaweedfs_fixtures.py"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return module


_fixtures = load_seaweedfs_fixtures()
seaweedfs = _fixtures.seaweedfs
s3_setup = _fixtures.s3_setup
open_data_file = _fixtures.open_data_file
make_test_frame = _fixtures.make_test_frame
make_bytes_file = _fixtures.make_bytes_file
pdf_metadata = _fixtures.pdf_metadata
