"""Read telescope frames into archive records and keep them in a file store.

Importing the package is cheap: the heavy modules (astropy, boto3, shapely) are
imported by the submodules that need them.
"""

__version__ = "0.6.0"
