"""``python -m ocs_archive``: the ``ocs-archive`` command."""

import sys

from ocs_archive.cli import main

sys.exit(main())
