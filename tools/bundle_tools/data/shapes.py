"""Smooth random shapes for the generated datasets: organs and tumours that are not perfect ellipsoids."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["lumpy_distance"]


def lumpy_distance(
    rng: np.random.Generator,
    a: np.ndarray,
    b: np.ndarray,
    c: np.ndarray,
    n_waves: int,
    frequency: tuple[float, float],
    wobble: float,
) -> np.ndarray:
    """The normalised ellipsoidal distance ``sqrt(a^2 + b^2 + c^2)`` (below 1 inside), its outline pushed in and out
    by up to ``wobble`` (a fraction) by ``n_waves`` random plane waves of ``frequency`` (radians per unit of the
    normalised coordinates ``a, b, c``, which broadcast together), so the shape is smooth and continuous."""
    q = np.sqrt(a**2 + b**2 + c**2)
    lumps = np.zeros(q.shape, dtype=np.float32)
    amplitudes = rng.uniform(0.5, 1.0, n_waves)
    for amplitude in amplitudes:
        w = rng.normal(size=3)
        w *= rng.uniform(*frequency) / np.linalg.norm(w)
        phase = float(rng.uniform(0, 2 * math.pi))
        lumps += float(amplitude) * np.cos(float(w[0]) * a + float(w[1]) * b + (float(w[2]) * c + phase))
    return q * (1 + wobble / float(amplitudes.sum()) * lumps)
