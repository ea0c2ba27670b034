"""Inferers MONAI lacks: flip test-time augmentation around any inferer."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from monai.inferers import Inferer, SimpleInferer

__all__ = ["FlipAveragingInferer"]


class FlipAveragingInferer(Inferer):
    """Average an inferer's outputs over flipped copies of the input, each flipped back before averaging.

    Args:
        inferer: the inferer to wrap (e.g. a ``SlidingWindowInferer``); ``SimpleInferer`` when None.
        flip_axes: the flips, as tuples of spatial axes (0 = first spatial axis); ``()`` is the input as it is.
            The default, for 2D images, is none, vertical, horizontal and both.
        activation: applied to every output before averaging (e.g. ``torch.sigmoid``), so that probabilities rather
            than logits are averaged; ``None`` averages the raw outputs.
    """

    def __init__(
        self,
        inferer: Inferer | None = None,
        flip_axes: Sequence[Sequence[int]] = ((), (0,), (1,), (0, 1)),
        activation=None,
    ) -> None:
        super().__init__()
        self.inferer = inferer or SimpleInferer()
        self.flip_axes = [tuple(axes) for axes in flip_axes]
        self.activation = activation

    def __call__(self, inputs: torch.Tensor, network, *args, **kwargs) -> torch.Tensor:
        total = None
        for axes in self.flip_axes:
            dims = [a + 2 for a in axes]  # skip batch and channel
            flipped = torch.flip(inputs, dims) if dims else inputs
            output = self.inferer(flipped, network, *args, **kwargs)
            output = torch.flip(output, dims) if dims else output
            if self.activation is not None:
                output = self.activation(output)
            total = output if total is None else total + output
        return total / len(self.flip_axes)
