"""A CSV with one row per case (image, volume or patient), written when the engine completes."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch

from ..io import atomic_write_csv
from .items import decollated_pairs

__all__ = ["CaseTableWriter", "classification_row"]


def _scalar(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.item() if value.numel() == 1 else value.tolist()
    return value


def classification_row(batch_item: Mapping, output_item: Mapping, class_column: str = "prediction") -> dict:
    """One row for a classified item: its ``file`` and ``index``, the argmax class and its probability.

    ``output_item["pred"]`` holds class probabilities; when ``output_item`` has a ``label`` the row adds it and
    whether the prediction is correct.
    """
    probabilities = torch.as_tensor(output_item["pred"]).flatten()
    predicted = int(probabilities.argmax())
    row = {"file": _scalar(batch_item.get("file", "")), "index": _scalar(batch_item.get("index", ""))}
    label = output_item.get("label")
    if label is not None:
        label = int(torch.as_tensor(label).flatten().argmax()) if torch.as_tensor(label).numel() > 1 else _scalar(label)
        row["label"] = int(label)
    row[class_column] = predicted
    row["probability"] = round(float(probabilities[predicted]), 6)
    if label is not None:
        row["correct"] = int(predicted == row["label"])
    return row


class CaseTableWriter:
    """Collect one row per decollated item on every iteration and write them as ``output_dir/filename`` at the end.

    Args:
        output_dir: folder of the CSV (created when needed).
        filename: name of the CSV.
        row_fn: ``row_fn(batch_item, output_item) -> dict`` maps one item of ``engine.state.batch`` and of
            ``engine.state.output`` (both decollated, as MONAI's evaluators leave them) to a row.
    """

    def __init__(self, output_dir: str | os.PathLike, filename: str, row_fn: Callable[[Mapping, Mapping], dict]):
        self.path = Path(output_dir) / filename
        self.row_fn = row_fn
        self.rows: list[dict] = []

    def attach(self, engine) -> None:
        from ignite.engine import Events

        engine.add_event_handler(Events.STARTED, self._reset)
        engine.add_event_handler(Events.ITERATION_COMPLETED, self._collect)
        engine.add_event_handler(Events.COMPLETED, self._write)

    def _reset(self, engine) -> None:
        self.rows = []

    def _collect(self, engine) -> None:
        self.rows += [self.row_fn(b, o) for b, o in decollated_pairs(engine, type(self).__name__)]

    def _write(self, engine) -> None:
        atomic_write_csv(self.path, self.rows)
