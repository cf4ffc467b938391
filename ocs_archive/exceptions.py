"""The library's exceptions, all under :class:`OcsArchiveError`.

The public names are also importable from the modules that raise them:
``ocs_archive.input.file.FileSpecificationException`` and
``ocs_archive.storage.filestore.FileStoreConnectionError`` /
``FileStoreSpecificationError``.
"""


class OcsArchiveError(Exception):
    """Base class of every error this library raises on purpose."""


class SettingsError(OcsArchiveError, ValueError):
    """An environment variable holds a value the library cannot use."""


class FileSpecificationException(OcsArchiveError):
    """An input file or its metadata cannot be turned into an archive record.

    The message names the file and the offending key or value. Retrying does not help:
    the file or its metadata must be corrected.
    """


class FileStoreError(OcsArchiveError):
    """A file store could not carry out an operation."""


class FileStoreConnectionError(FileStoreError):
    """The store could not be reached or failed transiently; the caller may retry."""


class FileStoreSpecificationError(FileStoreError):
    """The store is misconfigured; retrying will not help until it is fixed."""
