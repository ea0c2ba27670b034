"""The crop of the dataset authors' program (github mateuszbuda/brain-segmentation-pytorch), for the recipe comparison
in docs/experiments/ (tried against the shipped recipe, out of fold): each patient's slices are cropped to the head,
padded to a square and resized to 256 x 256, so that every head fills the picture alike.

The authors crop before normalising and score in the cropped frame. Here the crop comes after the bundle's
normalisation (both at training and at inference, padding with each channel's minimum, the background), and inference
pastes the prediction back into the original frame (:class:`HeadCropInferer`), where every figure of the bundle is
scored. Bundle-specific code lives in the bundle's own ``scripts/`` (as model-zoo bundles keep theirs).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import torch
import torch.nn.functional as F
from monai.config import KeysCollection
from monai.transforms import MapTransform

__all__ = ["head_box", "to_head_square", "from_head_square", "HeadCropd", "HeadCropInferer"]


def head_box(image: torch.Tensor, threshold: float = 0.1) -> tuple[int, int, int]:
    """The square around the head of a patient's stack ``image`` (C, H, W, S): the bounding box of the pixels whose
    brightest value over channels and slices lies above ``threshold`` of the way from the stack's minimum to its
    maximum, grown on its shorter side to a square (centred; it may reach outside the picture). Returns
    ``(top, left, side)``; the whole picture when nothing lies above."""
    projection = image.amax(dim=(0, 3))
    low, high = projection.min(), projection.max()
    rows, cols = torch.nonzero(projection > low + threshold * (high - low), as_tuple=True)
    if rows.numel() == 0:
        return 0, 0, max(projection.shape)
    top, bottom, left, right = int(rows.min()), int(rows.max()) + 1, int(cols.min()), int(cols.max()) + 1
    side = max(bottom - top, right - left)
    return top - (side - (bottom - top)) // 2, left - (side - (right - left)) // 2, side


def _inside(box: tuple[int, int, int], height: int, width: int) -> tuple[int, int, int, int]:
    """Rows ``y0:y1`` and columns ``x0:x1`` of a ``height`` x ``width`` picture that the square ``box`` covers."""
    top, left, side = box
    return max(top, 0), min(top + side, height), max(left, 0), min(left + side, width)


def _padded_crop(array: torch.Tensor, box: tuple[int, int, int], fill: torch.Tensor) -> torch.Tensor:
    """``array`` (C, H, W, S) cut to ``box``; outside the picture, ``fill`` (one value a channel)."""
    top, left, side = box
    out = fill.reshape(-1, 1, 1, 1).to(array.dtype).expand(array.shape[0], side, side, array.shape[3]).clone()
    height, width = array.shape[1:3]
    y0, y1, x0, x1 = _inside(box, height, width)
    out[:, y0 - top : y1 - top, x0 - left : x1 - left] = array[:, y0:y1, x0:x1]
    return out


def _resize_slices(array: torch.Tensor, size: Sequence[int], mode: str) -> torch.Tensor:
    """(C, H, W, S) -> (C, size[0], size[1], S), slice by slice."""
    slices = array.permute(3, 0, 1, 2).float()  # (S, C, H, W)
    options = {"align_corners": False} if mode == "bilinear" else {}
    resized = F.interpolate(slices, size=tuple(size), mode=mode, **options)
    return resized.permute(1, 2, 3, 0).to(array.dtype)


def to_head_square(array: torch.Tensor, box, size: Sequence[int], mode: str, fill: torch.Tensor) -> torch.Tensor:
    """``array`` (C, H, W, S) cropped and padded to ``box``, then resized to ``size`` (``mode``: bilinear or
    nearest)."""
    return _resize_slices(_padded_crop(array, box, fill), size, mode)


def from_head_square(square: torch.Tensor, box, shape: Sequence[int], fill: float) -> torch.Tensor:
    """The inverse of :func:`to_head_square` for a prediction ``square`` (C, h, w, S): resized back to the box
    (bilinear), pasted into a (C, *shape) volume filled with ``fill`` (shape: H, W, S)."""
    top, left, side = box
    back = _resize_slices(square, (side, side), "bilinear")
    height, width = shape[:2]
    out = torch.full((square.shape[0], *shape), fill, dtype=back.dtype, device=back.device)
    y0, y1, x0, x1 = _inside(box, height, width)
    out[:, y0:y1, x0:x1] = back[:, y0 - top : y1 - top, x0 - left : x1 - left]
    return out


class HeadCropd(MapTransform):
    """Crop a patient's stack (``image`` and ``label``, (C, H, W, S)) to :func:`head_box` of the image, pad to a
    square with each channel's minimum (the label with 0) and resize to ``size``: bilinear for the image, nearest for
    the label."""

    def __init__(
        self, keys: KeysCollection, image_key: str = "image", size: Sequence[int] = (256, 256), threshold: float = 0.1
    ) -> None:
        super().__init__(keys, allow_missing_keys=True)
        self.image_key, self.size, self.threshold = image_key, tuple(size), threshold

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict:
        d = dict(data)
        image = torch.as_tensor(d[self.image_key])
        box = head_box(image, self.threshold)
        for key in self.key_iterator(d):
            value = torch.as_tensor(d[key])
            is_image = key == self.image_key
            fill = value.amin(dim=(1, 2, 3)) if is_image else torch.zeros(value.shape[0])
            d[key] = to_head_square(value, box, self.size, "bilinear" if is_image else "nearest", fill)
        return d


class HeadCropInferer:
    """Run ``inferer`` on each patient's stack cropped to the head and resized to ``size`` (as :class:`HeadCropd`), and
    paste its logits back into the original frame (resized back, bilinear); outside the head box the logit is
    ``background_logit``. Inputs (B, C, H, W, S), one patient each."""

    def __init__(self, inferer, size: Sequence[int] = (256, 256), threshold: float = 0.1, background_logit=-20.0):
        self.inferer, self.size, self.threshold, self.background = inferer, tuple(size), threshold, background_logit

    def __call__(self, inputs: torch.Tensor, network, *args, **kwargs) -> torch.Tensor:
        outputs = []
        for stack in inputs:
            box = head_box(stack, self.threshold)
            square = to_head_square(stack, box, self.size, "bilinear", stack.amin(dim=(1, 2, 3)))
            logits = self.inferer(square[None], network, *args, **kwargs)[0]
            outputs.append(from_head_square(logits, box, stack.shape[1:], self.background))
        return torch.stack(outputs)
