"""Which :class:`~ocs_archive.input.file.DataFile` class reads which extension."""

from __future__ import annotations

import importlib

from ocs_archive.exceptions import FileSpecificationException
from ocs_archive.settings import settings

# Dotted paths, imported on first use, so that ``FILETYPE_MAPPING_OVERRIDES`` can name
# classes of any package without this module importing them all.
EXTENSION_TO_FILE_CLASS = {
    ".fits.fz": "ocs_archive.input.lcofitsfile.LcoFitsFile",
    ".fits": "ocs_archive.input.fitsfile.FitsFile",
    ".tar.gz": "ocs_archive.input.tarwithfitsfile.TarWithFitsFile",
    ".pdf": "ocs_archive.input.file.DataFile",
    ".jpg": "ocs_archive.input.thumbnailfile.ThumbnailFile",
    ".jpeg": "ocs_archive.input.thumbnailfile.ThumbnailFile",
}


class FileFactory:
    """Finds the data-file class for a file extension."""

    @staticmethod
    def get_datafile_class_for_extension(extension: str) -> type:
        """The class registered for ``extension`` (``'.fits.fz'``).

        ``FILETYPE_MAPPING_OVERRIDES`` (read now) is merged over the defaults.
        Raises :class:`FileSpecificationException` for an unknown extension, or a
        class path that cannot be imported or is not a ``DataFile``.
        """
        mapping = {**EXTENSION_TO_FILE_CLASS, **settings.FILETYPE_MAPPING_OVERRIDES}
        class_path = mapping.get(extension)
        if not class_path:
            raise FileSpecificationException(
                f"file extension {extension} is not a currently supported file type"
            )
        return load_datafile_class(class_path)


def load_datafile_class(class_path: str) -> type:
    """Import the ``DataFile`` subclass named by a dotted path."""
    from ocs_archive.input.file import DataFile

    module_path, _, class_name = str(class_path).rpartition(".")
    if not module_path:
        raise FileSpecificationException(
            f"class path {class_path!r} must name a module and a class, e.g. "
            "ocs_archive.input.fitsfile.FitsFile"
        )
    try:
        module = importlib.import_module(module_path)
    except (ImportError, ValueError):
        raise FileSpecificationException(
            f"module {module_path} was not found. Please ensure the class path is "
            "correct"
        ) from None
    datafile_class = getattr(module, class_name, None)
    if datafile_class is None:
        raise FileSpecificationException(
            f"class {class_name} does not exist within module {module_path}. Please "
            "ensure the class path is correct"
        )
    if not (isinstance(datafile_class, type) and issubclass(datafile_class, DataFile)):
        raise FileSpecificationException(
            f"class {class_name} must be a subclass of the "
            "ocs_archive.input.file.DataFile class"
        )
    return datafile_class
