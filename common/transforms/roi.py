"""Cropping a volume to the bounding box of a mask with a random margin, as a cascade's second stage trains."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import numpy as np
import torch
from monai.config import KeysCollection
from monai.transforms import MapTransform, Randomizable, SpatialCrop
from monai.transforms.utils import generate_spatial_bounding_box

__all__ = ["RandForegroundCropd", "jittered_box"]


def jittered_box(
    start: Sequence[int], end: Sequence[int], shape: Sequence[int], margins: np.ndarray
) -> tuple[list[int], list[int]]:
    """The box ``[start, end)`` grown by ``margins`` (2, ndim): row 0 before, row 1 after; negative margins shrink it.

    The result stays inside ``[0, shape)`` and keeps at least one voxel per axis.
    """
    new_start, new_end = [], []
    for axis, size in enumerate(shape):
        lo = min(max(0, start[axis] - int(margins[0, axis])), size - 1)
        hi = max(min(size, end[axis] + int(margins[1, axis])), lo + 1)
        new_start.append(lo)
        new_end.append(hi)
    return new_start, new_end


class RandForegroundCropd(Randomizable, MapTransform):
    """Crop ``keys`` to the bounding box of ``source_key > 0`` plus a random margin on every side.

    Each of the box's sides moves out by a whole number of voxels drawn uniformly from ``[min_margin, max_margin]``
    (a negative ``min_margin`` can shrink the box into the foreground): a second stage trained this way sees boxes
    as wrong as the first stage's. An empty source leaves the data uncropped.

    Args:
        keys: the arrays to crop, channel-first and of one spatial shape.
        source_key: the mask whose foreground is boxed.
        min_margin, max_margin: the margin's range in voxels.
    """

    def __init__(
        self,
        keys: KeysCollection,
        source_key: str,
        min_margin: int = 0,
        max_margin: int = 0,
        allow_missing_keys: bool = False,
    ) -> None:
        MapTransform.__init__(self, keys, allow_missing_keys)
        if min_margin > max_margin:
            raise ValueError(f"min_margin ({min_margin}) must not exceed max_margin ({max_margin}).")
        self.source_key = source_key
        self.min_margin, self.max_margin = int(min_margin), int(max_margin)
        self._margins = np.zeros((2, 0), dtype=int)

    def randomize(self, ndim: int) -> None:
        self._margins = self.R.randint(self.min_margin, self.max_margin + 1, size=(2, ndim))

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        source = d[self.source_key]
        shape = source.shape[1:]
        self.randomize(len(shape))
        start, end = generate_spatial_bounding_box(source, select_fn=lambda x: x > 0)
        if all(e <= s for s, e in zip(start, end)):
            return d
        roi_start, roi_end = jittered_box(start, end, shape, self._margins)
        crop = SpatialCrop(roi_start=roi_start, roi_end=roi_end)
        for key in self.key_iterator(d):
            d[key] = crop(d[key])
        return d
