"""Settings of the library; see :mod:`ocs_archive.settings.settings`."""
