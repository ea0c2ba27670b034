"""``metrics.json``: a flat JSON object of an evaluation's summary figures and its number of cases."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch

from ..io import atomic_write_json

__all__ = ["MetricsJSONWriter"]


class MetricsJSONWriter:
    """Write the engine's metrics to ``output_dir/filename`` when the engine completes.

    Args:
        output_dir: folder of the JSON file (created when needed).
        metric_names: the figures to write, as a list of ``engine.state.metrics`` names, or a mapping from the name
            written in the file to the engine's metric name.
        filename: name of the JSON file.

    The file also holds ``n_cases``, the number of items the engine evaluated.
    """

    def __init__(
        self,
        output_dir: str | os.PathLike,
        metric_names: Sequence[str] | Mapping[str, str],
        filename: str = "metrics.json",
    ):
        self.path = Path(output_dir) / filename
        self.names = dict(metric_names) if isinstance(metric_names, Mapping) else {n: n for n in metric_names}
        self.n_cases = 0

    def attach(self, engine) -> None:
        from ignite.engine import Events

        engine.add_event_handler(Events.STARTED, self._reset)
        engine.add_event_handler(Events.ITERATION_COMPLETED, self._count)
        engine.add_event_handler(Events.COMPLETED, self._write)

    def _reset(self, engine) -> None:
        self.n_cases = 0

    def _count(self, engine) -> None:
        output = engine.state.output
        self.n_cases += len(output) if isinstance(output, list) else len(engine.state.batch["image"])

    def _write(self, engine) -> None:
        missing = [m for m in self.names.values() if m not in engine.state.metrics]
        if missing:
            raise KeyError(f"metrics {missing} were not computed; the engine has {sorted(engine.state.metrics)}.")
        summary = {}
        for name, metric in self.names.items():
            value = engine.state.metrics[metric]
            summary[name] = float(value.item() if isinstance(value, torch.Tensor) else value)
        summary["n_cases"] = self.n_cases
        atomic_write_json(self.path, summary)
