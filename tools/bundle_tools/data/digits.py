"""An MNIST-layout dataset made from scikit-learn's bundled handwritten digits (no download needed).

scikit-learn ships 1,797 real 8x8 digits (16 grey levels) from the UCI "optical recognition of handwritten digits"
set. Each is upsampled to a 20x20 box and centred in a 28x28 frame, as MNIST's digits are, and written as IDX files.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from bundle_common.data.idx import write_idx
from bundle_common.data.mnist import MNIST_FILES
from bundle_common.data.splits import holdout_mask

__all__ = ["digits_as_mnist", "write_digits_dataset"]


def digits_as_mnist() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits as MNIST-like images: (1797, 28, 28) uint8 in 0..255, and labels (1797,) uint8."""
    import torch
    from sklearn.datasets import load_digits

    digits = load_digits()
    small = torch.as_tensor(digits.images, dtype=torch.float32)[:, None] / 16.0
    box = torch.nn.functional.interpolate(small, size=(20, 20), mode="bilinear", align_corners=False)
    frame = torch.nn.functional.pad(box, (4, 4, 4, 4))[:, 0]
    images = (frame.clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    return images, digits.target.astype(np.uint8)


def write_digits_dataset(
    out_dir: str | os.PathLike, test_fraction: float = 0.2, seed: int = 0, n_train: int | None = None
) -> dict:
    """Write the four MNIST IDX files (gzipped) into ``out_dir`` and return ``{"train": n, "test": n}``.
    ``n_train``: only that many training digits, drawn with ``seed`` (the test digits stay the same)."""
    out_dir = Path(out_dir)
    images, labels = digits_as_mnist()
    is_test = holdout_mask(range(len(labels)), test_fraction, seed)
    is_train = ~is_test
    if n_train is not None:
        candidates = np.flatnonzero(is_train)
        if not 0 < n_train <= len(candidates):
            raise ValueError(f"n_train must be from 1 to {len(candidates)}, got {n_train}.")
        is_train = np.zeros_like(is_train)
        is_train[np.random.default_rng(seed).choice(candidates, n_train, replace=False)] = True
    counts = {}
    for split, mask in (("train", is_train), ("test", is_test)):
        image_name, label_name = MNIST_FILES[split]
        write_idx(out_dir / f"{image_name}.gz", images[mask])
        write_idx(out_dir / f"{label_name}.gz", labels[mask])
        counts[split] = int(mask.sum())
    return counts
