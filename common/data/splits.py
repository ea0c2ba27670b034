"""Fixed-seed validation splits by case or by group (patient): one hold-out part, or one of K cross-validation folds.

Every run sees the same validation set: groups are sorted, then shuffled with a fixed seed, so the split depends on
which groups exist, never on the order a folder listing returned them in.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np

from ..errors import BundleInputError

__all__ = ["fold_of_groups", "fold_mask", "holdout_mask", "split_items", "validation_mask"]


def _shuffled_groups(groups: Sequence[Hashable], seed: int) -> list[Hashable]:
    unique = sorted(set(groups), key=str)
    order = np.random.default_rng(seed).permutation(len(unique))
    return [unique[i] for i in order]


def holdout_mask(groups: Sequence[Hashable], val_fraction: float, seed: int = 0) -> np.ndarray:
    """Return a boolean mask, true for the items whose group falls in the held-out validation part.

    Groups (e.g. patient ids, or item indices for a per-item split) are shuffled with ``seed`` and the first
    ``round(val_fraction * n_groups)`` of them (at least one when ``val_fraction > 0``) are held out, so all items
    of a group land on the same side.
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}.")
    shuffled = _shuffled_groups(groups, seed)
    n_val = int(round(val_fraction * len(shuffled)))
    if val_fraction > 0 and n_val == 0 and len(shuffled) > 1:
        n_val = 1
    held_out = set(shuffled[:n_val])
    return np.array([g in held_out for g in groups], dtype=bool)


def fold_of_groups(groups: Sequence[Hashable], num_folds: int, seed: int = 0) -> dict[Hashable, int]:
    """Deal the distinct groups into ``num_folds`` disjoint folds: ``{group: fold}``.

    The groups are shuffled with ``seed`` and dealt in turn, so fold sizes differ by at most one. Raises
    :class:`BundleInputError` when ``num_folds`` is below 2 or above the number of groups.
    """
    shuffled = _shuffled_groups(groups, seed)
    if isinstance(num_folds, bool) or not isinstance(num_folds, int) or num_folds < 2:
        raise BundleInputError(f"--num_folds: expected an integer of at least 2, got {num_folds!r}.")
    if num_folds > len(shuffled):
        raise BundleInputError(
            f"--num_folds {num_folds}: more folds than cases ({len(shuffled)}); every fold needs at least one case."
        )
    return {group: position % num_folds for position, group in enumerate(shuffled)}


def fold_mask(groups: Sequence[Hashable], fold: int, num_folds: int, seed: int = 0) -> np.ndarray:
    """Return a boolean mask, true for the items whose group is dealt into fold ``fold`` of ``num_folds``."""
    folds = fold_of_groups(groups, num_folds, seed)
    if isinstance(fold, bool) or not isinstance(fold, int) or not 0 <= fold < num_folds:
        raise BundleInputError(f"--fold: expected an integer from 0 to {num_folds - 1}, got {fold!r}.")
    return np.array([folds[g] == fold for g in groups], dtype=bool)


def validation_mask(
    groups: Sequence[Hashable], val_fraction: float, seed: int = 0, fold: int | None = None, num_folds: int = 5
) -> np.ndarray:
    """The validation items: fold ``fold`` of ``num_folds`` when a fold is given, else the ``val_fraction`` hold-out."""
    if fold is None:
        return holdout_mask(groups, val_fraction, seed)
    return fold_mask(groups, fold, num_folds, seed)


def split_items(
    items: Sequence[dict],
    group_key: str,
    split: str,
    val_fraction: float,
    seed: int = 0,
    fold: int | None = None,
    num_folds: int = 5,
) -> list[dict]:
    """The ``train``, ``validation`` or ``oof`` part of ``items`` (dicts grouped by ``item[group_key]``).

    ``train`` / ``validation``: the items outside / inside :func:`validation_mask`; ``oof``: every item, each with
    its ``fold`` added (:func:`fold_of_groups`), for out-of-fold evaluation.
    """
    groups = [item[group_key] for item in items]
    if split == "oof":
        folds = fold_of_groups(groups, num_folds, seed)
        return [{**item, "fold": folds[group]} for item, group in zip(items, groups)]
    if split not in ("train", "validation"):
        raise ValueError(f"split_items splits 'train', 'validation' or 'oof', got {split!r}.")
    held_out = validation_mask(groups, val_fraction, seed, fold, num_folds)
    return [item for item, v in zip(items, held_out) if v == (split == "validation")]
