"""The archive record of a frame, built the way the archive's clients build it.

:func:`build_record` is what an ingester posts to the science archive for one frame:
the header data's frame fields, plus ``headers``, ``area`` (the footprint corners) and
``basename``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from typing import Any

from ocs_archive.input.file import DataFile, File
from ocs_archive.input.filefactory import FileFactory, load_datafile_class


def build_record(data_file: DataFile) -> dict[str, Any]:
    """The record of ``data_file``: frame data, ``headers``, ``area``, ``basename``.

    ``headers`` is a copy: changing the record does not change the data file.
    """
    header_data = data_file.get_header_data()
    record = header_data.get_archive_frame_data()
    record["headers"] = dict(header_data.get_headers())
    record["area"] = data_file.get_wcs_corners()
    record["basename"] = data_file.open_file.basename
    return record


def datafile_class_for(open_file: File, class_path: str | None = None) -> type:
    """The data-file class for a file: ``class_path`` if given, else by extension."""
    if class_path:
        return load_datafile_class(class_path)
    return FileFactory.get_datafile_class_for_extension(open_file.extension)


@contextlib.contextmanager
def open_data_file(
    path: str | os.PathLike,
    metadata: Mapping[str, Any] | None = None,
    class_path: str | None = None,
) -> Iterator[DataFile]:
    """Open the frame at ``path`` and yield its data file; the file is closed after.

    Raises :class:`OSError` when the file cannot be opened and
    :class:`~ocs_archive.exceptions.FileSpecificationException` when it cannot be
    read as its type.
    """
    with open(path, "rb") as fileobj:
        open_file = File(fileobj, os.fspath(path))
        datafile_class = datafile_class_for(open_file, class_path)
        yield datafile_class(open_file, metadata)
