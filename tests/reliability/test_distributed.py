"""Data-parallel training as a user runs it: ``torchrun --standalone --nproc_per_node=2`` over ``train.yaml`` +
``multi_gpu_train.yaml``, two CPU processes (gloo) on tiny generated data. For MNIST and two segmentation bundles:

- the best validation figure of the 2-process run equals what one process computes with ``train.yaml``'s own
  validation evaluator on the saved ``model.pt``, on a validation split the ranks divide unevenly (MNIST, DRIVE) or
  that has fewer cases than there are ranks (LGG): the metric is reduced over all ranks, and the BatchNorm buffers
  the ranks validate with are rank 0's, the ones saved;
- exactly one best checkpoint and one of each other file was written (TensorBoard by one process only);
- rank 1 prints no log lines.

CUDA is hidden from the runs, so they use gloo on CPU on any machine.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import torch
from monai.bundle import ConfigParser

from bundle_tools.bundle_cli import REPO_ROOT, bundle_args

EPOCHS = 2
CASES = {  # bundle: (its options for the tiny run, the number of validation cases that gives)
    "mnist_classification": (
        # 27 validation digits: 14 on rank 0 in 2 batches, 13 on rank 1 in 1 batch
        {"batch_size": 32, "val_fraction": 0.1125, "validate#dataloader#batch_size": 13},
        27,
    ),
    "drive_vessel_segmentation": (
        {"val_interval": 1, "patches_per_image": 4, "batch_size": 4, "val_fraction": 0.4},  # 3 of 7 pictures
        3,
    ),
    "brain_mri_lgg_segmentation": (
        {"val_interval": 1, "slices_per_patient": 2, "batch_size": 4, "val_fraction": 0.2},  # 1 of 5 patients
        1,
    ),
}
LOG_LINE = re.compile(r" - (DEBUG|INFO) - ")
BEFORE_THE_CONFIG = "Setting logging properties based on config"  # MONAI logs it on every rank before any config runs


@pytest.fixture(scope="module")
def drive_dir(tmp_path_factory) -> Path:
    from bundle_tools.data.synthetic_drive import write_synthetic_drive

    folder = tmp_path_factory.mktemp("drive")
    write_synthetic_drive(folder, n_training=7, n_test=0, seed=0, height=128, width=120)
    return folder


@pytest.fixture(scope="module")
def lgg_dir(tmp_path_factory) -> Path:
    from bundle_tools.data.synthetic_lgg import write_synthetic_lgg

    folder = tmp_path_factory.mktemp("lgg") / "kaggle_3m"
    write_synthetic_lgg(folder, n_patients=5, n_slices=4, seed=0, n_without_tumour=1)
    return folder


DATASETS = {
    "mnist_classification": "tiny_mnist_dir",
    "drive_vessel_segmentation": "drive_dir",
    "brain_mri_lgg_segmentation": "lgg_dir",
}


def torchrun(bundle: Path, work: Path, **options) -> tuple[subprocess.CompletedProcess, dict[int, str]]:
    """Train ``bundle`` with 2 processes, writing to ``work/models`` and ``work/runs``; return the result and each
    rank's stdout + stderr (torchrun redirects them to files under ``work/torchrun``)."""
    configs = [str(bundle / "configs" / "train.yaml"), str(bundle / "configs" / "multi_gpu_train.yaml")]
    words = bundle_args(
        "run",
        config_file=configs,
        bundle_root=bundle,
        ckpt_dir=work / "models",
        output_dir=work / "runs",
        epochs=EPOCHS,
        progress_bar=False,
        **options,
    )
    launcher = ["--standalone", "--nproc_per_node=2", "--log-dir", str(work / "torchrun"), "--redirects", "3"]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["CUDA_VISIBLE_DEVICES"] = ""  # CPU processes and gloo, whatever the machine has
    env["GLOO_SOCKET_IFNAME"] = "lo"  # both ranks on this machine: gloo talks over the loopback interface only
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", *launcher, "-m", "monai.bundle", *words],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        env=env,
    )
    logs = {}
    for rank in (0, 1):
        files = sorted((work / "torchrun").glob(f"*/attempt_0/{rank}/std*.log"))
        logs[rank] = "".join(f.read_text() for f in files)
    if result.returncode != 0:
        ranks = "".join(f"\n--- rank {r}\n{text[-4000:]}" for r, text in logs.items())
        raise AssertionError(f"torchrun exited with {result.returncode}\n{result.stderr[-3000:]}{ranks}")
    return result, logs


def score_in_one_process(bundle: Path, weights: Path, scratch: Path, **options) -> tuple[str, float, int]:
    """Load ``weights`` into ``train.yaml``'s network and run its validation evaluator once, in this process on
    CPU: the key metric's name and value, and the number of validation cases."""
    parser = ConfigParser()
    parser.read_config(str(bundle / "configs" / "train.yaml"))
    parser.update(
        {
            "bundle_root": str(bundle),
            "device": "$torch.device('cpu')",
            "amp": False,
            "ckpt_dir": str(scratch / "models"),
            "output_dir": str(scratch / "runs"),
            "progress_bar": False,
            **{key: str(value) if isinstance(value, Path) else value for key, value in options.items()},
        }
    )
    parser.get_parsed_content("network").load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    evaluator = parser.get_parsed_content("validate#evaluator")
    evaluator.run()
    (name,) = parser["validate"]["key_metric"]
    return name, float(evaluator.state.metrics[name]), len(parser.get_parsed_content("validate#datalist"))


def assert_one_writer(folder: Path) -> None:
    """TensorBoard event files all from one process (``events.out.tfevents.<time>.<host>.<pid>.<n>``), and one file
    of each other kind (names equal but for their numbers), no temporary file left."""
    files = [p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()]
    events = [name for name in files if name.startswith("events.out.tfevents.")]
    others = [name for name in files if name not in events]
    assert events, files
    assert len({name.rsplit(".", 2)[1] for name in events}) == 1, events
    assert any(name.endswith(".pt") for name in others), files  # the per-epoch training checkpoint
    assert not [name for name in others if name.startswith(".") or name.endswith(".tmp")], files
    kinds = Counter(re.sub(r"\d+", "N", name) for name in others)
    assert all(count == 1 for count in kinds.values()), files


@pytest.mark.parametrize("name", list(CASES))
def test_two_cpu_processes_reduce_validation_over_ranks_and_only_rank0_writes(name, request, tmp_path):
    bundle = REPO_ROOT / "bundles" / name
    options, n_validation = CASES[name]
    options = {"dataset_dir": request.getfixturevalue(DATASETS[name]), **options}
    _, logs = torchrun(bundle, tmp_path / "ddp", **options)

    key, single, n_cases = score_in_one_process(bundle, tmp_path / "ddp" / "models" / "model.pt", tmp_path, **options)
    assert n_cases == n_validation  # odd: rank 0 validates one case more than rank 1, or rank 1 would have none
    best = re.findall(rf"Got new best metric of {key}: (\S+)", logs[0])
    assert best, logs[0][-3000:]
    assert float(best[-1]) == pytest.approx(single, rel=1e-6, abs=1e-7)
    assert len(re.findall(rf"Epoch\[\d+\] Metrics -- {key}: ", logs[0])) == EPOCHS

    assert sorted(p.name for p in (tmp_path / "ddp" / "models").iterdir()) == ["model.pt"]
    assert_one_writer(tmp_path / "ddp" / "runs")
    rank1_lines = [line for line in logs[1].splitlines() if LOG_LINE.search(line) and BEFORE_THE_CONFIG not in line]
    assert not rank1_lines, rank1_lines[:10]
