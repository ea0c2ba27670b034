"""Overlap between a binary prediction and a binary label: the Dice similarity coefficient (DSC) of a whole volume."""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["volume_dice"]


def _binary(value) -> np.ndarray:
    array = value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
    return array > 0


def volume_dice(prediction, label) -> float:
    """``2 |P & L| / (|P| + |L|)`` over every voxel of the two arrays (e.g. all slices of a patient together).

    Both empty (no tumour, none predicted) scores 1.0; one empty and the other not scores 0.0, so a patient without
    tumour is counted rather than skipped.
    """
    prediction, label = _binary(prediction), _binary(label)
    if prediction.shape != label.shape:
        raise ValueError(f"prediction {prediction.shape} and label {label.shape} differ in shape.")
    total = int(prediction.sum()) + int(label.sum())
    if total == 0:
        return 1.0
    return 2.0 * int(np.logical_and(prediction, label).sum()) / total
