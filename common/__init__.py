"""Shared components of the MONAI bundle collection, imported by bundle configs as ``bundle_common``.

One concept per module: ``data`` reads the public dataset layouts and deals cases into splits and folds,
``handlers`` write evaluation reports, ``networks`` loads weights and averages fold models, ``metadata`` checks bundle
metadata against the project's schema.
"""

__version__ = "0.1.0"
