"""The Kaggle ``lgg-mri-segmentation`` layout: brain MRI slices of lower-grade glioma patients, one folder a patient.

``kaggle_3m/<PATIENT>/<PATIENT>_<n>.tif`` is a 256x256 RGB slice (pre-contrast, FLAIR, post-contrast) and
``<PATIENT>_<n>_mask.tif`` its tumour mask (0/255). Slices are ordered by the number ``n``, not by file name.
A patient is one item, its slices stacked along the last axis: ``image`` (3, H, W, D) uint8, ``label``
(1, H, W, D) uint8 in {0, 1}, with ``patient``, ``files`` (the slice paths in order) and ``n_slices``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from ..errors import BundleInputError
from .pictures import read_picture
from .splits import split_items

__all__ = ["LGGFormatError", "find_lgg_patients", "load_lgg_patient", "lgg_datalist", "mri_datalist", "SLICE_SIZE"]

SLICE_SIZE = (256, 256)  # height, width of every kaggle_3m slice
_SLICE = re.compile(r"(?P<patient>.+)_(?P<number>\d+)(?P<mask>_mask)?\.tiff?", re.IGNORECASE)


class LGGFormatError(BundleInputError):
    """An LGG file that is missing, unreadable or inconsistent; the message names the file."""


def _slices(folder: Path, require_masks: bool) -> tuple[list[Path], list[Path | None]]:
    """The slice images of a patient folder in slice-number order, and each one's mask (``None`` when absent)."""
    images: dict[int, Path] = {}
    masks: dict[int, Path] = {}
    for path in folder.iterdir():
        match = _SLICE.fullmatch(path.name)
        if not match or not path.is_file():
            continue
        number = int(match.group("number"))
        (masks if match.group("mask") else images)[number] = path
    for number in sorted(set(masks) - set(images)):
        raise LGGFormatError(f"{masks[number]}: mask without its slice image ({folder.name}_{number}.tif).")
    if require_masks:
        for number in sorted(set(images) - set(masks)):
            raise LGGFormatError(f"{images[number]}: slice without its mask ({images[number].stem}_mask.tif).")
    order = sorted(images)
    return [images[n] for n in order], [masks.get(n) for n in order]


def find_lgg_patients(dataset_dir: str | os.PathLike, require_masks: bool = True) -> list[dict]:
    """Every patient folder under ``dataset_dir`` with slices: ``{"patient", "images", "masks"}``, sorted by name.

    Raises:
        FileNotFoundError: ``dataset_dir`` is missing or holds no patient folder with ``<PATIENT>_<n>.tif`` slices.
        LGGFormatError: a slice without its mask (when ``require_masks``) or a mask without its slice.
    """
    dataset_dir = Path(dataset_dir)
    if not dataset_dir.is_dir():
        raise FileNotFoundError(f"{dataset_dir}: LGG dataset folder does not exist.")
    patients = []
    for folder in sorted(p for p in dataset_dir.iterdir() if p.is_dir()):
        images, masks = _slices(folder, require_masks)
        if images:
            patients.append({"patient": folder.name, "images": images, "masks": masks})
    if not patients:
        raise FileNotFoundError(
            f"{dataset_dir}: no patient folders with slices (kaggle_3m layout: <PATIENT>/<PATIENT>_<n>.tif "
            "and <PATIENT>_<n>_mask.tif)."
        )
    return patients


def _mask(path: Path, shape: tuple[int, int]) -> np.ndarray:
    try:
        array = read_picture(path, "L")
    except ValueError as e:
        raise LGGFormatError(str(e)) from e
    if array.shape != shape:
        raise LGGFormatError(
            f"{path}: size {array.shape[1]}x{array.shape[0]} differs from its slice's {shape[1]}x{shape[0]}."
        )
    values = np.unique(array)
    if len(values) > 2 or not set(values.tolist()) <= {0, 1, 255}:
        raise LGGFormatError(f"{path}: expected a binary mask (0/255), found values {values[:8].tolist()}.")
    return (array > 0).astype(np.uint8)


def load_lgg_patient(patient: dict, size: tuple[int, int] | None = SLICE_SIZE) -> dict:
    """Read one patient found by :func:`find_lgg_patients` into an item (``label`` only when every slice has a mask).

    Every slice must have the shape of the first one, and ``size`` (height, width) unless ``size`` is ``None``.
    """
    slices, labels = [], []
    for image_path in patient["images"]:
        try:
            rgb = read_picture(image_path, "RGB", channels=3)  # pre-contrast, FLAIR, post-contrast
        except ValueError as e:
            raise LGGFormatError(str(e)) from e
        expected = size or (slices[0].shape[:2] if slices else rgb.shape[:2])
        if rgb.shape[:2] != tuple(expected):
            raise LGGFormatError(
                f"{image_path}: size {rgb.shape[1]}x{rgb.shape[0]}, expected {expected[1]}x{expected[0]} "
                f"like {'every kaggle_3m slice' if size else 'the first slice of ' + patient['patient']}."
            )
        slices.append(rgb)
    item = {
        "image": np.ascontiguousarray(np.stack(slices, axis=-1).transpose(2, 0, 1, 3)),  # (3, H, W, D)
        "patient": patient["patient"],
        "files": [str(p) for p in patient["images"]],
        "n_slices": len(slices),
    }
    if all(m is not None for m in patient["masks"]):
        labels = [_mask(m, s.shape[:2]) for m, s in zip(patient["masks"], slices)]
        item["label"] = np.stack(labels, axis=-1)[None]  # (1, H, W, D)
    return item


def lgg_datalist(
    dataset_dir: str | os.PathLike,
    split: str,
    val_fraction: float = 0.2,
    seed: int = 0,
    fold: int | None = None,
    num_folds: int = 5,
) -> list[dict]:
    """Loaded patients of one split of a kaggle_3m folder, every slice with its mask.

    Splits: ``train`` and ``validation`` divide the patients with a fixed seed (``val_fraction`` held out, or, when
    ``fold`` is given, fold ``fold`` of ``num_folds`` held out);
    ``all`` is every patient; ``oof`` is every patient with its ``fold`` (of ``num_folds``), for out-of-fold
    evaluation.
    """
    patients = find_lgg_patients(dataset_dir)
    if split in ("train", "validation", "oof"):
        patients = split_items(patients, "patient", split, val_fraction, seed, fold, num_folds)
    elif split != "all":
        raise BundleInputError(f"unknown LGG split {split!r}; choose from 'train', 'validation', 'all', 'oof'.")
    return [{**load_lgg_patient(p), **({"fold": p["fold"]} if "fold" in p else {})} for p in patients]


def mri_datalist(input_dir: str | os.PathLike) -> list[dict]:
    """Items for inference: ``input_dir`` is one patient folder of slices, or a folder of patient folders.

    Slices may be any size (the same within a patient); a patient whose every slice has a mask gets a ``label``.
    """
    input_dir = Path(input_dir)
    if not input_dir.is_dir():
        raise FileNotFoundError(f"{input_dir}: input folder does not exist.")
    images, masks = _slices(input_dir, require_masks=False)
    if images:
        patients = [{"patient": input_dir.name, "images": images, "masks": masks}]
    else:
        patients = find_lgg_patients(input_dir, require_masks=False)
    return [load_lgg_patient(p, size=None) for p in patients]
