"""A ``CacheDataset`` that checks, before it fills its cache, that the cache fits in the memory there is."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from monai.data import CacheDataset

from ..errors import BundleInputError

__all__ = ["MemoryCheckedCacheDataset", "available_memory_bytes", "nbytes"]


def nbytes(item: Any) -> int:
    """Bytes held by the tensors and arrays in ``item`` (nested dicts, lists and tuples)."""
    if isinstance(item, torch.Tensor):
        return item.element_size() * item.nelement()
    if isinstance(item, np.ndarray):
        return item.nbytes
    if isinstance(item, Mapping):
        return sum(nbytes(v) for v in item.values())
    if isinstance(item, (list, tuple)):
        return sum(nbytes(v) for v in item)
    return 0


def _cgroup_headroom() -> int | None:
    """Bytes this process's cgroup (v2) may still use, or None where there is no limit."""
    root = Path("/sys/fs/cgroup")
    try:
        limit = (root / "memory.max").read_text().strip()
        if limit == "max":
            return None
        return int(limit) - int((root / "memory.current").read_text())
    except (OSError, ValueError):
        return None


def available_memory_bytes() -> int:
    """Memory a new allocation can get without swapping or the OOM killer: the kernel's ``MemAvailable``, or less
    where a container (cgroup v2) limit leaves less."""
    available = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                available = int(line.split()[1]) * 1024
    except OSError:
        pass
    if available is None:
        available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    headroom = _cgroup_headroom()
    return min(available, headroom) if headroom is not None else available


def _processes_on_this_node() -> int:
    """How many ranks of a torchrun job share this machine's memory (each holds its own cache)."""
    return int(os.environ.get("LOCAL_WORLD_SIZE", 1))


class MemoryCheckedCacheDataset(CacheDataset):
    """:class:`monai.data.CacheDataset` that, before caching, loads a few items (first, middle, last) through the
    deterministic transforms, estimates what the whole cache needs (times the ranks on this machine under
    torchrun) and, when that is more than ``memory_fraction`` of the available memory, fails at once with a message
    that names ``cache_rate`` and a value that fits — instead of being killed by the kernel minutes later.

    Args:
        available_bytes: the memory to compare with; by default :func:`available_memory_bytes` at caching time.
        memory_fraction: the share of it the cache may take.
        other arguments: those of :class:`~monai.data.CacheDataset`.
    """

    def __init__(
        self,
        data: Sequence,
        transform: Any = None,
        *args,
        available_bytes: int | None = None,
        memory_fraction: float = 0.8,
        **kwargs,
    ) -> None:
        self.available_bytes = available_bytes
        self.memory_fraction = memory_fraction
        super().__init__(data, transform, *args, **kwargs)

    def _fill_cache(self, indices=None) -> list:
        if indices is None:
            indices = list(range(self.cache_num))
        if not indices:
            return []
        probes = sorted({indices[0], indices[len(indices) // 2], indices[-1]}, key=indices.index)
        loaded = {i: self._load_cache_item(i) for i in probes}
        per_item = sum(nbytes(v) for v in loaded.values()) / len(loaded)
        processes = _processes_on_this_node()
        needed = per_item * len(indices) * processes
        available = self.available_bytes if self.available_bytes is not None else available_memory_bytes()
        allowed = self.memory_fraction * available
        if needed > allowed:
            fits = np.floor(100 * self.set_rate * allowed / needed) / 100
            ranks = f" x {processes} processes" if processes > 1 else ""
            raise BundleInputError(
                f"cache_rate {self.set_rate:g}: caching {len(indices)} items{ranks} needs about "
                f"{needed / 2**30:.2f} GiB ({per_item / 2**20:.1f} MiB an item, measured on {len(loaded)}) but "
                f"{available / 2**30:.2f} GiB is available ({self.memory_fraction:.0%} may go to the cache): lower "
                f"cache_rate to {fits:.2f} or less (e.g. --cache_rate {fits:.2f})."
            )
        rest = iter(super()._fill_cache([i for i in indices if i not in loaded]))
        return [loaded[i] if i in loaded else next(rest) for i in indices]
