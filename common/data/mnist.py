"""The MNIST layout: four IDX files (``.gz`` or raw) in one folder, and folders of digit images to classify."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import BundleInputError
from .idx import IdxFormatError, read_idx
from .pictures import read_picture
from .splits import holdout_mask

__all__ = [
    "MNIST_FILES",
    "MNIST_SHA256",
    "MNIST_MIRRORS",
    "find_idx_file",
    "load_mnist_split",
    "mnist_datalist",
    "digit_images_datalist",
]

# split -> (images file, labels file), the names of the original distribution
MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
# sha256 of the uncompressed files (the .gz wrappers differ between mirrors, their content does not)
MNIST_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def find_idx_file(folder: str | os.PathLike, name: str) -> Path | None:
    """Find ``name`` in ``folder`` as ``name.gz``, ``name``, or with the ``.idx`` dot some mirrors use."""
    folder = Path(folder)
    for candidate in (name, name.replace("-idx", ".idx")):
        for suffix in (".gz", ""):
            path = folder / f"{candidate}{suffix}"
            if path.is_file():
                return path
    return None


def load_mnist_split(dataset_dir: str | os.PathLike, split: str) -> tuple[np.ndarray, np.ndarray, Path]:
    """Read MNIST's ``train`` or ``test`` files from ``dataset_dir``.

    Returns:
        images (N, 28, 28) uint8, labels (N,) int64, and the images file's path.

    Raises:
        FileNotFoundError: the folder or one of the two files is missing.
        IdxFormatError: a file is malformed, images are not 28x28, labels are outside 0..9, or counts differ.
    """
    dataset_dir = Path(dataset_dir)
    if not dataset_dir.is_dir():
        raise FileNotFoundError(f"{dataset_dir}: MNIST dataset folder does not exist.")
    image_name, label_name = MNIST_FILES[split]
    image_path, label_path = find_idx_file(dataset_dir, image_name), find_idx_file(dataset_dir, label_name)
    for path, name in ((image_path, image_name), (label_path, label_name)):
        if path is None:
            raise FileNotFoundError(f"{dataset_dir}: missing {name}(.gz), needed for the MNIST {split!r} split.")
    images, labels = read_idx(image_path, ndim=3), read_idx(label_path, ndim=1)
    if images.dtype != np.uint8 or images.shape[1:] != (28, 28):
        raise IdxFormatError(f"{image_path}: expected uint8 images of 28x28, got {images.dtype} {images.shape[1:]}.")
    if len(images) != len(labels):
        raise IdxFormatError(f"{image_path} has {len(images)} images but {label_path} has {len(labels)} labels.")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise IdxFormatError(f"{label_path}: labels must be digits 0..9, found {labels.min()}..{labels.max()}.")
    return images, labels.astype(np.int64), image_path


def _items(images: np.ndarray, labels: np.ndarray, source: Path, indices: np.ndarray) -> list[dict]:
    return [{"image": images[i][None], "label": int(labels[i]), "file": source.name, "index": int(i)} for i in indices]


def mnist_datalist(dataset_dir: str | os.PathLike, split: str, val_fraction: float = 0.1, seed: int = 0) -> list[dict]:
    """Items ``{"image": (1, 28, 28) uint8, "label", "file", "index"}`` of one split of an MNIST folder.

    Splits: ``train`` and ``validation`` divide the training files with a fixed seed (``val_fraction`` held out);
    ``test`` is the ``t10k`` files; ``all`` is every labelled image found (training files, plus ``t10k`` if present).
    """
    if split in ("train", "validation"):
        images, labels, source = load_mnist_split(dataset_dir, "train")
        held_out = holdout_mask(range(len(labels)), val_fraction, seed)
        return _items(images, labels, source, np.flatnonzero(held_out if split == "validation" else ~held_out))
    if split == "test":
        images, labels, source = load_mnist_split(dataset_dir, "test")
        return _items(images, labels, source, np.arange(len(labels)))
    if split == "all":
        items = []
        for name, (image_name, _) in MNIST_FILES.items():
            if name == "train" or find_idx_file(dataset_dir, image_name) is not None:
                images, labels, source = load_mnist_split(dataset_dir, name)
                items += _items(images, labels, source, np.arange(len(labels)))
        return items
    raise BundleInputError(f"unknown MNIST split {split!r}; choose from 'train', 'validation', 'test', 'all'.")


def _read_digit_picture(path: Path) -> np.ndarray:
    gray = read_picture(path, "L")
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    if border.mean() > 127:  # dark ink on light paper: MNIST digits are light on dark
        gray = 255 - gray
    return gray


def digit_images_datalist(input_dir: str | os.PathLike) -> list[dict]:
    """Items ``{"image": (1, H, W) uint8, "file", "index"}`` for every digit image found in ``input_dir``.

    PNG/JPEG files give one item each (converted to grey, inverted when the background is light); IDX image files
    (``*idx3-ubyte``, ``.gz`` or not) give one item per image. Files are taken in sorted order; other files are skipped.
    """
    input_dir = Path(input_dir)
    if not input_dir.is_dir():
        raise FileNotFoundError(f"{input_dir}: input folder does not exist.")
    items = []
    for path in sorted(p for p in input_dir.iterdir() if p.is_file()):
        name = path.name.lower()
        if name.endswith(IMAGE_SUFFIXES):
            items.append({"image": _read_digit_picture(path)[None], "file": path.name, "index": 0})
        elif "idx3-ubyte" in name:
            images = read_idx(path, ndim=3)
            items += [{"image": image[None], "file": path.name, "index": i} for i, image in enumerate(images)]
    if not items:
        raise FileNotFoundError(f"{input_dir}: no PNG/JPEG images or IDX image files (*idx3-ubyte[.gz]) found.")
    return items
