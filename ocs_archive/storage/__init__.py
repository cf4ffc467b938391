"""File stores: ``dummy``, ``local`` and ``s3``; see :mod:`.filestore`."""
