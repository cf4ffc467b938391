"""Input file types: :class:`~ocs_archive.input.file.DataFile` and its subclasses."""
