"""Beside a GPU the training loaders of MNIST, DRIVE and the liver bundles start processes that live across epochs; on
a CPU they stay as the shipped weights were trained (no processes for MNIST and DRIVE; 4, restarted each epoch, for
the liver bundles, whose random draws depend on them). LGG loads in its main process everywhere (not measured beside
a GPU in its shipped form; README, Performance)."""

import os

import pytest
import torch
from monai.bundle import ConfigParser

from bundle_common.bundle_cli import REPO_ROOT

CPUS = 16  # the machine the test pretends to be on
BESIDE_A_GPU = {
    "mnist_classification": 8,
    "drive_vessel_segmentation": 8,
    "liver_ct_coarse_segmentation": 12,
    "liver_ct_fine_segmentation": 12,
}
ON_A_CPU = {"liver_ct_coarse_segmentation": 4, "liver_ct_fine_segmentation": 4}  # the others: 0


def _training_loader(bundle: str, monkeypatch, cuda: bool, **overrides):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(os, "cpu_count", lambda: CPUS)
    parser = ConfigParser()
    parser.read_config(REPO_ROOT / "bundles" / bundle / "configs" / "train.yaml")
    parser.update({"bundle_root": str(REPO_ROOT / "bundles" / bundle), **overrides})
    parser["train"]["dataset"] = list(range(4))  # any dataset: only the loader's settings are checked
    return parser.get_parsed_content("train#dataloader")


@pytest.mark.parametrize("bundle", sorted(BESIDE_A_GPU))
@pytest.mark.parametrize("cuda", [False, True])
def test_loader_processes_by_default(bundle, cuda, monkeypatch):
    loader = _training_loader(bundle, monkeypatch, cuda)
    workers = BESIDE_A_GPU[bundle] if cuda else ON_A_CPU.get(bundle, 0)
    assert loader.num_workers == workers
    assert loader.persistent_workers is (cuda and workers > 0)


@pytest.mark.parametrize("bundle", sorted(BESIDE_A_GPU))
@pytest.mark.parametrize("workers", [0, 2])
def test_loader_processes_set_by_hand_beside_a_gpu(bundle, workers, monkeypatch):
    loader = _training_loader(bundle, monkeypatch, True, num_workers=workers)
    assert loader.num_workers == workers and loader.persistent_workers is (workers > 0)  # none: nothing to keep
