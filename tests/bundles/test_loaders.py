"""Beside a GPU the training loaders of MNIST, DRIVE and the liver bundles start processes that live across epochs; on
a CPU they start none, as the shipped weights were trained. LGG loads in its main process everywhere (not measured
beside a GPU in its shipped form; README, Performance). MNIST, LGG and the fine liver bundle prepare the next batch in a
thread (``ThreadDataLoader``) beside a GPU only: on a CPU the thread slowed the network's steps."""

import os

import pytest
import torch
from monai.bundle import ConfigParser
from monai.data import ThreadDataLoader

from bundle_tools.bundle_cli import REPO_ROOT
from bundle_tools.registry import bundle_names

CPUS = 16  # the machine the test pretends to be on
BESIDE_A_GPU = {
    "mnist_classification": 8,
    "drive_vessel_segmentation": 8,
    "liver_ct_coarse_segmentation": 12,
    "liver_ct_fine_segmentation": 12,
}
THREAD_BESIDE_A_GPU = ["brain_mri_lgg_segmentation", "liver_ct_fine_segmentation", "mnist_classification"]
ALL = bundle_names()  # every bundle folder: a new one is checked too


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
    workers = BESIDE_A_GPU[bundle] if cuda else 0
    assert loader.num_workers == workers
    assert loader.persistent_workers is (cuda and workers > 0)


@pytest.mark.parametrize("bundle", sorted(BESIDE_A_GPU))
@pytest.mark.parametrize("workers", [0, 2])
def test_loader_processes_set_by_hand_beside_a_gpu(bundle, workers, monkeypatch):
    loader = _training_loader(bundle, monkeypatch, True, num_workers=workers)
    assert loader.num_workers == workers and loader.persistent_workers is (workers > 0)  # none: nothing to keep


@pytest.mark.parametrize("bundle", ALL)
@pytest.mark.parametrize("cuda", [False, True])
def test_loader_thread_beside_a_gpu_only(bundle, cuda, monkeypatch):
    loader = _training_loader(bundle, monkeypatch, cuda)
    assert isinstance(loader, ThreadDataLoader) is (cuda and bundle in THREAD_BESIDE_A_GPU)
