"""Resources: a cache that would not fit in memory fails at once, naming cache_rate, before anything is written."""

from __future__ import annotations

import pytest
import torch
from monai.data import CacheDataset
from monai.transforms import Compose, Lambdad, RandFlipd

from bundle_common.data.cache import MemoryCheckedCacheDataset, available_memory_bytes, nbytes
from bundle_common.errors import BundleInputError
from tests.reliability.test_resume import train

MIB = 2**20


def items(n: int = 10) -> list[dict]:
    return [{"image": i} for i in range(n)]


def pipeline() -> Compose:  # 1 MiB a cached item, then a random flip that is not cached
    return Compose(
        [Lambdad("image", lambda i: torch.full((1, 512, 512), float(i))), RandFlipd("image", prob=0.5, spatial_axis=0)]
    )


def test_estimate_counts_the_cached_tensors():
    assert nbytes({"image": torch.zeros(2, 3), "meta": [torch.zeros(4, dtype=torch.uint8), "x", 7]}) == 24 + 4
    assert 0 < available_memory_bytes() < 2**50


def test_a_cache_that_fits_is_the_same_as_monais():
    checked = MemoryCheckedCacheDataset(items(), pipeline(), cache_rate=1.0, available_bytes=100 * MIB)
    plain = CacheDataset(items(), pipeline(), cache_rate=1.0)
    assert len(checked._cache) == len(plain._cache) == 10
    for a, b in zip(checked._cache, plain._cache):
        assert torch.equal(a["image"], b["image"])


def test_a_cache_that_does_not_fit_names_cache_rate_and_a_value_that_fits():
    with pytest.raises(BundleInputError) as error:  # 10 MiB needed, 8 MiB x 0.8 allowed
        MemoryCheckedCacheDataset(items(), pipeline(), cache_rate=1.0, available_bytes=8 * MIB)
    message = str(error.value)
    assert message.startswith("cache_rate 1: caching 10 items needs about 0.01 GiB (1.0 MiB an item, measured on 3)")
    assert message.endswith("lower cache_rate to 0.64 or less (e.g. --cache_rate 0.64).")
    MemoryCheckedCacheDataset(items(), pipeline(), cache_rate=0.64, available_bytes=8 * MIB)  # which then fits


def test_each_torchrun_process_on_the_machine_counts(monkeypatch):
    MemoryCheckedCacheDataset(items(), pipeline(), cache_rate=1.0, available_bytes=15 * MIB)
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    with pytest.raises(BundleInputError, match=r"caching 10 items x 2 processes needs"):
        MemoryCheckedCacheDataset(items(), pipeline(), cache_rate=1.0, available_bytes=15 * MIB)


def test_training_whose_cache_does_not_fit_stops_before_writing_anything(tiny_mnist_dir, tmp_path):
    result = train(tiny_mnist_dir, tmp_path, check=False, **{"train#dataset#available_bytes": 50_000})
    assert result.returncode == 1 and "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: cache_rate 1: caching 216 items needs about") and "--cache_rate 0." in last
    assert list(tmp_path.iterdir()) == []
