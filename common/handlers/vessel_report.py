"""Retinal-vessel figures inside the FOV: ``metrics.json`` pooled over a split and ``per_case.csv`` per image."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..io import atomic_write_csv, atomic_write_json
from ..metrics.vessel import confusion_figures, fov_confusion, fov_pixels, roc_auc
from .items import decollated_pairs

__all__ = ["FOVVesselReport"]

_SUMMARY = ("dice", "auc", "accuracy", "sensitivity", "specificity", "dice_per_image_mean")


class FOVVesselReport:
    """Score vessel probability maps inside the FOV per image and pooled over the split, and write both at the end.

    Args:
        output_dir: folder of the two files (created when needed).
        threshold: a pixel is predicted vessel when its probability is ``>= threshold``.
        pred_key: key of the probability map ``(1, H, W)`` in each item of ``engine.state.output``.
        label_key: key of the 0/1 annotation ``(1, H, W)`` in each item of ``engine.state.output``.
        fov_key: key of the 0/1 FOV mask ``(1, H, W)``, looked up in the output item first, then in the batch item.
        case_key: key of the case name (e.g. ``"21_training"``), looked up in the batch item first, then the output.
        metrics_file: name of the flat JSON of the pooled figures (``dice``, ``auc``, ``accuracy``, ``sensitivity``,
            ``specificity``), ``dice_per_image_mean`` and ``n_cases``; a NaN figure is written as ``null``.
        cases_file: name of the CSV with one row per image: ``case``, the five figures, ``fov_pixels`` and
            ``vessel_fraction`` (labelled vessel pixels / FOV pixels).

    The engine must leave decollated items (a MONAI evaluator run with ``decollate=True``). On ``COMPLETED`` the
    summary figures are also set in ``engine.state.metrics`` before the files are written. Empty denominators follow
    :mod:`bundle_common.metrics.vessel`. Each run starts afresh.
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
    ):
        self.metrics_path = Path(output_dir) / metrics_file
        self.cases_path = Path(output_dir) / cases_file
        self.threshold = float(threshold)
        self.pred_key, self.label_key, self.fov_key, self.case_key = pred_key, label_key, fov_key, case_key
        self._reset(None)

    def attach(self, engine) -> None:
        from ignite.engine import Events

        engine.add_event_handler(Events.STARTED, self._reset)
        engine.add_event_handler(Events.ITERATION_COMPLETED, self._collect)
        engine.add_event_handler(Events.COMPLETED, self._complete)

    def _reset(self, engine) -> None:
        self.rows: list[dict] = []
        self.counts = np.zeros(4, dtype=np.int64)  # pooled tp, fp, fn, tn
        self.scores: list[np.ndarray] = []  # FOV probabilities (float32) per image, for the pooled AUC
        self.labels: list[np.ndarray] = []  # FOV labels (bool) per image

    @staticmethod
    def _find(key: str, what: str, *places: tuple[str, Mapping]) -> Any:
        for _, item in places:
            if key in item:
                return item[key]
        held = ", ".join(f"the {name} item has {sorted(item)}" for name, item in places)
        raise KeyError(f"no {what} {key!r} found: {held}.")

    def _collect(self, engine) -> None:
        for batch_item, output_item in decollated_pairs(engine, type(self).__name__):
            pred = self._find(self.pred_key, "prediction", ("output", output_item))
            label = self._find(self.label_key, "label", ("output", output_item))
            fov = self._find(self.fov_key, "FOV mask", ("output", output_item), ("batch", batch_item))
            case = self._find(self.case_key, "case name", ("batch", batch_item), ("output", output_item))
            if isinstance(case, torch.Tensor):
                case = case.item() if case.numel() == 1 else case.tolist()
            self.add(case, pred, label, fov)

    def add(self, case, prob, label, fov) -> dict:
        """Score one image's probability map inside its FOV, keep its row for the pooled figures, and return it."""
        counts = fov_confusion(prob, label, fov, self.threshold)
        scores, labels = fov_pixels(prob, label, fov)
        n_vessel = int(np.count_nonzero(labels))
        self.counts += counts
        self.scores.append(scores)
        self.labels.append(labels)
        row = {
            "case": case,
            **self._figures(counts, scores, labels),
            "fov_pixels": int(scores.size),
            "vessel_fraction": n_vessel / scores.size if scores.size else math.nan,
        }
        self.rows.append(row)
        return row

    @staticmethod
    def _figures(counts, scores: np.ndarray, labels: np.ndarray) -> dict[str, float]:
        figures = confusion_figures(*(int(c) for c in counts))
        return {
            "dice": figures["dice"],
            "auc": roc_auc(scores, labels),
            "accuracy": figures["accuracy"],
            "sensitivity": figures["sensitivity"],
            "specificity": figures["specificity"],
        }

    def summary(self) -> dict[str, float | int]:
        """The pooled figures, ``dice_per_image_mean`` and ``n_cases`` of what was collected so far."""
        scores = np.concatenate(self.scores) if self.scores else np.zeros(0, np.float32)
        labels = np.concatenate(self.labels) if self.labels else np.zeros(0, bool)
        summary: dict[str, float | int] = self._figures(self.counts, scores, labels)
        summary["dice_per_image_mean"] = float(np.mean([r["dice"] for r in self.rows])) if self.rows else math.nan
        summary["n_cases"] = len(self.rows)
        return summary

    def _complete(self, engine) -> None:
        summary = self.summary()
        for name in _SUMMARY:
            engine.state.metrics[name] = summary[name]
        engine.logger.info("FOV figures: " + ", ".join(f"{k} {v:.4f}" for k, v in summary.items() if k != "n_cases"))
        atomic_write_csv(self.cases_path, self.rows)
        atomic_write_json(
            self.metrics_path, {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in summary.items()}
        )
