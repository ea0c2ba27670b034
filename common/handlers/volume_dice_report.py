"""Per-volume Dice of a segmentation split: ``metrics.json``, ``per_case.csv`` and a bar chart of the cases."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from ..arrays import as_numpy
from ..charts import per_case_bar_chart
from ..io import atomic_write_csv, atomic_write_json
from ..metrics.overlap import volume_dice
from .items import decollated_pairs

__all__ = ["VolumeDiceReport"]


def _count(value) -> int:
    return int(np.count_nonzero(as_numpy(value) > 0))


class VolumeDiceReport:
    """Score every decollated item (a whole volume, e.g. all slices of a patient) by its Dice and write the results.

    Args:
        output_dir: folder of the files (created when needed).
        prefix: the figures are named ``<prefix>_mean`` and ``<prefix>_median`` in ``metrics.json``, with ``n_cases``.
        pred_key, label_key: binary prediction and label of each item of ``engine.state.output``.
        case_key: the case name, looked up in the batch item (then the output item).
        metrics_file, cases_file: names of the JSON and CSV (one row a case: ``case``, ``dsc``, the number of
            ``slices`` along the last axis, and the voxels labelled and predicted).
        chart_file: name of the PNG bar chart of the cases' Dice with the mean and median; ``None`` for none.

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
    ):
        self.output_dir = Path(output_dir)
        self.prefix = prefix
        self.pred_key, self.label_key, self.case_key = pred_key, label_key, case_key
        self.metrics_file, self.cases_file, self.chart_file = metrics_file, cases_file, chart_file
        self.rows: list[dict] = []

    def attach(self, engine) -> None:
        from ignite.engine import Events

        engine.add_event_handler(Events.STARTED, self._reset)
        engine.add_event_handler(Events.ITERATION_COMPLETED, self._collect)
        engine.add_event_handler(Events.COMPLETED, self._complete)

    def _reset(self, engine) -> None:
        self.rows = []

    def _collect(self, engine) -> None:
        for batch_item, output_item in decollated_pairs(engine, type(self).__name__):
            self.add(
                batch_item.get(self.case_key, output_item.get(self.case_key)),
                output_item[self.pred_key],
                output_item[self.label_key],
            )

    def add(self, case, prediction, label) -> dict:
        """Score one case and keep its row."""
        row = {
            "case": case,
            "dsc": volume_dice(prediction, label),
            "slices": int(np.shape(label)[-1]),
            "label_voxels": _count(label),
            "predicted_voxels": _count(prediction),
        }
        self.rows.append(row)
        return row

    def summary(self) -> dict[str, float | int]:
        """``<prefix>_mean``, ``<prefix>_median`` and ``n_cases`` of the cases collected so far (NaN when none)."""
        scores = [r["dsc"] for r in self.rows]
        return {
            f"{self.prefix}_mean": float(np.mean(scores)) if scores else math.nan,
            f"{self.prefix}_median": float(np.median(scores)) if scores else math.nan,
            "n_cases": len(scores),
        }

    def _complete(self, engine) -> None:
        summary = self.summary()
        engine.state.metrics.update({k: v for k, v in summary.items() if k != "n_cases"})
        engine.logger.info(", ".join(f"{k} {v:.4f}" for k, v in summary.items() if k != "n_cases"))
        atomic_write_csv(self.output_dir / self.cases_file, self.rows)
        atomic_write_json(
            self.output_dir / self.metrics_file,
            {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in summary.items()},
        )
        if self.chart_file:
            per_case_bar_chart(
                [r["case"] for r in self.rows],
                [r["dsc"] for r in self.rows],
                self.output_dir / self.chart_file,
                ylabel="Dice (DSC)",
                title=f"Dice per case, all slices of a case together (n={len(self.rows)})",
            )
