"""The fine stage's experiment with the coarse mask as an input channel (docs/experiments/, tried and not kept): at
training, the coarse stage's mask is stood in for by a coarse-looking mask made from the label.

Bundle-specific code lives here, in the bundle's own ``scripts/`` (as model-zoo bundles keep theirs): configs name it
``scripts.coarse_mask.RandCoarseMaskd``; ``python -m monai.bundle run`` puts the bundle folder on ``sys.path``.
"""

from __future__ import annotations

import copy
from collections.abc import Hashable, Mapping

import torch
import torch.nn.functional as F
from monai.config import KeysCollection
from monai.data import MetaTensor
from monai.transforms import MapTransform, Randomizable

__all__ = ["RandCoarseMaskd"]


class RandCoarseMaskd(Randomizable, MapTransform):
    """A coarse stage's mask made from a label, for training a second stage that takes that mask as an input channel.

    The foreground (``label > 0``) goes to a grid ``factor`` times coarser (a coarse voxel is foreground when more than
    half of its block is), grows or shrinks there by a radius drawn uniformly from ``[min_radius, max_radius]`` coarse
    voxels (negative: shrinks), and comes back to the label's grid by nearest neighbour: blocky edges and displaced
    boundaries, as a low-resolution model's mask has. Stored as ``output_key``, float32 0/1 of the label's shape;
    ``min_radius == max_radius == 0`` gives the same mask every time (for validation).

    Args:
        keys: the label (one key), channel-first, 2D or 3D.
        output_key: where the mask goes.
        factor: the coarse voxel's size in label voxels (e.g. 4 mm / 1.5 mm).
        min_radius, max_radius: the range of the growth, in coarse voxels.
    """

    def __init__(
        self,
        keys: KeysCollection,
        output_key: str = "coarse_mask",
        factor: float = 1.0,
        min_radius: int = 0,
        max_radius: int = 0,
        allow_missing_keys: bool = False,
    ) -> None:
        MapTransform.__init__(self, keys, allow_missing_keys)
        if len(self.keys) != 1:
            raise ValueError(f"RandCoarseMaskd makes its mask from one label key, got {self.keys}.")
        if factor < 1:
            raise ValueError(f"factor must be 1 or more, got {factor}.")
        if min_radius > max_radius:
            raise ValueError(f"min_radius ({min_radius}) must not exceed max_radius ({max_radius}).")
        self.output_key, self.factor = output_key, float(factor)
        self.min_radius, self.max_radius = int(min_radius), int(max_radius)
        self._radius = 0

    def randomize(self, data=None) -> None:
        self._radius = int(self.R.randint(self.min_radius, self.max_radius + 1))

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        self.randomize()
        label = d[self.keys[0]]
        foreground = (torch.as_tensor(label) > 0).float()[None]  # (1, C, *spatial)
        shape = foreground.shape[2:]
        if len(shape) not in (2, 3):
            raise ValueError(f"expected a channel-first 2D or 3D label, got shape {tuple(label.shape)}.")
        coarse_shape = [max(1, round(size / self.factor)) for size in shape]
        coarse = (F.interpolate(foreground, size=coarse_shape, mode="area") > 0.5).float()
        if self._radius:
            pool = F.max_pool3d if len(shape) == 3 else F.max_pool2d
            radius = abs(self._radius)
            if self._radius > 0:  # a max filter grows the foreground; the same filter on the background shrinks it
                coarse = pool(coarse, 2 * radius + 1, stride=1, padding=radius)
            else:
                coarse = 1 - pool(1 - coarse, 2 * radius + 1, stride=1, padding=radius)
        mask = F.interpolate(coarse, size=list(shape), mode="nearest")[0]
        if isinstance(label, MetaTensor):
            mask = MetaTensor(mask, meta=copy.deepcopy(label.meta), applied_operations=list(label.applied_operations))
        d[self.output_key] = mask
        return d
