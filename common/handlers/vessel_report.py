"""Retinal-vessel figures inside the FOV: ``metrics.json`` pooled over a split and ``per_case.csv`` per image."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..metrics.bootstrap import weighted_mean
from ..metrics.vessel import binned_roc_auc, confusion_figures, fov_confusion, fov_pixels, roc_auc
from .case_report import CaseReport

__all__ = ["FOVVesselReport"]

_AUC_BINS = 1000  # probability bins of the bootstrap's AUC (the reported AUC itself is exact)


class FOVVesselReport(CaseReport):
    """Score vessel probability maps inside the FOV per image and pooled over the split, and write both at the end.

    Args:
        output_dir: folder of the two files (created when needed).
        threshold: a pixel is predicted vessel when its probability is ``>= threshold``.
        pred_key: key of the probability map ``(1, H, W)`` in each item of ``engine.state.output``.
        label_key: key of the 0/1 annotation ``(1, H, W)`` in each item of ``engine.state.output``.
        fov_key: key of the 0/1 FOV mask ``(1, H, W)``, looked up in the output item first, then in the batch item.
        case_key: key of the case name (e.g. ``"21_training"``), looked up in the batch item first, then the output.
        metrics_file: name of the flat JSON of the pooled figures (``dice``, ``auc``, ``accuracy``, ``sensitivity``,
            ``specificity``), ``dice_per_image_mean``, ``n_cases`` and the bootstrap intervals over images of every
            figure; a NaN figure is written as ``null``.
        cases_file: name of the CSV with one row per image: ``case``, the five figures, ``fov_pixels``,
            ``vessel_fraction`` (labelled vessel pixels / FOV pixels) and the counts ``tp``, ``fp``, ``fn``, ``tn``
            (so that pooled figures of any set of images follow from the CSV).
        kwargs: the rest of :class:`~bundle_common.handlers.case_report.CaseReport` (``resamples``, ``fold_key``).

    The engine must leave decollated items (a MONAI evaluator run with ``decollate=True``). At the end of its epoch the
    summary figures are also set in ``engine.state.metrics`` before the files are written. Empty denominators follow
    :mod:`bundle_common.metrics.vessel`. Each run starts afresh. The bootstrap's AUCs pool per-image histograms of
    the probabilities in 1,000 bins (pixels in one bin count as ties), which keeps 2,000 resamples to seconds.
    """

    def __init__(
        self,
        output_dir: str | os.PathLike,
        threshold: float = 0.5,
        pred_key: str = "pred",
        label_key: str = "label",
        fov_key: str = "mask",
        case_key: str = "case",
        metrics_file: str = "metrics.json",
        cases_file: str = "per_case.csv",
        **kwargs,
    ):
        super().__init__(output_dir, "FOV figures", metrics_file, cases_file, **kwargs)
        self.threshold = float(threshold)
        self.pred_key, self.label_key, self.fov_key, self.case_key = pred_key, label_key, fov_key, case_key
        self.reset()

    def reset(self) -> None:
        self.counts: list[np.ndarray] = []  # tp, fp, fn, tn per image
        self.scores: list[np.ndarray] = []  # FOV probabilities (float32) per image, for the pooled AUC
        self.labels: list[np.ndarray] = []  # FOV labels (bool) per image
        self.histograms: list[np.ndarray] = []  # (2, bins): negatives' and positives' probabilities per image

    @staticmethod
    def _find(key: str, what: str, *places: tuple[str, Mapping]) -> Any:
        for _, item in places:
            if key in item:
                return item[key]
        held = ", ".join(f"the {name} item has {sorted(item)}" for name, item in places)
        raise KeyError(f"no {what} {key!r} found: {held}.")

    def add_item(self, batch_item, output_item) -> dict:
        pred = self._find(self.pred_key, "prediction", ("output", output_item))
        label = self._find(self.label_key, "label", ("output", output_item))
        fov = self._find(self.fov_key, "FOV mask", ("output", output_item), ("batch", batch_item))
        case = self._find(self.case_key, "case name", ("batch", batch_item), ("output", output_item))
        return self.add(case, pred, label, fov)

    def add(self, case, prob, label, fov) -> dict:
        """Score one image's probability map inside its FOV, keep its row for the pooled figures, and return it."""
        counts = np.asarray(fov_confusion(prob, label, fov, self.threshold), dtype=np.int64)
        scores, labels = fov_pixels(prob, label, fov)
        bins = np.clip((scores * _AUC_BINS).astype(np.int64), 0, _AUC_BINS - 1)
        self.counts.append(counts)
        self.scores.append(scores)
        self.labels.append(labels)
        self.histograms.append(np.stack([np.bincount(bins[labels == v], minlength=_AUC_BINS) for v in (False, True)]))
        n_vessel = int(np.count_nonzero(labels))
        return self.keep(
            {
                "case": case,
                **self._figures(counts, roc_auc(scores, labels)),
                "fov_pixels": int(scores.size),
                "vessel_fraction": n_vessel / scores.size if scores.size else math.nan,
                **dict(zip(("tp", "fp", "fn", "tn"), (int(c) for c in counts))),
            }
        )

    @staticmethod
    def _figures(counts, auc: float) -> dict[str, float]:
        figures = confusion_figures(*(int(round(c)) for c in counts))
        return {
            "dice": figures["dice"],
            "auc": auc,
            "accuracy": figures["accuracy"],
            "sensitivity": figures["sensitivity"],
            "specificity": figures["specificity"],
        }

    def summarise(self, weights: np.ndarray) -> dict[str, float]:
        """The pooled figures and ``dice_per_image_mean``, image ``i`` counted ``weights[i]`` times: what the bootstrap
        resamples. The AUC is that of the weighted sum of the images' probability histograms, for every resample alike
        (the exact AUC of all pooled pixels is :meth:`summary`'s)."""
        if not self.rows:
            counts, auc = np.zeros(4), math.nan
        else:
            counts = np.tensordot(weights, np.asarray(self.counts, dtype=np.float64), axes=1)
            negatives, positives = np.tensordot(weights, np.asarray(self.histograms, dtype=np.float64), axes=1)
            auc = binned_roc_auc(positives, negatives)
        summary = self._figures(counts, auc)
        summary["dice_per_image_mean"] = weighted_mean([r["dice"] for r in self.rows], weights)
        return summary

    def summary(self) -> dict[str, float | int]:
        """The figures as measured: those of :meth:`summarise` with every image once, the AUC exact over the pooled
        pixels, and ``n_cases``."""
        summary = super().summary()
        if self.rows:
            summary["auc"] = roc_auc(np.concatenate(self.scores), np.concatenate(self.labels))
        return summary
