"""Bootstrap intervals over cases: resample the cases (pictures, patients, volumes) with replacement, recompute.

A figure is described by a function of case weights: ``summarise(weights)`` gives the figures of the cases each
counted ``weights[i]`` times (all ones: the figures as measured). Pooled figures (pixels of all pictures together)
and per-case means alike resample whole cases this way, never pixels or slices.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np

__all__ = ["bootstrap_intervals", "paired_difference", "per_case_summariser", "weighted_mean", "weighted_median"]


def bootstrap_intervals(
    summarise: Callable[[np.ndarray], Mapping[str, float]],
    n_cases: int,
    resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap interval of every figure ``summarise`` returns: ``{name: (low, high)}``.

    Each resample draws ``n_cases`` cases with replacement (a multinomial count per case, passed to ``summarise``
    as ``weights``). NaN figures of a resample are left out of that figure's percentiles; a figure that is NaN in
    every resample (or no cases) gets ``(nan, nan)``.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}.")
    if n_cases == 0:
        return {name: (math.nan, math.nan) for name in summarise(np.zeros(0))}
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(n_cases, np.full(n_cases, 1.0 / n_cases), size=int(resamples))
    values: dict[str, list[float]] = {}
    for weights in draws:
        for name, value in summarise(weights.astype(np.float64)).items():
            values.setdefault(name, []).append(float(value))
    tail = 100.0 * (1.0 - confidence) / 2.0
    intervals = {}
    for name, samples in values.items():
        finite = np.asarray(samples)[~np.isnan(samples)]
        if finite.size == 0:
            intervals[name] = (math.nan, math.nan)
        else:
            low, high = np.percentile(finite, [tail, 100.0 - tail])
            intervals[name] = (float(low), float(high))
    return intervals


def weighted_mean(values, weights) -> float:
    """The mean of ``values`` with each counted ``weights[i]`` times; NaN when the weights sum to zero."""
    values, weights = np.asarray(values, dtype=np.float64), np.asarray(weights, dtype=np.float64)
    total = weights.sum()
    return float((values * weights).sum() / total) if total > 0 else math.nan


def weighted_median(values, weights) -> float:
    """The median of ``values`` with each repeated ``weights[i]`` (whole) times, as ``np.median`` of the repeats."""
    repeats = np.repeat(np.asarray(values, dtype=np.float64), np.asarray(weights).astype(np.int64))
    return float(np.median(repeats)) if repeats.size else math.nan


def paired_difference(
    summarise_a: Callable[[np.ndarray], float],
    summarise_b: Callable[[np.ndarray], float],
    n_cases: int,
    resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, float]:
    """``b - a`` of one figure of two runs over the same cases, with its bootstrap interval: each resample draws the
    same cases for both runs (a paired bootstrap), so what the cases share cancels out.

    ``summarise_a`` / ``summarise_b`` give the figure of each run from case weights (as for
    :func:`bootstrap_intervals`, case ``i`` being the same case in both). Returns ``a``, ``b``, ``difference``,
    ``difference_ci<percent>_low`` / ``_high`` and ``n_cases``.
    """
    percent = round(100 * confidence)
    ones = np.ones(n_cases)
    a, b = summarise_a(ones), summarise_b(ones)
    interval = bootstrap_intervals(
        lambda w: {"difference": summarise_b(w) - summarise_a(w)}, n_cases, resamples, confidence, seed
    )["difference"]
    return {
        "a": a,
        "b": b,
        "difference": b - a,
        f"difference_ci{percent}_low": interval[0],
        f"difference_ci{percent}_high": interval[1],
        "n_cases": n_cases,
    }


def per_case_summariser(rows: Sequence[Mapping[str, str | float]], figure: str) -> Callable[[np.ndarray], float]:
    """A figure of ``per_case.csv`` rows as a function of case weights, for :func:`paired_difference`.

    ``figure`` is a column (its weighted mean over the cases, e.g. ``dsc`` or ``liver_dice``), its weighted median
    (``median:<column>``), or ``pooled_dice``: the F1 of the pixels of all cases together, from the ``tp``, ``fp``
    and ``fn`` columns (DRIVE's pooled ``dice``).
    """
    if figure == "pooled_dice":
        counts = np.array([[float(r[k]) for k in ("tp", "fp", "fn")] for r in rows])

        def pooled(weights: np.ndarray) -> float:
            tp, fp, fn = np.tensordot(weights, counts, axes=1)
            return float(2 * tp / (2 * tp + fp + fn)) if 2 * tp + fp + fn else 1.0

        return pooled
    median = figure.startswith("median:")
    values = np.array([float(r[figure.removeprefix("median:")]) for r in rows])
    return (lambda w: weighted_median(values, w)) if median else (lambda w: weighted_mean(values, w))
