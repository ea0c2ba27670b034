"""Code of this bundle alone (shared code is in ``bundle_common``)."""
