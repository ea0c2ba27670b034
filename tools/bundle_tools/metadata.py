"""Checking a bundle's ``configs/metadata.json`` offline against the collection's schema (MONAI's specification)."""

from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path

__all__ = ["load_schema", "metadata_problems", "check_bundles"]


def load_schema() -> dict:
    """The JSON schema in ``bundle_tools/schemas/metadata.schema.json``."""
    return json.loads(resources.files("bundle_tools").joinpath("schemas/metadata.schema.json").read_text())


def metadata_problems(meta_file: str | os.PathLike) -> list[str]:
    """Everything wrong with one metadata file, as messages that start with the file's path; empty when it is fine.

    Checks the schema, then what a schema cannot say: the ``version`` has a ``changelog`` entry, every
    channel of ``num_channels`` is described in ``channel_def``, and an ``ensemble`` lists as many checkpoints as
    ``models``, each a file of the bundle (``configs/`` is beside ``models/``).
    """
    import jsonschema

    meta_file = Path(meta_file)
    try:
        meta = json.loads(meta_file.read_text())
    except (OSError, json.JSONDecodeError) as e:
        return [f"{meta_file}: cannot be read as JSON ({e})."]
    validator = jsonschema.Draft7Validator(load_schema())
    problems = [
        f"{meta_file}: {'/'.join(map(str, error.absolute_path)) or '(top level)'}: {error.message}"
        for error in sorted(validator.iter_errors(meta), key=lambda e: list(map(str, e.absolute_path)))
    ]
    if problems:
        return problems
    if meta["version"] not in meta["changelog"]:
        problems.append(f"{meta_file}: version {meta['version']} has no changelog entry.")
    for side in ("inputs", "outputs"):
        for name, tensor in meta["network_data_format"][side].items():
            described = sorted(int(k) for k in tensor["channel_def"])
            if described != list(range(tensor["num_channels"])):
                problems.append(
                    f"{meta_file}: network_data_format/{side}/{name}: channel_def describes channels {described}, "
                    f"num_channels is {tensor['num_channels']}."
                )
    ensemble = meta.get("ensemble")
    if ensemble:
        if len(ensemble["checkpoints"]) != ensemble["models"]:
            listed = len(ensemble["checkpoints"])
            problems.append(f"{meta_file}: ensemble: {listed} checkpoints listed for {ensemble['models']} models.")
        bundle = meta_file.resolve().parent.parent
        for name in ensemble["checkpoints"]:
            if not (bundle / name).is_file():
                problems.append(f"{meta_file}: ensemble: checkpoint {name} is not a file of the bundle.")
    return problems


def check_bundles(bundles_dir: str | os.PathLike = "bundles") -> list[str]:
    """Problems of every ``bundles_dir/*/configs/metadata.json``; a bundle without one is a problem too."""
    bundles = sorted(p for p in Path(bundles_dir).iterdir() if p.is_dir())  # a folder without metadata too
    problems = []
    for bundle in bundles:
        meta_file = bundle / "configs" / "metadata.json"
        problems += metadata_problems(meta_file) if meta_file.is_file() else [f"{bundle}: no configs/metadata.json."]
    return problems
