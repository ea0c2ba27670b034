"""Intensity normalisation restricted to a field-of-view (FOV) mask, as fundus photographs need."""

from __future__ import annotations

from collections.abc import Hashable, Mapping

import torch
from monai.config import KeysCollection
from monai.transforms import MapTransform, Transform

__all__ = ["NormalizeInFOV", "NormalizeInFOVd"]


class NormalizeInFOV(Transform):
    """Standardise each channel of a (C, H, W) image with the mean and std of its pixels inside ``mask`` (1, H, W);
    pixels outside the mask become 0. A mask with no pixels raises ``ValueError``."""

    def __call__(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        image = torch.as_tensor(image, dtype=torch.float32)
        inside = torch.as_tensor(mask)[0] > 0
        if image.shape[1:] != inside.shape:
            raise ValueError(f"image {tuple(image.shape)} and mask {tuple(mask.shape)} differ in size.")
        if not inside.any():
            raise ValueError("the FOV mask is empty.")
        values = image[:, inside]
        mean, std = values.mean(dim=1), values.std(dim=1).clamp_min(1e-6)
        return ((image - mean[:, None, None]) / std[:, None, None]) * inside


class NormalizeInFOVd(MapTransform):
    """Dictionary version of :class:`NormalizeInFOV`: normalises ``keys`` with the mask found at ``mask_key``."""

    def __init__(self, keys: KeysCollection, mask_key: str = "mask", allow_missing_keys: bool = False) -> None:
        super().__init__(keys, allow_missing_keys)
        self.mask_key = mask_key
        self.normalize = NormalizeInFOV()

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.normalize(d[key], d[self.mask_key])
        return d
