"""The file factory: extension to data-file class, with overrides and errors."""

from __future__ import annotations

from unittest import mock

import pytest

from ocs_archive.input.file import DataFile, FileSpecificationException
from ocs_archive.input.filefactory import EXTENSION_TO_FILE_CLASS, FileFactory
from ocs_archive.input.fitsfile import FitsFile
from ocs_archive.input.lcofitsfile import LcoFitsFile
from ocs_archive.input.soarfitsfile import SOARFitsFile
from ocs_archive.input.tarwithfitsfile import TarWithFitsFile
from ocs_archive.input.thumbnailfile import ThumbnailFile

OVERRIDES = "ocs_archive.settings.settings.FILETYPE_MAPPING_OVERRIDES"


@pytest.mark.parametrize(
    ("extension", "expected"),
    [
        (".fits.fz", LcoFitsFile),
        (".fits", FitsFile),
        (".tar.gz", TarWithFitsFile),
        (".pdf", DataFile),
        (".jpg", ThumbnailFile),
        (".jpeg", ThumbnailFile),
    ],
)
def test_default_classes(extension, expected):
    assert FileFactory.get_datafile_class_for_extension(extension) is expected
    assert EXTENSION_TO_FILE_CLASS[extension].endswith(expected.__name__)


def test_overrides_are_read_at_call_time():
    soar = "ocs_archive.input.soarfitsfile.SOARFitsFile"
    with mock.patch(OVERRIDES, {".fits": soar, ".fit": soar}):
        assert FileFactory.get_datafile_class_for_extension(".fits") is SOARFitsFile
        assert FileFactory.get_datafile_class_for_extension(".fit") is SOARFitsFile
        assert FileFactory.get_datafile_class_for_extension(".fits.fz") is LcoFitsFile
    assert FileFactory.get_datafile_class_for_extension(".fits") is FitsFile


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (None, "file extension .fake is not a currently supported file type"),
        (
            "this.module.is.fake.fitsfile.FakeFitsFile",
            "module this.module.is.fake.fitsfile was not found. Please ensure the "
            "class path is correct",
        ),
        (
            "ocs_archive.input.fitsfile.FakeFitsFile",
            "class FakeFitsFile does not exist within module "
            "ocs_archive.input.fitsfile. Please ensure the class path is correct",
        ),
        (
            "ocs_archive.input.file.File",
            "class File must be a subclass of the ocs_archive.input.file.DataFile "
            "class",
        ),
    ],
)
def test_errors_have_the_exact_messages(override, message):
    overrides = {} if override is None else {".fake": override}
    with (
        mock.patch(OVERRIDES, overrides),
        pytest.raises(FileSpecificationException) as caught,
    ):
        FileFactory.get_datafile_class_for_extension(".fake")
    assert str(caught.value) == message


def test_store_path_from_database_fields_alone():
    from ocs_archive.input.file import EmptyFile

    metadata = {
        "SITEID": "coj",
        "INSTRUME": "kb05",
        "DAY-OBS": "20150219",
        "RLEVEL": 91,
        "L1PUBDAT": "2016-02-19T13:56:05",
    }
    datafile_class = FileFactory.get_datafile_class_for_extension(".fits.fz")
    built = datafile_class(
        EmptyFile("coj1m011-kb05-20150219-0125-e91.fits.fz"), metadata, {}, {}
    )
    assert built.get_filestore_path() == (
        "coj/kb05/20150219/processed/coj1m011-kb05-20150219-0125-e91.fits.fz"
    )
