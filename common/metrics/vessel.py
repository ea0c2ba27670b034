"""Retinal-vessel figures inside the field of view (FOV), as DRIVE papers report them.

Pixels outside the FOV mask are ignored; a split's figures pool the FOV pixels of all its images.

Conventions for empty denominators (0/0):

- ``dice`` is 1.0 when neither the prediction nor the label has a positive pixel (nothing to find, nothing found);
- ``accuracy`` is NaN when there are no pixels, ``sensitivity`` NaN when there are no positive labels,
  ``specificity`` NaN when there are no negative labels, :func:`roc_auc` NaN when only one class is present.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

from ..arrays import as_numpy

__all__ = ["binned_roc_auc", "confusion_figures", "fov_confusion", "fov_pixels", "roc_auc"]


def _fov_select(prob: Any, label: Any, fov: Any) -> tuple[np.ndarray, np.ndarray]:
    """The probabilities (in their own dtype) and the labels (bool) of the pixels where ``fov > 0``."""
    prob, label, fov = as_numpy(prob), as_numpy(label), as_numpy(fov)
    if not prob.shape == label.shape == fov.shape:
        raise ValueError(
            f"prob, label and fov must have the same shape, got {tuple(prob.shape)}, {tuple(label.shape)} "
            f"and {tuple(fov.shape)}."
        )
    inside = fov > 0
    return prob[inside], label[inside] > 0


def fov_confusion(prob: Any, label: Any, fov: Any, threshold: float = 0.5) -> tuple[int, int, int, int]:
    """Counts ``(tp, fp, fn, tn)`` of ``prob >= threshold`` against ``label > 0`` over the pixels where ``fov > 0``.

    ``prob``, ``label`` and ``fov`` are numpy arrays or torch tensors of one shape (any shape, e.g. ``(1, H, W)``).
    """
    values, positive = _fov_select(prob, label, fov)
    predicted = values >= threshold
    tp = int(np.count_nonzero(predicted & positive))
    fp = int(np.count_nonzero(predicted)) - tp
    fn = int(np.count_nonzero(positive)) - tp
    tn = int(values.size) - tp - fp - fn
    return tp, fp, fn, tn


def confusion_figures(tp: int, fp: int, fn: int, tn: int) -> dict[str, float]:
    """``dice`` (F1), ``accuracy``, ``sensitivity`` and ``specificity`` of confusion counts, as floats.

    0/0: ``dice`` is 1.0 without positives in prediction and label; the others are NaN (see the module docstring).
    """
    if min(tp, fp, fn, tn) < 0:
        raise ValueError(f"confusion counts must be non-negative, got tp={tp}, fp={fp}, fn={fn}, tn={tn}.")

    def ratio(num: int, den: int) -> float:
        return num / den if den else math.nan

    return {
        "dice": 2 * tp / (2 * tp + fp + fn) if 2 * tp + fp + fn else 1.0,
        "accuracy": ratio(tp + tn, tp + fp + fn + tn),
        "sensitivity": ratio(tp, tp + fn),
        "specificity": ratio(tn, tn + fp),
    }


def roc_auc(scores: Any, labels: Any) -> float:
    """Exact area under the ROC curve of ``scores`` against ``labels > 0`` (flattened), ties counted as half
    (scikit-learn's ``roc_auc_score``); NaN when one class is absent, where scikit-learn raises."""
    scores, labels = as_numpy(scores).ravel(), as_numpy(labels).ravel()
    if scores.shape != labels.shape:
        raise ValueError(f"scores and labels must have the same size, got {scores.size} and {labels.size}.")
    if scores.dtype.kind not in "biuf":
        raise ValueError(f"scores must be numeric, got dtype {scores.dtype}.")
    if scores.dtype.kind == "f" and np.isnan(scores).any():
        raise ValueError("scores contain NaN.")
    positive = labels > 0
    if positive.all() or not positive.any():
        return math.nan
    return float(roc_auc_score(positive, scores))


def fov_pixels(prob: Any, label: Any, fov: Any) -> tuple[np.ndarray, np.ndarray]:
    """The probabilities (float32) and the labels (bool) of the pixels where ``fov > 0``, flattened, for pooling."""
    values, positive = _fov_select(prob, label, fov)
    return values.astype(np.float32, copy=False).ravel(), positive.ravel()


def binned_roc_auc(positive_counts: Any, negative_counts: Any) -> float:
    """Area under the ROC curve from histograms of the positives' and negatives' scores over the same ordered bins.

    Pixels in one bin count as ties (half), so the result is the exact AUC of the scores rounded to their bins;
    counts may be weighted (non-integer). NaN when either histogram is empty.
    """
    positive, negative = as_numpy(positive_counts).astype(np.float64), as_numpy(negative_counts).astype(np.float64)
    if positive.shape != negative.shape:
        raise ValueError(f"the histograms must have the same bins, got {positive.shape} and {negative.shape}.")
    n_pos, n_neg = positive.sum(), negative.sum()
    if n_pos == 0 or n_neg == 0:
        return math.nan
    below = np.cumsum(negative) - negative  # negatives in lower bins
    return float((positive * (below + 0.5 * negative)).sum() / (n_pos * n_neg))
