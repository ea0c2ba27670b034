"""Charts written as PNG files with matplotlib's non-interactive backend."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .io import atomic_path

__all__ = ["per_case_bar_chart"]


def per_case_bar_chart(
    names: Sequence[str], values: Sequence[float], path: str | os.PathLike, ylabel: str, title: str = ""
) -> Path:
    """A bar per case, sorted by value, with the mean and median as horizontal lines; written to ``path`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    values = np.asarray(values, dtype=float)
    order = np.argsort(values, kind="stable")
    fig, ax = plt.subplots(figsize=(max(6.0, 0.3 * len(values) + 2.0), 4.5), dpi=100)
    try:
        ax.bar(np.arange(len(values)), values[order], color="#4c72b0")
        ax.set_xticks(np.arange(len(values)), [str(names[i]) for i in order], rotation=90, fontsize=7)
        if len(values):
            mean, median = float(np.mean(values)), float(np.median(values))
            ax.axhline(mean, color="#dd8452", linestyle="-", label=f"mean {mean:.3f}")
            ax.axhline(median, color="#55a868", linestyle="--", label=f"median {median:.3f}")
            ax.legend(loc="lower right")
        ax.set_ylim(0.0, 1.0)
        ax.set_ylabel(ylabel)
        ax.set_title(title or f"{ylabel} per case (n={len(values)})")
        fig.tight_layout()
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png")
    finally:
        plt.close(fig)
    return Path(path)
