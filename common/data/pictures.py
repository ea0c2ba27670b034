"""Reading ordinary picture files (TIFF, PNG, JPEG, GIF, BMP) into arrays, with errors that name the file."""

from __future__ import annotations

import os

import numpy as np

__all__ = ["read_picture"]


def read_picture(path: str | os.PathLike, mode: str) -> np.ndarray:
    """Read a picture with PIL, converted to ``mode`` ("RGB" or "L"), as a uint8 (H, W[, C]) array.

    Raises:
        ValueError: the file is missing or PIL cannot decode it; the message names the file.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as picture:
            return np.array(picture.convert(mode), dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise ValueError(f"{path}: unreadable image ({e}).") from e
