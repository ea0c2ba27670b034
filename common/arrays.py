"""Arrays handed over by MONAI engines (torch tensors on any device, MetaTensors) as numpy arrays."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from monai.utils import convert_to_numpy

__all__ = ["as_numpy"]


def as_numpy(x: Any) -> np.ndarray:
    """A numpy view (or copy) of a numpy array, torch tensor (any device) or array-like: MONAI's ``convert_to_numpy``,
    with ``bfloat16`` (which numpy lacks) as ``float32``."""
    if isinstance(x, torch.Tensor) and x.dtype == torch.bfloat16:
        x = x.float()
    return np.asarray(convert_to_numpy(x))  # a list stays a list there
