"""The green channel after CLAHE, the input of the classic DRIVE pipelines (and of ``tools/drive_plain_baseline.py``),
for the recipe comparison in docs/experiments/: fold models trained on it, and their mean with the RGB fold models,
each member fed its own channels of one picture. Bundle-specific code lives in the bundle's own ``scripts/`` (as
model-zoo bundles keep theirs).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import numpy as np
import torch
from monai.config import KeysCollection
from monai.transforms import MapTransform
from skimage.exposure import equalize_adapthist

__all__ = ["green_clahe", "GreenCLAHEd", "ChannelSubset"]


def green_clahe(rgb: torch.Tensor, clip_limit: float = 0.01) -> torch.Tensor:
    """(1, H, W) float32 in [0, 1]: the green channel of the (3, H, W) picture ``rgb`` after contrast-limited adaptive
    histogram equalisation (scikit-image's ``equalize_adapthist``, tiles of an eighth of the picture)."""
    if rgb.ndim != 3 or rgb.shape[0] != 3:
        raise ValueError(f"expected a (3, H, W) RGB picture, got shape {tuple(rgb.shape)}.")
    green = np.asarray(torch.as_tensor(rgb[1]).detach().cpu(), dtype=np.float64)
    return torch.from_numpy(equalize_adapthist(green, clip_limit=clip_limit).astype(np.float32))[None]


class GreenCLAHEd(MapTransform):
    """Replaces each key's (3, H, W) RGB picture in [0, 1] with :func:`green_clahe` of it, or with ``append`` keeps
    the three channels and adds it as a fourth."""

    def __init__(
        self, keys: KeysCollection, clip_limit: float = 0.01, append: bool = False, allow_missing_keys: bool = False
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.clip_limit = clip_limit
        self.append = append

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        for key in self.key_iterator(d):
            rgb = torch.as_tensor(d[key])
            green = green_clahe(rgb, self.clip_limit).to(rgb.device)
            d[key] = torch.cat([rgb.float(), green]) if self.append else green
        return d


class ChannelSubset(torch.nn.Module):
    """``network`` applied to the input's ``channels`` only: ensemble members that read different inputs of one
    multi-channel picture (the RGB channels, the CLAHE green channel)."""

    def __init__(self, network: torch.nn.Module, channels: Sequence[int]) -> None:
        super().__init__()
        self.network = network
        self.channels = [int(c) for c in channels]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.network(x[:, self.channels])
