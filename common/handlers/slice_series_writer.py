"""Pictures of a segmented series of 2-D slices (a patient's MRI): a mask and an overlay PNG a slice, a GIF a series."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..arrays import as_numpy
from ..io import atomic_save_picture
from ..overlays import outline_overlay
from .items import decollated_pairs, merged_item

__all__ = ["SliceSeriesWriter"]


def _volume(value) -> np.ndarray:
    """A (H, W, D) array from a (1, H, W, D) tensor or array."""
    array = as_numpy(value)
    return array.reshape(array.shape[-3:])


def _numbered(frame: np.ndarray, text: str):
    """The frame as a PIL image with ``text`` in its top-left corner (which also keeps GIF frames distinct)."""
    from PIL import Image, ImageDraw

    picture = Image.fromarray(frame)
    draw = ImageDraw.Draw(picture)
    box = draw.textbbox((4, 4), text)
    draw.rectangle((box[0] - 2, box[1] - 2, box[2] + 2, box[3] + 2), fill=(0, 0, 0))
    draw.text((4, 4), text, fill=(255, 255, 255))
    return picture


class SliceSeriesWriter:
    """For every predicted series, write into ``output_dir/<case>/``: ``<slice>_mask.png`` (0/255) and
    ``<slice>_overlay.png`` per slice, named after the slice files, and ``<case>.gif`` stepping through the overlays.

    Reads from the decollated ``engine.state.output`` and ``engine.state.batch``: ``pred_key``, a binary prediction
    (1, H, W, D) with the slices along the last axis; ``label_key`` (optional, same shape) drawn as a green outline
    beside the prediction's red one; ``files_key``, the D slice pictures in order, re-read as the overlays'
    background; ``case_key``, the series' name. ``background_channel``: draw on that channel of the slice picture in
    grey (e.g. 1, the FLAIR of an LGG slice) rather than on its colours, so the outlines stand out. Each file is
    written through a temporary name.
    """

    def __init__(
        self,
        output_dir: str | os.PathLike,
        pred_key: str = "pred",
        label_key: str = "label",
        files_key: str = "files",
        case_key: str = "patient",
        frame_ms: int = 200,
        background_channel: int | None = None,
    ) -> None:
        self.output_dir = Path(output_dir)
        self.pred_key, self.label_key, self.files_key, self.case_key = pred_key, label_key, files_key, case_key
        self.frame_ms = frame_ms
        self.background_channel = background_channel

    def attach(self, engine) -> None:
        from ignite.engine import Events

        engine.add_event_handler(Events.ITERATION_COMPLETED, self)

    def __call__(self, engine) -> None:
        for batch_item, output_item in decollated_pairs(engine, type(self).__name__):
            self.write(merged_item(batch_item, output_item))

    def write(self, item: dict) -> Path:
        """Write one series' files; returns its folder."""
        from PIL import Image

        from ..data.pictures import read_picture

        prediction = _volume(item[self.pred_key]) > 0
        label = _volume(item[self.label_key]) > 0 if item.get(self.label_key) is not None else None
        files = [Path(str(f)) for f in item[self.files_key]]
        if len(files) != prediction.shape[-1]:
            raise ValueError(f"{len(files)} slice files for a prediction of {prediction.shape[-1]} slices.")
        folder = self.output_dir / str(item[self.case_key])
        frames = []
        for k, source in enumerate(files):
            picture = read_picture(source, "RGB")
            if self.background_channel is not None:
                picture = np.repeat(picture[..., self.background_channel : self.background_channel + 1], 3, axis=-1)
            if picture.shape[:2] != prediction.shape[:2]:
                raise ValueError(
                    f"{source}: prediction {prediction.shape[:2]} differs from the slice {picture.shape[:2]}."
                )
            drawn = outline_overlay(picture, prediction[..., k], None if label is None else label[..., k])
            atomic_save_picture(
                Image.fromarray(prediction[..., k].astype(np.uint8) * 255),
                folder / f"{source.stem}_mask.png",
                format="PNG",
            )
            atomic_save_picture(Image.fromarray(drawn), folder / f"{source.stem}_overlay.png", format="PNG")
            frames.append(_numbered(drawn, f"{k + 1}/{len(files)}"))
        atomic_save_picture(
            frames[0],
            folder / f"{item[self.case_key]}.gif",
            format="GIF",
            save_all=True,
            append_images=frames[1:],
            duration=self.frame_ms,
            loop=0,
        )
        return folder
