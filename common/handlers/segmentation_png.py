"""PNG files a person can look at: probability map, binary mask and an overlay on the input picture."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..arrays import as_numpy
from ..io import atomic_save_picture
from ..overlays import overlay
from .items import decollated_pairs, merged_item

__all__ = ["SegmentationPNGWriter"]


def _plane(value) -> np.ndarray:
    array = as_numpy(value)
    return array.reshape(array.shape[-2:])


class SegmentationPNGWriter:
    """Write ``<stem>_prob.png``, ``<stem>_mask.png`` and ``<stem>_overlay.png`` for every image an engine predicts.

    Reads from the decollated ``engine.state.output`` (and ``engine.state.batch`` for keys the output lacks):
    ``pred_key``, a probability map (1, H, W) in [0, 1] in the input's geometry; ``label_key`` (optional, 0/1);
    ``file_key``, the input picture's path, whose stem names the files and which is re-read as the overlay's
    background. Files are written when the engine completes an iteration, each through a temporary name.
    """

    def __init__(
        self,
        output_dir: str | os.PathLike,
        threshold: float = 0.5,
        pred_key: str = "pred",
        label_key: str = "label",
        file_key: str = "file",
    ) -> None:
        self.output_dir = Path(output_dir)
        self.threshold = threshold
        self.pred_key, self.label_key, self.file_key = pred_key, label_key, file_key

    def attach(self, engine) -> None:
        from ignite.engine import Events

        engine.add_event_handler(Events.ITERATION_COMPLETED, self)

    def __call__(self, engine) -> None:
        for batch_item, output_item in decollated_pairs(engine, type(self).__name__):
            self.write(merged_item(batch_item, output_item))

    def write(self, item: dict) -> list[Path]:
        from PIL import Image

        from ..data.pictures import read_picture

        source = Path(str(item[self.file_key]))
        probability = np.clip(_plane(item[self.pred_key]).astype(np.float32), 0.0, 1.0)
        prediction = probability >= self.threshold
        label = _plane(item[self.label_key]) > 0 if item.get(self.label_key) is not None else None
        picture = read_picture(source, "RGB")
        if picture.shape[:2] != probability.shape:
            raise ValueError(f"{source}: prediction {probability.shape} differs from the picture {picture.shape[:2]}.")
        outputs = {
            "prob": (probability * 255).round().astype(np.uint8),
            "mask": prediction.astype(np.uint8) * 255,
            "overlay": overlay(picture, prediction, label),
        }
        return [
            atomic_save_picture(Image.fromarray(array), self.output_dir / f"{source.stem}_{suffix}.png", format="PNG")
            for suffix, array in outputs.items()
        ]
