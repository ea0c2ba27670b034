"""Per-volume Dice of a segmentation split: ``metrics.json``, ``per_case.csv`` and a bar chart of the cases."""

from __future__ import annotations

import os

import numpy as np

from ..arrays import as_numpy
from ..charts import per_case_bar_chart
from ..metrics.bootstrap import weighted_mean, weighted_median
from ..metrics.overlap import volume_dice
from .case_report import CaseReport

__all__ = ["VolumeDiceReport"]


def _count(value) -> int:
    return int(np.count_nonzero(as_numpy(value) > 0))


class VolumeDiceReport(CaseReport):
    """Score every decollated item (a whole volume, e.g. all slices of a patient) by its Dice and write the results.

    Args:
        output_dir: folder of the files (created when needed).
        prefix: the figures are named ``<prefix>_mean`` and ``<prefix>_median`` in ``metrics.json``, with ``n_cases``
            and their bootstrap intervals (:class:`~bundle_common.handlers.case_report.CaseReport`).
        pred_key, label_key: binary prediction and label of each item of ``engine.state.output``.
        case_key: the case name, looked up in the batch item (then the output item).
        metrics_file, cases_file: names of the JSON and CSV (one row a case: ``case``, ``dsc``, the number of
            ``slices`` along the last axis, and the voxels labelled and predicted).
        chart_file: name of the PNG bar chart of the cases' Dice with the mean and median; ``None`` for none.
        kwargs: the rest of :class:`~bundle_common.handlers.case_report.CaseReport` (``resamples``, ``fold_key``).

    A case without labelled voxels scores 1.0 when nothing is predicted and 0.0 otherwise
    (:func:`bundle_common.metrics.overlap.volume_dice`). The summary is also set in ``engine.state.metrics``.
    """

    def __init__(
        self,
        output_dir: str | os.PathLike,
        prefix: str = "dsc_per_volume",
        pred_key: str = "pred",
        label_key: str = "label",
        case_key: str = "patient",
        metrics_file: str = "metrics.json",
        cases_file: str = "per_case.csv",
        chart_file: str | None = "dsc_per_case.png",
        **kwargs,
    ):
        super().__init__(output_dir, "Dice per volume", metrics_file, cases_file, **kwargs)
        self.prefix = prefix
        self.pred_key, self.label_key, self.case_key = pred_key, label_key, case_key
        self.chart_file = chart_file

    def add_item(self, batch_item, output_item) -> dict:
        case = batch_item.get(self.case_key, output_item.get(self.case_key))
        return self.add(case, output_item[self.pred_key], output_item[self.label_key])

    def add(self, case, prediction, label) -> dict:
        """Score one case and keep its row."""
        return self.keep(
            {
                "case": case,
                "dsc": volume_dice(prediction, label),
                "slices": int(np.shape(label)[-1]),
                "label_voxels": _count(label),
                "predicted_voxels": _count(prediction),
            }
        )

    def summarise(self, weights: np.ndarray) -> dict[str, float]:
        """``<prefix>_mean`` and ``<prefix>_median`` of the cases' Dice, each case counted ``weights[i]`` times."""
        scores = [r["dsc"] for r in self.rows]
        return {
            f"{self.prefix}_mean": weighted_mean(scores, weights),
            f"{self.prefix}_median": weighted_median(scores, weights),
        }

    def written(self, summary) -> None:
        if self.chart_file:
            per_case_bar_chart(
                [r["case"] for r in self.rows],
                [r["dsc"] for r in self.rows],
                self.output_dir / self.chart_file,
                ylabel="Dice (DSC)",
                title=f"Dice per case, all slices of a case together (n={len(self.rows)})",
            )
