"""Cropping a volume to the bounding box of a mask plus a margin, fixed or random (as a cascade's second stage
trains)."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import numpy as np
import torch
from monai.config import KeysCollection
from monai.transforms import MapTransform, Randomizable, SpatialCrop
from monai.transforms.utils import generate_spatial_bounding_box

__all__ = ["ForegroundCropd", "RandForegroundCropd", "jittered_box"]


def jittered_box(
    start: Sequence[int], end: Sequence[int], shape: Sequence[int], margins: np.ndarray
) -> tuple[list[int], list[int]]:
    """The box ``[start, end)`` grown by ``margins`` (2, ndim): row 0 before, row 1 after; negative margins shrink it.

    The result stays inside ``[0, shape)`` and keeps at least one voxel of the box per axis (a box shrunk past itself
    keeps its last voxel), so it lies inside the box grown by the largest margin: cropping to that first changes
    nothing.
    """
    new_start, new_end = [], []
    for axis, size in enumerate(shape):
        lo = min(max(0, start[axis] - int(margins[0, axis])), end[axis] - 1)
        hi = max(min(size, end[axis] + int(margins[1, axis])), lo + 1)
        new_start.append(lo)
        new_end.append(hi)
    return new_start, new_end


class ForegroundCropd(MapTransform):
    """Crop ``keys`` to the bounding box of ``source_key > 0`` grown by ``margin`` voxels on every side, within the
    array. Unlike MONAI's ``CropForegroundd``, which returns empty arrays there, an empty source leaves the data
    uncropped, as :class:`RandForegroundCropd` does: before it, with ``margin`` its ``max_margin``, this crop changes
    none of its boxes, so a cache can hold the box instead of the whole volume.

    Args:
        keys: the arrays to crop, channel-first and of one spatial shape.
        source_key: the mask whose foreground is boxed.
        margin: voxels added on every side (negative: removed), one number or one per spatial axis.
    """

    def __init__(
        self,
        keys: KeysCollection,
        source_key: str,
        margin: int | Sequence[int] = 0,
        allow_missing_keys: bool = False,
    ) -> None:
        MapTransform.__init__(self, keys, allow_missing_keys)
        self.source_key = source_key
        self.margin = np.asarray(margin, dtype=int)

    def crop(self, data: Mapping[Hashable, torch.Tensor], margins: np.ndarray | int) -> dict[Hashable, torch.Tensor]:
        """``data`` cropped to the source's box grown by ``margins`` ((2, ndim): before, after; or one number)."""
        d = dict(data)
        source = d[self.source_key]
        shape = source.shape[1:]
        start, end = generate_spatial_bounding_box(source, select_fn=lambda x: x > 0)
        if all(e <= s for s, e in zip(start, end)):
            return d
        roi_start, roi_end = jittered_box(start, end, shape, np.broadcast_to(margins, (2, len(shape))))
        crop = SpatialCrop(roi_start=roi_start, roi_end=roi_end)
        for key in self.key_iterator(d):
            d[key] = crop(d[key])
        return d

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        return self.crop(data, self.margin)


class RandForegroundCropd(Randomizable, ForegroundCropd):
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
        if min_margin > max_margin:
            raise ValueError(f"min_margin ({min_margin}) must not exceed max_margin ({max_margin}).")
        ForegroundCropd.__init__(self, keys, source_key, max_margin, allow_missing_keys)
        self.min_margin, self.max_margin = int(min_margin), int(max_margin)
        self._margins = np.zeros((2, 0), dtype=int)

    def randomize(self, ndim: int) -> None:
        self._margins = self.R.randint(self.min_margin, self.max_margin + 1, size=(2, ndim))

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        self.randomize(len(data[self.source_key].shape[1:]))
        return self.crop(data, self._margins)
