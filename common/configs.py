"""Another bundle config file, read where it lies, so that one config can reuse what another defines instead of
copying it (MONAI's ``%file#key`` macros read paths against the working folder, which a downloaded bundle run from
anywhere else breaks)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from monai.bundle import ConfigParser

from .errors import BundleInputError

__all__ = ["read_config"]


def _flat(overrides: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat = {}
    for key, value in overrides.items():
        if isinstance(value, Mapping):  # key by key; an empty one changes nothing
            flat.update(_flat(value, f"{prefix}{key}#"))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def read_config(config_file: str | os.PathLike, **overrides: Any) -> ConfigParser:
    """A :class:`~monai.bundle.ConfigParser` of ``config_file`` with ``overrides`` applied, as the command line's
    ``--key value`` would; a mapping value is applied key by key (``coarse={"roi_size": r}`` sets ``coarse#roi_size``;
    ``{}`` sets nothing, so a config can hold an empty mapping for command-line overrides to fill).
    Its components are built on demand: ``read_config(f).get_parsed_content("network")``, or in a config
    ``"$@other.get_parsed_content('network')"``; each is built once, so two ids that share a component get the same
    object. A missing file is a :class:`~bundle_common.errors.BundleInputError` that names it."""
    if not os.path.isfile(config_file):
        raise BundleInputError(f"{config_file}: no such config file (a bundle this one reads is not where it expects).")
    parser = ConfigParser()
    parser.read_config(os.fspath(config_file))
    parser.update(_flat(overrides))
    return parser
