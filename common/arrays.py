"""Arrays handed over by MONAI engines (torch tensors on any device, MetaTensors) as numpy arrays."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

__all__ = ["as_numpy"]


def as_numpy(x: Any) -> np.ndarray:
    """A numpy view (or copy) of a numpy array, torch tensor (any device) or array-like."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu()
        if x.dtype == torch.bfloat16:  # numpy has no bfloat16
            x = x.float()
        return x.numpy()
    return np.asarray(x)
