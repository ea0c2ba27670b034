"""Overlap between a binary prediction and a binary label: the Dice similarity coefficient (DSC) of a whole volume."""

from __future__ import annotations

import numpy as np

from ..arrays import as_numpy

__all__ = ["volume_dice"]


def volume_dice(prediction, label) -> float:
    """``2 |P & L| / (|P| + |L|)`` over every voxel of the two arrays (e.g. all slices of a patient together).

    Both empty (no tumour, none predicted) scores 1.0; one empty and the other not scores 0.0, so a patient without
    tumour is counted rather than skipped.

    MONAI's ``compute_dice(..., include_background=True, ignore_empty=False)`` gives the same figure (tested) but in
    float32 and through float copies of both volumes: on a 512 x 512 x 200 CT it took 1.3 GB more peak memory than
    these boolean counts (50 MB), which the cascade's evaluation at the CT's own resolution cannot spare.
    """
    prediction, label = as_numpy(prediction) > 0, as_numpy(label) > 0
    if prediction.shape != label.shape:
        raise ValueError(f"prediction {prediction.shape} and label {label.shape} differ in shape.")
    total = int(prediction.sum()) + int(label.sum())
    if total == 0:
        return 1.0
    return 2.0 * int(np.logical_and(prediction, label).sum()) / total
