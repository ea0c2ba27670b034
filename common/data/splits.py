"""Fixed-seed hold-out splits, by case or by group (patient), so every run sees the same validation set."""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np

__all__ = ["holdout_mask"]


def holdout_mask(groups: Sequence[Hashable], val_fraction: float, seed: int = 0) -> np.ndarray:
    """Return a boolean mask, true for the items whose group falls in the held-out validation part.

    Groups (e.g. patient ids, or item indices for a per-item split) are shuffled with ``seed`` and the first
    ``round(val_fraction * n_groups)`` of them (at least one when ``val_fraction > 0``) are held out, so all items
    of a group land on the same side.
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}.")
    unique = sorted(set(groups), key=str)
    n_val = int(round(val_fraction * len(unique)))
    if val_fraction > 0 and n_val == 0 and len(unique) > 1:
        n_val = 1
    order = np.random.default_rng(seed).permutation(len(unique))
    held_out = {unique[i] for i in order[:n_val]}
    return np.array([g in held_out for g in groups], dtype=bool)
