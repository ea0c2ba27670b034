"""The first stage of a coarse-to-fine cascade as a dictionary transform: a low-resolution model's mask, brought back
to the grid of the image it was given, for the second stage to crop around (and, optionally, to see as an input
channel)."""

from __future__ import annotations

import copy
import logging
import os
from collections.abc import Callable, Hashable, Mapping

import torch
from monai.config import KeysCollection
from monai.data import MetaTensor
from monai.transforms import InvertibleTransform, KeepLargestConnectedComponent, MapTransform

from ..networks import load_weights

__all__ = ["CoarseMaskd"]

logger = logging.getLogger(__name__)


class CoarseMaskd(MapTransform):
    """Segment ``keys`` with a coarse model and store its binary foreground mask, in the image's own grid, as
    ``output_key``.

    The image (channel-first, with its metadata) goes through ``preprocessing`` (invertible transforms keyed
    ``"image"``, e.g. orientation, a coarse spacing, an intensity window), ``inferer`` and ``network``; the
    foreground probability (the softmax channel 1, or the sigmoid of a one-channel output) is taken back through
    ``preprocessing.inverse`` and thresholded, and the largest connected component is kept. When nothing is found
    the mask covers the whole image (and a warning is logged), so the next stage still sees every voxel.

    Args:
        keys: the image to segment (one key).
        network: the coarse model; ``ckpt_path`` when given is loaded into it.
        preprocessing: a ``Compose`` of the coarse stage's transforms on ``"image"``, without loading.
        inferer: e.g. a ``SlidingWindowInferer``.
        output_key: where the mask goes; it carries the image's metadata, so later spatial transforms apply to it.
        threshold: on the foreground probability.
        largest_component: keep the largest connected component only.
        device, amp: where and how the coarse model runs.
        fold_key: out-of-fold evaluation of a cascade: when the item holds this key (a datalist's ``oof`` split gives
            each case its ``fold``) and ``network`` is a fold ensemble
            (:class:`~bundle_common.networks.ProbabilityMeanEnsemble`), that fold's member alone segments the case,
            so the coarse stage never saw it either. A single coarse model is used as it is, with a warning once.
    """

    def __init__(
        self,
        keys: KeysCollection,
        network: torch.nn.Module,
        preprocessing: InvertibleTransform,
        inferer: Callable,
        output_key: str = "coarse_mask",
        ckpt_path: str | os.PathLike | None = None,
        threshold: float = 0.5,
        largest_component: bool = True,
        device: str | torch.device = "cpu",
        amp: bool = False,
        fold_key: str | None = None,
    ) -> None:
        super().__init__(keys)
        if len(self.keys) != 1:
            raise ValueError(f"CoarseMaskd segments one image key, got {self.keys}.")
        self.device = torch.device(device)
        self.network = network.to(self.device)
        if ckpt_path is not None:
            load_weights(self.network, ckpt_path)
        self.network.eval()
        self.preprocessing, self.inferer = preprocessing, inferer
        self.output_key, self.threshold, self.amp = output_key, threshold, amp
        self.keep_largest = KeepLargestConnectedComponent(applied_labels=[1]) if largest_component else None
        self.fold_key, self._warned_single = fold_key, False

    def _member(self, data: Mapping) -> int:
        """The ensemble member for this item: its fold out of fold, else -1 (the mean)."""
        if self.fold_key is None or self.fold_key not in data:
            return -1
        if not hasattr(self.network, "member"):
            if not self._warned_single:
                logger.warning("out of fold, but the coarse stage is one model: it may have trained on every case.")
                self._warned_single = True
            return -1
        return int(torch.as_tensor(data[self.fold_key]).reshape(-1)[0])

    def _probability(self, logits: torch.Tensor) -> torch.Tensor:
        if logits.shape[0] == 1:
            return torch.sigmoid(logits)
        return torch.softmax(logits, dim=0)[1:2]

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        key = self.keys[0]
        image = d[key]
        coarse = self.preprocessing({"image": image.clone()})["image"]
        member = self._member(d)
        if member >= 0:
            self.network.member = member
        try:
            with torch.no_grad(), torch.autocast(self.device.type, enabled=self.amp):
                logits = self.inferer(coarse.as_tensor()[None].to(self.device), self.network)[0]
        finally:
            if member >= 0:
                self.network.member = -1
        probability = MetaTensor(
            self._probability(logits.float()).cpu(),
            meta=copy.deepcopy(coarse.meta),
            applied_operations=copy.deepcopy(coarse.applied_operations),
        )
        restored = self.preprocessing.inverse({"image": probability})["image"]
        mask = (restored.as_tensor() > self.threshold).to(torch.uint8)
        if self.keep_largest is not None:
            mask = torch.as_tensor(self.keep_largest(mask), dtype=torch.uint8)
        if not mask.any():
            name = image.meta.get("filename_or_obj", key) if isinstance(image, MetaTensor) else key
            logger.warning(f"{name}: the coarse stage found no foreground; the next stage sees the whole image.")
            mask = torch.ones_like(mask)
        if tuple(mask.shape[1:]) != tuple(image.shape[1:]):
            raise RuntimeError(f"coarse mask {tuple(mask.shape)} did not come back to the image's grid {image.shape}.")
        if isinstance(image, MetaTensor):
            mask = MetaTensor(mask, meta=copy.deepcopy(image.meta), applied_operations=list(image.applied_operations))
        d[self.output_key] = mask
        return d
