"""Random flips, quarter turns and affine of a whole 2D or 3D batch (and of its segmentation labels) at once, as a
trainer's ``prepare_batch``."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from monai.engines.utils import PrepareBatch, default_prepare_batch
from monai.utils import ensure_tuple_rep

__all__ = ["RandAffinePrepareBatch", "warp_batch"]


def _per_axis(value: float | Sequence[float], spatial_dims: int) -> torch.Tensor:
    """One number for every spatial axis, or one per axis in MONAI's array order (height, width / depth, height,
    width), returned in the affine's ``(x, y[, z])`` order, the array's axes reversed (MONAI's ``ensure_tuple_rep``
    refuses any other length)."""
    return torch.tensor(ensure_tuple_rep(value, spatial_dims)[::-1], dtype=torch.float32)


def _rotations(cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """``(n, 2, 2)`` rotation matrices from the cosines and sines of ``n`` angles."""
    return torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], -2)


def _rotations_3d(angles: torch.Tensor) -> torch.Tensor:
    """``(n, 3, 3)`` rotations by ``(n, 3)`` angles about the ``x``, ``y`` and ``z`` axes, in that order of the product
    ``R_x R_y R_z``."""
    matrices = torch.eye(3).repeat(angles.shape[0], 3, 1, 1)  # (n, 3 axes, 3, 3)
    cos, sin = torch.cos(angles), torch.sin(angles)
    for axis, (i, j) in enumerate(((1, 2), (2, 0), (0, 1))):  # each rotation turns the plane of the other two axes
        matrices[:, axis, i, i], matrices[:, axis, i, j] = cos[:, axis], -sin[:, axis]
        matrices[:, axis, j, i], matrices[:, axis, j, j] = sin[:, axis], cos[:, axis]
    return matrices[:, 0] @ matrices[:, 1] @ matrices[:, 2]


def _grid_3d(theta: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
    """``F.affine_grid(theta, shape, align_corners=False)`` for ``(N, 3, 4)`` affines, as sums of three broadcast
    axes: the same grid to rounding, without its batched matrix product (on 2 CPU cores 68 ms for four 96^3 grids)."""
    n, _, *sizes = shape

    def centres(size: int) -> torch.Tensor:  # voxel centres in [-1, 1]
        return (torch.arange(size, device=theta.device, dtype=theta.dtype) * 2 + 1) / size - 1

    z, y, x = (centres(size) for size in sizes)
    columns = theta.transpose(1, 2)[:, :, None, None, None, :]  # (N, 4, 1, 1, 1, 3): the images of x, y, z and 1
    return (
        (z[None, :, None, None, None] * columns[:, 2] + columns[:, 3])
        + y[None, None, :, None, None] * columns[:, 1]
        + x[None, None, None, :, None] * columns[:, 0]
    )


def warp_batch(
    image: torch.Tensor, affines: torch.Tensor, mode: str = "bilinear", padding_mode: str = "zeros"
) -> torch.Tensor:
    """Resample each image of a ``(N, C, H, W)`` or ``(N, C, D, H, W)`` batch through its own ``(d, d + 1)`` affine
    ``[A | t]`` in pixels about the image centre, in ``(x, y[, z])`` order, the array's spatial axes reversed (width,
    height[, depth]): output pixel ``p`` takes the input at ``A p + t``."""
    dims = image.ndim - 2
    to_unit = torch.tensor([2.0 / size for size in image.shape[:1:-1]])  # pixels to grid_sample's [-1, 1]
    linear = affines[:, :, :dims] * to_unit[None, :, None] / to_unit[None, None, :]
    shift = affines[:, :, dims] * to_unit
    theta = torch.cat([linear, shift[..., None]], dim=2).to(device=image.device, dtype=image.dtype)
    grid = F.affine_grid(theta, list(image.shape), align_corners=False) if dims == 2 else _grid_3d(theta, image.shape)
    return F.grid_sample(image, grid, mode=mode, padding_mode=padding_mode, align_corners=False)


class RandAffinePrepareBatch(PrepareBatch):
    """``prepare_batch`` for MONAI's ``SupervisedTrainer``: moves the batch to the trainer's device as the default
    does, then warps each image, with probability ``prob``, by its own random rotation, shear, scale and translation
    about the centre (the ranges of MONAI's ``RandAffine``: angle in ``[-rotate_range, rotate_range]``, scale
    ``1 + [-s, s]`` per axis, translation in pixels) in one ``grid_sample`` over the whole batch, on the GPU where
    the batch is. ``RandAffined`` does the same one sample at a time in the data loader, which cost MNIST's small
    network close to a third of its training rate on 2 CPU cores; in 3D PyTorch's CPU ``grid_sample`` works on one
    sample per thread, so a batch also uses every core where the loader's samples used one.

    ``spatial_dims`` 2 (``(N, C, H, W)`` batches) or 3 (``(N, C, D, H, W)``). In 3D ``rotate_range`` gives the angle
    about each spatial axis (one number for all three, or one per axis), the rotation being the product of the three;
    shear and quarter turns are 2D only. In 3D only the samples drawn for a warp are resampled, the others are left
    bit for bit (in 2D every sample goes through ``grid_sample``, as the shipped 2D weights were trained).

    ``flip_prob`` flips each axis with that probability (``RandFlipd`` on each spatial axis; one number per axis
    gives each axis its own, e.g. ``[0, 0.5]`` flips left-right only) and ``rot90_prob`` turns by 1, 2 or 3 quarter
    turns (``RandRotate90d``, square images); both fold into the same affine, so one resampling does all. A number
    per axis (``flip_prob``, ``shear_range``, ``translate_range``, ``scale_range``, 3D ``rotate_range``) is in MONAI's
    array order: height (``spatial_axis`` 0), then width (1); in 3D depth, height, width. Labels are left as they are
    (classification) unless ``label_mode`` is given: then the label batch is warped by the same affines with that
    mode (``"nearest"`` for segmentation masks). Every rank of a DDP run draws the same sequence (the same ``seed``)
    for its own samples.

    The draws come from the object's own generator, seeded with ``seed``; ``state_dict`` / ``load_state_dict`` carry
    its state, so that a resumed run draws what the uninterrupted run would have.
    """

    def __init__(
        self,
        prob: float = 0.1,
        rotate_range: float | Sequence[float] = 0.0,
        shear_range: float | Sequence[float] = 0.0,
        translate_range: float | Sequence[float] = 0.0,
        scale_range: float | Sequence[float] = 0.0,
        flip_prob: float | Sequence[float] = 0.0,
        rot90_prob: float = 0.0,
        mode: str = "bilinear",
        label_mode: str | None = None,
        padding_mode: str = "zeros",
        seed: int = 0,
        spatial_dims: int = 2,
    ) -> None:
        if spatial_dims not in (2, 3):
            raise ValueError(f"spatial_dims must be 2 or 3, got {spatial_dims}")
        for name, value in (("prob", prob), ("flip_prob", flip_prob), ("rot90_prob", rot90_prob)):
            if not all(0.0 <= v <= 1.0 for v in ensure_tuple_rep(value, spatial_dims if name == "flip_prob" else 1)):
                raise ValueError(f"{name} must be in [0, 1], got {value}")
        self.spatial_dims = spatial_dims
        self.prob, self.rot90_prob = float(prob), float(rot90_prob)
        self.rotate_range = float(rotate_range) if spatial_dims == 2 else _per_axis(rotate_range, 3)
        self.flip_prob, self.shear_range = _per_axis(flip_prob, spatial_dims), _per_axis(shear_range, spatial_dims)
        self.translate_range = _per_axis(translate_range, spatial_dims)
        self.scale_range = _per_axis(scale_range, spatial_dims)
        if spatial_dims == 3 and (self.shear_range.any() or self.rot90_prob > 0):
            raise ValueError("shear_range and rot90_prob are 2D only (spatial_dims=2)")
        self.mode, self.label_mode, self.padding_mode = mode, label_mode, padding_mode
        self.generator = torch.Generator().manual_seed(seed)

    def _uniform(self, *shape: int) -> torch.Tensor:
        """Numbers in [-1, 1) from the object's generator."""
        return torch.rand(*shape, generator=self.generator) * 2 - 1

    def random_affines(self, n: int) -> torch.Tensor:
        """``(n, d, d + 1)`` pixel affines for :func:`warp_batch`: the identity where a sample is not augmented. The
        same number of numbers is drawn whatever happens, so the stream of draws depends on ``n`` and the settings
        alone (flips and quarter turns draw only where they are on, after the affine's draws)."""
        if self.spatial_dims == 3:
            return self._random_affines_3d(n)
        chosen = torch.rand(n, generator=self.generator) < self.prob
        angle = self._uniform(n) * self.rotate_range
        shear, scale = self._uniform(n, 2) * self.shear_range, 1 + self._uniform(n, 2) * self.scale_range
        shift = self._uniform(n, 2) * self.translate_range
        rotation = _rotations(torch.cos(angle), torch.sin(angle))
        shearing = torch.eye(2).repeat(n, 1, 1)
        shearing[:, 0, 1], shearing[:, 1, 0] = shear[:, 0], shear[:, 1]
        linear = rotation @ shearing @ torch.diag_embed(scale)
        affines = torch.cat([linear, shift[..., None]], dim=2)
        identity = torch.eye(2, 3).expand(n, 2, 3)
        affines = torch.where(chosen[:, None, None], affines, identity)
        if self.flip_prob.any() or self.rot90_prob > 0:
            flipped = torch.rand(n, 2, generator=self.generator) < self.flip_prob
            turned = torch.rand(n, generator=self.generator) < self.rot90_prob
            quarter_turns = torch.randint(1, 4, (n,), generator=self.generator) * turned
            quarter = quarter_turns * math.pi / 2
            turn = _rotations(torch.cos(quarter).round(), torch.sin(quarter).round())  # exactly 0 and +-1
            symmetry = turn @ torch.diag_embed(1 - 2 * flipped.float())  # exact too
            affines = torch.cat([affines[:, :, :2] @ symmetry, affines[:, :, 2:]], dim=2)
        return affines

    def _random_affines_3d(self, n: int) -> torch.Tensor:
        chosen = torch.rand(n, generator=self.generator) < self.prob
        angles = self._uniform(n, 3) * self.rotate_range
        scale = 1 + self._uniform(n, 3) * self.scale_range
        shift = self._uniform(n, 3) * self.translate_range
        linear = _rotations_3d(angles) @ torch.diag_embed(scale)
        affines = torch.cat([linear, shift[..., None]], dim=2)
        affines = torch.where(chosen[:, None, None], affines, torch.eye(3, 4).expand(n, 3, 4))
        if self.flip_prob.any():
            flipped = torch.rand(n, 3, generator=self.generator) < self.flip_prob
            affines = torch.cat([affines[:, :, :3] @ torch.diag_embed(1 - 2 * flipped.float()), affines[:, :, 3:]], 2)
        return affines

    def _warp(self, batch: torch.Tensor, affines: torch.Tensor, mode: str) -> torch.Tensor:
        if self.spatial_dims == 2:
            return warp_batch(batch, affines, mode, self.padding_mode)
        moved = ~torch.all((affines == torch.eye(3, 4)).flatten(1), dim=1)
        if not moved.any():
            return batch
        index = moved.nonzero()[:, 0].to(batch.device)
        warped = warp_batch(batch.index_select(0, index), affines[moved], mode, self.padding_mode)
        return batch.index_copy(0, index, warped)

    def __call__(
        self,
        batchdata: dict[str, torch.Tensor],
        device: str | torch.device | None = None,
        non_blocking: bool = False,
        **kwargs: Any,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        image, label = default_prepare_batch(batchdata, device, non_blocking, **kwargs)
        affines = self.random_affines(image.shape[0])
        image = self._warp(image, affines, self.mode)
        if self.label_mode is not None and label is not None:
            label = self._warp(label.float(), affines, self.label_mode).to(label.dtype)
        return image, label

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])
