"""Reading ordinary picture files (TIFF, PNG, JPEG, GIF, BMP) into arrays, with errors that name the file."""

from __future__ import annotations

import os

import numpy as np

from ..errors import BundleInputError

__all__ = ["read_picture", "colour_channels"]


def colour_channels(picture) -> int:
    """The colour channels of a PIL picture, alpha left out: 1 for grey (1, L, LA, I, F), 3 for colour (RGB, RGBA,
    CMYK, ...); a palette picture counts its palette's."""
    from PIL import Image

    mode = picture.palette.mode if picture.mode in ("P", "PA") and picture.palette else picture.mode
    return len(Image.getmodebase(mode))


def read_picture(path: str | os.PathLike, mode: str, channels: int | None = None) -> np.ndarray:
    """Read a picture with PIL, converted to ``mode`` ("RGB" or "L"), as a uint8 (H, W[, C]) array.

    Args:
        channels: the colour channels the file must hold (:func:`colour_channels`), e.g. 3 for a colour photograph
            that a grey one must not replace; ``None`` accepts any.

    Raises:
        BundleInputError: the file is missing, PIL cannot decode it, or it has the wrong number of channels; the
            message names the file.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as picture:
            found, picture_mode = colour_channels(picture), picture.mode
            array = np.array(picture.convert(mode), dtype=np.uint8)
    except UnidentifiedImageError as e:
        raise BundleInputError(
            f"{path}: unreadable image (corrupt, truncated or not a picture format PIL reads)."
        ) from e
    except (OSError, ValueError) as e:
        raise BundleInputError(f"{path}: unreadable image ({e}).") from e
    if channels is not None and found != channels:
        plural = "s" if found > 1 else ""
        raise BundleInputError(
            f"{path}: {found} colour channel{plural} (PIL mode {picture_mode}), expected {channels}."
        )
    return array
