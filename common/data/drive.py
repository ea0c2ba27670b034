"""The DRIVE layout: colour fundus photographs with vessel annotations and field-of-view (FOV) masks.

``<split>/images/NN_<split>.tif``, ``<split>/1st_manual/NN_manual1.gif`` and ``<split>/mask/NN_<split>_mask.gif``,
for the splits ``training`` and ``test``. Items hold arrays: ``image`` (3, H, W) float32 in [0, 1], ``label`` and
``mask`` (1, H, W) uint8 in {0, 1}, with ``case`` (e.g. ``"21_training"``) and ``file`` (the image's path).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from ..errors import BundleInputError
from .pictures import read_picture
from .splits import split_items

__all__ = ["DriveFormatError", "find_drive_cases", "drive_datalist", "fundus_datalist", "estimate_fov"]

FOLDERS = ("training", "test")
PICTURE_SUFFIXES = (".tif", ".tiff", ".png", ".jpg", ".jpeg", ".gif", ".bmp")


class DriveFormatError(BundleInputError):
    """A DRIVE file that is missing, unreadable or inconsistent; the message names the file."""


def _binary(path: Path, shape: tuple[int, int]) -> np.ndarray:
    array = read_picture(path, "L")
    if array.shape != shape:
        raise DriveFormatError(
            f"{path}: size {array.shape[1]}x{array.shape[0]} differs from its image's "
            f"{shape[1]}x{shape[0]} (width x height)."
        )
    values = np.unique(array)
    if not set(values.tolist()) <= {0, 1, 255} or len(values) > 2:
        raise DriveFormatError(f"{path}: expected a binary image (0/255), found values {values[:8].tolist()}.")
    return (array > 0).astype(np.uint8)[None]


def find_drive_cases(dataset_dir: str | os.PathLike, folder: str) -> list[dict]:
    """Paths of every case in ``dataset_dir/folder`` (``training`` or ``test``): ``{"case", "image", "label", "mask"}``.

    Raises:
        FileNotFoundError: the folder, its ``images/``, or an image's annotation or FOV mask is missing.
    """
    root = Path(dataset_dir) / folder
    images_dir = root / "images"
    if not images_dir.is_dir():
        raise FileNotFoundError(
            f"{images_dir}: missing (DRIVE layout: {folder}/images, {folder}/1st_manual, {folder}/mask)."
        )
    cases = []
    for image in sorted(images_dir.iterdir()):
        match = re.fullmatch(rf"(\d+)_{folder}\.tiff?", image.name)
        if not match:
            continue
        number = match.group(1)
        label = root / "1st_manual" / f"{number}_manual1.gif"
        mask = root / "mask" / f"{number}_{folder}_mask.gif"
        for path, what in ((label, "vessel annotation"), (mask, "field-of-view mask")):
            if not path.is_file():
                raise FileNotFoundError(f"{path}: missing {what} for {image}.")
        cases.append({"case": image.stem, "image": image, "label": label, "mask": mask})
    if not cases:
        raise FileNotFoundError(f"{images_dir}: no NN_{folder}.tif images.")
    return cases


def _load_case(paths: dict) -> dict:
    rgb = read_picture(paths["image"], "RGB", channels=3)
    shape = rgb.shape[:2]
    return {
        "image": np.ascontiguousarray(rgb.transpose(2, 0, 1), dtype=np.float32) / 255.0,
        "label": _binary(paths["label"], shape),
        "mask": _binary(paths["mask"], shape),
        "case": paths["case"],
        "file": str(paths["image"]),
        **({"fold": paths["fold"]} if "fold" in paths else {}),
    }


def drive_datalist(
    dataset_dir: str | os.PathLike,
    split: str,
    val_fraction: float = 0.2,
    seed: int = 0,
    fold: int | None = None,
    num_folds: int = 5,
) -> list[dict]:
    """Loaded items of one split of a DRIVE folder.

    Splits: ``train`` and ``validation`` divide ``training/`` by image with a fixed seed (``val_fraction`` held out,
    or, when ``fold`` is given, fold ``fold`` of ``num_folds`` held out);
    ``test`` is ``test/`` (labels in ``test/1st_manual``); ``all`` is every labelled image of both folders present;
    ``oof`` is every image of ``training/`` with its ``fold`` (of ``num_folds``), for out-of-fold evaluation.
    All files of the split are checked before anything is returned.
    """
    dataset_dir = Path(dataset_dir)
    if not dataset_dir.is_dir():
        raise FileNotFoundError(f"{dataset_dir}: DRIVE dataset folder does not exist.")
    if split in ("train", "validation", "oof"):
        cases = split_items(
            find_drive_cases(dataset_dir, "training"), "case", split, val_fraction, seed, fold, num_folds
        )
    elif split == "test":
        cases = find_drive_cases(dataset_dir, "test")
    elif split == "all":
        present = [f for f in FOLDERS if (dataset_dir / f / "images").is_dir()]
        if not present:
            raise FileNotFoundError(f"{dataset_dir}: neither training/images nor test/images found (DRIVE layout).")
        cases = [c for f in present for c in find_drive_cases(dataset_dir, f)]
    else:
        raise BundleInputError(
            f"unknown DRIVE split {split!r}; choose from 'train', 'validation', 'test', 'all', 'oof'."
        )
    return [_load_case(c) for c in cases]


def estimate_fov(rgb: np.ndarray, threshold: float = 0.1) -> np.ndarray:
    """A field-of-view mask (1, H, W) uint8 for a fundus photograph (3, H, W) in [0, 1]: red channel above threshold.

    The camera's FOV is the bright disc; outside it the photograph is near black in every channel.
    """
    return (rgb[0] > threshold).astype(np.uint8)[None]


def _sibling(image: Path, folder: str, pattern: str) -> Path | None:
    """``../folder/<pattern>`` of a DRIVE image (``NN`` and ``split`` filled in), when it exists."""
    match = re.fullmatch(r"(\d+)_(training|test)", image.stem)
    if not match:
        return None
    path = image.parent.parent / folder / pattern.format(number=match.group(1), split=match.group(2))
    return path if path.is_file() else None


def fundus_datalist(input_dir: str | os.PathLike) -> list[dict]:
    """Items for inference on every colour picture in ``input_dir`` (TIFF, PNG, JPEG, GIF, BMP; a grey one is refused),
    sorted by name.

    ``mask`` is the DRIVE FOV mask beside the image (``../mask/NN_<split>_mask.gif``) when there is one, otherwise
    :func:`estimate_fov`; ``label`` is added when ``../1st_manual/NN_manual1.gif`` exists (for the overlay).
    """
    input_dir = Path(input_dir)
    if not input_dir.is_dir():
        raise FileNotFoundError(f"{input_dir}: input folder does not exist.")
    items = []
    for path in sorted(p for p in input_dir.iterdir() if p.is_file() and p.suffix.lower() in PICTURE_SUFFIXES):
        rgb = np.ascontiguousarray(read_picture(path, "RGB", channels=3).transpose(2, 0, 1), dtype=np.float32) / 255.0
        shape = rgb.shape[1:]
        mask_path = _sibling(path, "mask", "{number}_{split}_mask.gif")
        item = {"image": rgb, "case": path.stem, "file": str(path)}
        item["mask"] = _binary(mask_path, shape) if mask_path else estimate_fov(rgb)
        label_path = _sibling(path, "1st_manual", "{number}_manual1.gif")
        if label_path:
            item["label"] = _binary(label_path, shape)
        items.append(item)
    if not items:
        raise FileNotFoundError(f"{input_dir}: no pictures ({', '.join(PICTURE_SUFFIXES)}) found.")
    return items
