"""What a decollating MONAI evaluator leaves after an iteration: one batch item and one output item per case."""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["decollated_pairs", "merged_item"]


def decollated_pairs(engine, handler: str) -> list[tuple[Mapping, Mapping]]:
    """``(batch_item, output_item)`` for every case of the engine's last iteration.

    Raises:
        TypeError: the batch or output is not a list of items; ``handler`` names who needed it.
    """
    batch, output = engine.state.batch, engine.state.output
    if not isinstance(output, list) or not isinstance(batch, list):
        raise TypeError(f"{handler} needs decollated batches and outputs: run the evaluator with decollate=True.")
    return list(zip(batch, output))


def merged_item(batch_item: Mapping, output_item: Mapping) -> dict:
    """The batch item's keys overridden by the output item's non-None ones (e.g. ``pred``, inverted ``label``)."""
    return {**batch_item, **{k: v for k, v in output_item.items() if v is not None}}
