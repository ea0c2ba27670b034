"""Segmentations drawn over the picture they came from: prediction red, label green, as vessel and tumour papers do."""

from __future__ import annotations

import numpy as np

__all__ = ["overlay", "outline", "outline_overlay"]

PREDICTION_RED = np.array([255, 0, 0])
LABEL_GREEN = np.array([0, 255, 0])
BOTH_YELLOW = np.array([255, 255, 0])


def overlay(picture: np.ndarray, prediction: np.ndarray, label: np.ndarray | None = None, alpha: float = 0.6):
    """Tint an RGB uint8 picture (H, W, 3): prediction red; with a label, label green and agreement yellow."""
    colours = np.zeros_like(picture)
    painted = prediction.astype(bool)
    colours[painted] = PREDICTION_RED
    if label is not None:
        label = label.astype(bool)
        colours[label & ~painted] = LABEL_GREEN
        colours[label & painted] = BOTH_YELLOW
        painted = painted | label
    blended = picture.astype(np.float32)
    blended[painted] = (1 - alpha) * blended[painted] + alpha * colours[painted]
    return blended.round().astype(np.uint8)


def outline(mask: np.ndarray) -> np.ndarray:
    """The border pixels of a 2-D binary mask: inside it, with a 4-neighbour outside it (or at the picture's edge)."""
    mask = np.asarray(mask).astype(bool)
    padded = np.pad(mask, 1, constant_values=False)
    interior = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    return mask & ~interior


def outline_overlay(picture: np.ndarray, prediction: np.ndarray, label: np.ndarray | None = None) -> np.ndarray:
    """Draw on an RGB uint8 picture (H, W, 3) the prediction's outline in red and, given a label, its outline in green.

    Where the two outlines meet, the pixel is yellow.
    """
    drawn = picture.copy()
    predicted = outline(prediction)
    drawn[predicted] = PREDICTION_RED
    if label is not None:
        labelled = outline(label)
        drawn[labelled & ~predicted] = LABEL_GREEN
        drawn[labelled & predicted] = BOTH_YELLOW
    return drawn
