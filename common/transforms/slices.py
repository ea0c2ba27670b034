"""Neighbouring slices as extra channels: 2.5D input for a 2D network run over a volume slice by slice."""

from __future__ import annotations

from collections.abc import Hashable, Mapping

import torch
from monai.config import KeysCollection
from monai.transforms import MapTransform, Transform

__all__ = ["AdjacentSlicesToChannels", "AdjacentSlicesToChannelsd"]


class AdjacentSlicesToChannels(Transform):
    """Give each slice of a (C, H, W, S) volume the channels of its ``context`` neighbours on either side:
    the result is (C * (2 * context + 1), H, W, S), blocks of C channels ordered from slice ``s - context`` to
    ``s + context``, the edge slices repeated beyond the ends. ``context`` 0 returns the volume unchanged."""

    def __init__(self, context: int = 1) -> None:
        if context < 0:
            raise ValueError(f"context must be 0 or more, got {context}.")
        self.context = context

    def __call__(self, volume: torch.Tensor) -> torch.Tensor:
        if self.context == 0:
            return volume
        if volume.ndim != 4:
            raise ValueError(f"expected a (C, H, W, S) volume, got shape {tuple(volume.shape)}.")
        slices = torch.arange(volume.shape[-1], device=volume.device)
        last = volume.shape[-1] - 1
        shifted = [volume[..., (slices + offset).clamp(0, last)] for offset in range(-self.context, self.context + 1)]
        return torch.cat(shifted, dim=0)


class AdjacentSlicesToChannelsd(MapTransform):
    """Dictionary version of :class:`AdjacentSlicesToChannels`."""

    def __init__(self, keys: KeysCollection, context: int = 1, allow_missing_keys: bool = False) -> None:
        super().__init__(keys, allow_missing_keys)
        self.stack = AdjacentSlicesToChannels(context)

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.stack(d[key])
        return d
