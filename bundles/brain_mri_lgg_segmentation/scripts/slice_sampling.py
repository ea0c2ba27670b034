"""The slice sampler of the dataset authors' program (github mateuszbuda/brain-segmentation-pytorch), for the recipe
comparison in docs/experiments/: whole slices of a patient drawn with probability in proportion to their tumour area
plus a tenth of the patient's mean tumour area.

MONAI's ``RandWeightedCropd`` cannot stand in for it: with a patch as wide as the picture it reads the weight of the
picture's centre pixel only, and along the slices (a patch one slice thick) it never draws the last slice (MONAI 1.6,
``monai.transforms.utils.weighted_patch_samples``: centres in ``slice(w // 2, m - w + w // 2)``).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping

import numpy as np
import torch
from monai.config import KeysCollection
from monai.transforms import MapTransform, Randomizable

__all__ = ["RandTumourSlicesd"]


class RandTumourSlicesd(Randomizable, MapTransform):
    """Draw ``num_samples`` whole slices (with replacement) of a patient's stack: ``keys`` are (C, H, W, S) arrays, and
    slice ``z`` is drawn with probability in proportion to ``area(z) + floor * mean(area)``, the area being the
    label's foreground pixels on the slice (every slice alike when the patient has none). Returns one item a slice,
    each array (C, H, W, 1), as MONAI's multi-sample crops do."""

    def __init__(self, keys: KeysCollection, label_key: str = "label", num_samples: int = 4, floor: float = 0.1):
        MapTransform.__init__(self, keys)
        self.label_key, self.num_samples, self.floor = label_key, num_samples, floor
        self._slices = np.zeros(0, dtype=int)

    def randomize(self, label: torch.Tensor) -> None:
        areas = (torch.as_tensor(label) > 0).sum(dim=(0, 1, 2)).double().numpy()
        weights = areas + self.floor * areas.mean()
        if weights.sum() <= 0:
            weights = np.ones_like(weights)
        self._slices = self.R.choice(len(weights), size=self.num_samples, p=weights / weights.sum())

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> list[dict]:
        self.randomize(data[self.label_key])
        samples = []
        for z in self._slices:
            sample = dict(data)
            for key in self.key_iterator(sample):
                sample[key] = sample[key][..., int(z) : int(z) + 1]
            samples.append(sample)
        return samples
