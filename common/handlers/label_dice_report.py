"""Dice per class of a label map (liver CT: 0 background, 1 liver, 2 tumour): ``metrics.json`` and ``per_case.csv``."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence

import numpy as np

from ..arrays import as_numpy
from ..data.task03 import nifti_case_name
from ..metrics.bootstrap import weighted_mean
from ..metrics.overlap import volume_dice
from .case_report import CaseReport

__all__ = ["LabelDiceReport"]


class LabelDiceReport(CaseReport):
    """Score every decollated item's label map by the Dice of each class and write the results at the end.

    Args:
        output_dir: folder of the files (created when needed).
        classes: class name -> the label values it is made of; the masks are ``np.isin(pred, values)`` and
            ``np.isin(label, values)`` (the default: liver = liver and tumour, tumour alone).
        pooled: classes also scored over all voxels of all cases together (``<name>_dice_global``).
        pred_key, label_key: prediction and label maps (``(1, X, Y, Z)``, integer values) of each output item,
            on the same grid (the original image's: invert the prediction first).
        case_key: the case name, looked up in the batch item, then the output item, then taken from the image's
            ``filename_or_obj`` (without ``.nii.gz``); ``case_<n>`` when none of them has it.
        metrics_file: name of the flat JSON: ``<name>_dice`` (mean over cases) per class, ``<name>_dice_global`` per
            pooled class, ``n_cases`` and the bootstrap intervals; a NaN figure (no case) is written as ``null``.
        cases_file: name of the CSV, one row a case: ``case``, ``<name>_dice`` per class, then per class
            ``<name>_label_voxels`` and ``<name>_predicted_voxels``.
        kwargs: the rest of :class:`~bundle_common.handlers.case_report.CaseReport` (``resamples``, ``fold_key``).

    A case (or pool) where a class is neither labelled nor predicted scores 1.0 for it
    (:func:`bundle_common.metrics.overlap.volume_dice`). The summary is also set in ``engine.state.metrics``.
    For a binary stage (prediction 0/1, label 0/1/2) use ``classes={"liver": [1, 2]}, pooled=()``.
    """

    def __init__(
        self,
        output_dir: str | os.PathLike,
        classes: Mapping[str, Sequence[int]] | None = None,
        pooled: Sequence[str] = ("tumor",),
        pred_key: str = "pred",
        label_key: str = "label",
        case_key: str = "case",
        metrics_file: str = "metrics.json",
        cases_file: str = "per_case.csv",
        **kwargs,
    ):
        super().__init__(output_dir, "Dice per class", metrics_file, cases_file, **kwargs)
        classes = {"liver": [1, 2], "tumor": [2]} if classes is None else classes
        self.classes = {str(name): [int(v) for v in np.atleast_1d(values)] for name, values in classes.items()}
        self.pooled = [str(name) for name in pooled]
        if not self.classes:
            raise ValueError("LabelDiceReport needs at least one class.")
        unknown = [name for name in self.pooled if name not in self.classes]
        if unknown:
            raise ValueError(f"pooled classes {unknown} are not among the classes {list(self.classes)}.")
        self.pred_key, self.label_key, self.case_key = pred_key, label_key, case_key
        self.reset()

    def reset(self) -> None:
        self.overlap: list[np.ndarray] = []  # per case, per pooled class: |P & L|, |P|, |L|

    def _case(self, batch_item: Mapping, output_item: Mapping):
        for item in (batch_item, output_item):
            if item.get(self.case_key) is not None:
                return item[self.case_key]
        for item, key in ((batch_item, "image"), (output_item, "image"), (output_item, self.pred_key)):
            source = getattr(item.get(key), "meta", {}).get("filename_or_obj")
            if source:
                return nifti_case_name(source)
        return f"case_{len(self.rows) + 1}"

    def add_item(self, batch_item, output_item) -> dict:
        return self.add(self._case(batch_item, output_item), output_item[self.pred_key], output_item[self.label_key])

    def add(self, case, prediction, label) -> dict:
        """Score one case and keep its row.

        Raises:
            ValueError: prediction and label differ in shape; the message names the case.
        """
        prediction, label = as_numpy(prediction), as_numpy(label)
        if prediction.shape != label.shape:
            raise ValueError(
                f"{case}: prediction {prediction.shape} and label {label.shape} differ in shape; Dice is scored on "
                "the original image's grid (invert the prediction first)."
            )
        row, counts, overlap = {"case": case}, {}, np.zeros((len(self.pooled), 3), dtype=np.int64)
        for name, values in self.classes.items():
            predicted, labelled = np.isin(prediction, values), np.isin(label, values)
            row[f"{name}_dice"] = volume_dice(predicted, labelled)
            counts[f"{name}_label_voxels"] = int(np.count_nonzero(labelled))
            counts[f"{name}_predicted_voxels"] = int(np.count_nonzero(predicted))
            if name in self.pooled:
                both = int(np.count_nonzero(predicted & labelled))
                overlap[self.pooled.index(name)] = [
                    both,
                    counts[f"{name}_predicted_voxels"],
                    counts[f"{name}_label_voxels"],
                ]
        row.update(counts)
        self.overlap.append(overlap)
        return self.keep(row)

    def summarise(self, weights: np.ndarray) -> dict[str, float]:
        """``<name>_dice`` (weighted mean over cases) per class and ``<name>_dice_global`` per pooled class."""
        summary: dict[str, float] = {}
        for name in self.classes:
            summary[f"{name}_dice"] = weighted_mean([r[f"{name}_dice"] for r in self.rows], weights)
        pooled = np.tensordot(weights, np.asarray(self.overlap), axes=1) if self.rows else None
        for i, name in enumerate(self.pooled):
            if pooled is None or weights.sum() == 0:
                summary[f"{name}_dice_global"] = math.nan
                continue
            both, predicted, labelled = pooled[i]
            total = predicted + labelled
            summary[f"{name}_dice_global"] = float(2.0 * both / total) if total else 1.0
        return summary
