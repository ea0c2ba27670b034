"""The skeleton every evaluation report shares: score each case as it comes, summarise at the end, write two files.

A report is attached to a decollating MONAI evaluator. Per case it keeps a row (``per_case.csv``) and whatever
statistics its figures need; at the end it writes ``metrics.json``: the figures, ``n_cases``, and for every figure
a 95 % bootstrap interval over cases (``<figure>_ci95_low``, ``<figure>_ci95_high``). Subclasses say how one case is
scored (:meth:`CaseReport.add_item`) and how figures follow from weighted cases (:meth:`CaseReport.summarise`), much
as an ignite metric says how it updates and computes.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch

from ..io import atomic_write_csv, atomic_write_json
from ..metrics.bootstrap import bootstrap_intervals
from .items import decollated_pairs

__all__ = ["CaseReport"]


def _plain(value):
    """A one-element tensor or numpy scalar as a Python number; NaN as None (JSON has no NaN)."""
    if isinstance(value, torch.Tensor):
        value = value.item() if value.numel() == 1 else value.tolist()
    if isinstance(value, np.generic):
        value = value.item()
    return None if isinstance(value, float) and math.isnan(value) else value


class CaseReport:
    """Base of the evaluation reports: rows per case, a summary with bootstrap intervals, ``metrics.json`` and
    ``per_case.csv``.

    Args:
        output_dir: folder of the files (created when needed).
        name: what the report scores, for the log line.
        metrics_file, cases_file: names of the flat JSON and of the CSV (one row a case).
        fold_key: when a batch item holds this key (an out-of-fold evaluation), its value is the row's ``fold``.
        resamples: bootstrap resamples of the cases for the intervals; 0 for none.
        seed: seed of the resampling, so the intervals of one evaluation are reproducible.

    Subclasses implement :meth:`add_item` (score one case, call :meth:`keep` with its row) and :meth:`summarise`.
    """

    confidence = 0.95

    def __init__(
        self,
        output_dir: str | os.PathLike,
        name: str,
        metrics_file: str = "metrics.json",
        cases_file: str = "per_case.csv",
        fold_key: str = "fold",
        resamples: int = 2000,
        seed: int = 0,
    ):
        self.output_dir = Path(output_dir)
        self.name = name
        self.metrics_file, self.cases_file = metrics_file, cases_file
        self.fold_key, self.resamples, self.seed = fold_key, int(resamples), int(seed)
        self.rows: list[dict] = []

    def attach(self, engine) -> None:
        from ignite.engine import Events

        engine.add_event_handler(Events.STARTED, self._reset)
        engine.add_event_handler(Events.ITERATION_COMPLETED, self._collect)
        # at the end of the evaluator's one epoch, before COMPLETED: handlers that log engine.state.metrics per epoch
        # (MONAI's MLFlowHandler, TensorBoardStatsHandler) then see the report's figures too
        engine.add_event_handler(Events.EPOCH_COMPLETED, self._complete)

    def _reset(self, engine) -> None:
        self.rows = []
        self.reset()

    def reset(self) -> None:
        """Forget the statistics of the cases collected so far (the rows are cleared by the engine's start)."""

    def _collect(self, engine) -> None:
        for batch_item, output_item in decollated_pairs(engine, type(self).__name__):
            row = self.add_item(batch_item, output_item)
            if self.fold_key in batch_item:
                row["fold"] = _plain(batch_item[self.fold_key])

    def add_item(self, batch_item: Mapping, output_item: Mapping) -> dict:
        """Score the case of one decollated batch and output item; return its row."""
        raise NotImplementedError

    def keep(self, row: dict) -> dict:
        """Keep one case's row (``case`` first) and return it."""
        row["case"] = _plain(row["case"])
        self.rows.append(row)
        return row

    def summarise(self, weights: np.ndarray) -> dict[str, float]:
        """The figures of the collected cases, case ``i`` counted ``weights[i]`` times (NaN when no case)."""
        raise NotImplementedError

    def summary(self) -> dict[str, float | int]:
        """The figures of the cases collected so far, and ``n_cases``."""
        summary: dict[str, float | int] = dict(self.summarise(np.ones(len(self.rows))))
        summary["n_cases"] = len(self.rows)
        return summary

    def intervals(self) -> dict[str, float]:
        """``<figure>_ci95_low`` and ``<figure>_ci95_high`` for every figure, by bootstrap over the cases."""
        if self.resamples <= 0:
            return {}
        bounds = bootstrap_intervals(self.summarise, len(self.rows), self.resamples, self.confidence, self.seed)
        percent = round(100 * self.confidence)
        out = {}
        for figure, (low, high) in bounds.items():
            out[f"{figure}_ci{percent}_low"], out[f"{figure}_ci{percent}_high"] = low, high
        return out

    def _complete(self, engine) -> None:
        summary = self.summary()
        engine.state.metrics.update({k: v for k, v in summary.items() if k != "n_cases"})
        engine.logger.info(
            f"{self.name}: "
            + ", ".join(f"{k} {v:.4f}" for k, v in summary.items() if k != "n_cases")
            + f" ({len(self.rows)} cases)"
        )
        atomic_write_csv(self.output_dir / self.cases_file, self.rows)
        atomic_write_json(
            self.output_dir / self.metrics_file, {k: _plain(v) for k, v in {**summary, **self.intervals()}.items()}
        )
        self.written(summary)

    def written(self, summary: Mapping[str, float | int]) -> None:
        """Called after the two files are written (e.g. to draw a chart); nothing by default."""
