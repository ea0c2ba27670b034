"""Interruption and determinism, through ``python -m monai.bundle run`` as a user runs it: a training killed with
SIGKILL mid-epoch and resumed with ``--resume True`` ends exactly where an uninterrupted one does, and two runs with
the same seed give bit-identical weights."""

from __future__ import annotations

import re
import signal
from pathlib import Path

import pytest
import torch

from bundle_tools.bundle_cli import REPO_ROOT, run_bundle

BUNDLE = REPO_ROOT / "bundles" / "mnist_classification"
EPOCHS = 4
BATCH = 32  # 216 training digits of the tiny set: 7 iterations an epoch
KILL_AT = 17  # the third iteration of epoch 3, after the checkpoint of epoch 2


def train(dataset_dir: Path, work: Path, *extra_configs: Path, **options):
    configs = [str(BUNDLE / "configs" / "train.yaml"), *map(str, extra_configs)]
    return run_bundle(
        "run",
        config_file=configs if extra_configs else configs[0],
        bundle_root=BUNDLE,
        dataset_dir=dataset_dir,
        ckpt_dir=work / "models",
        output_dir=work / "runs",
        epochs=EPOCHS,
        batch_size=BATCH,
        progress_bar=False,
        **options,
    )


def validation_figures(log: str) -> list[float]:
    """The val_accuracy of every epoch, as the validator's StatsHandler printed it."""
    return [float(v) for v in re.findall(r"Metrics -- val_accuracy: ([0-9.]+)", log)]


def weights(path: Path) -> dict[str, torch.Tensor]:
    state = torch.load(path, map_location="cpu", weights_only=True)
    return state["model"] if "model" in state and isinstance(state["model"], dict) else state


def assert_bit_identical(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    different = [k for k in a if not torch.equal(a[k], b[k])]
    assert not different, f"{len(different)} tensors differ, e.g. {different[:3]}"


@pytest.fixture(scope="module")
def uninterrupted(tiny_mnist_dir, tmp_path_factory):
    work = tmp_path_factory.mktemp("uninterrupted")
    return work, train(tiny_mnist_dir, work)


def test_two_runs_with_the_same_seed_give_bit_identical_weights(uninterrupted, tiny_mnist_dir, tmp_path):
    first, first_log = uninterrupted
    second_log = train(tiny_mnist_dir, tmp_path)
    figures = validation_figures(first_log.stdout + first_log.stderr)
    assert len(figures) == EPOCHS
    assert validation_figures(second_log.stdout + second_log.stderr) == figures
    assert_bit_identical(weights(first / "models" / "model.pt"), weights(tmp_path / "models" / "model.pt"))
    assert_bit_identical(weights(first / "runs" / "last.pt"), weights(tmp_path / "runs" / "last.pt"))


def test_sigkill_mid_epoch_then_resume_ends_where_an_uninterrupted_run_ends(uninterrupted, tiny_mnist_dir, tmp_path):
    reference, reference_log = uninterrupted
    kill = tmp_path / "kill.yaml"
    kill.write_text(
        f"run:\n"
        f'- "$@train#trainer.add_event_handler(ignite.engine.Events.ITERATION_COMPLETED(once={KILL_AT}), '
        f'lambda engine: os.kill(os.getpid(), {int(signal.SIGKILL)}))"\n'
        f"- $@train#trainer.run()\n"
    )
    killed = train(tiny_mnist_dir, tmp_path, kill, check=False)
    assert killed.returncode == -signal.SIGKILL
    last = torch.load(tmp_path / "runs" / "last.pt", map_location="cpu", weights_only=True)
    assert last["trainer"]["epoch"] == (KILL_AT - 1) // 7  # the last completed epoch, intact
    assert [p.name for p in (tmp_path / "runs").iterdir() if p.name.endswith(".tmp")] == []

    resumed = train(tiny_mnist_dir, tmp_path, resume=True)
    log = resumed.stdout + resumed.stderr
    assert f"resumed from {tmp_path / 'runs' / 'last.pt'} after epoch 2" in log
    assert len(validation_figures(log)) == EPOCHS - 2  # only the epochs that were left
    reference_figures = validation_figures(reference_log.stdout + reference_log.stderr)
    assert validation_figures(log) == reference_figures[2:]
    assert_bit_identical(weights(reference / "runs" / "last.pt"), weights(tmp_path / "runs" / "last.pt"))
    assert_bit_identical(weights(reference / "models" / "model.pt"), weights(tmp_path / "models" / "model.pt"))
    final = torch.load(tmp_path / "runs" / "last.pt", map_location="cpu", weights_only=True)
    assert final["trainer"]["epoch"] == EPOCHS
    assert final["validator"]["best_metric"] == pytest.approx(max(reference_figures), abs=5e-5)


def test_resume_without_a_checkpoint_names_the_missing_file(tiny_mnist_dir, tmp_path):
    result = train(tiny_mnist_dir, tmp_path, resume=True, check=False)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: {tmp_path / 'runs' / 'last.pt'}: no checkpoint to resume from (train without --resume first)."
    )


@pytest.mark.parametrize("bundle", sorted(p.name for p in (REPO_ROOT / "bundles").iterdir() if p.is_dir()))
def test_augmentation_on_the_batch_is_saved_for_resuming(bundle):
    # a trainer's prepare_batch that draws random warps must resume its draws, as the loader's transforms do
    from monai.bundle import ConfigParser

    config = ConfigParser.load_config_file(REPO_ROOT / "bundles" / bundle / "configs" / "train.yaml")
    if "prepare_batch" not in config["train"]:
        pytest.skip(f"{bundle} augments in its data loader only")
    assert config["train"]["trainer"]["prepare_batch"] == "@train#prepare_batch"
    [checkpoint] = [h for h in config["train"]["handlers"] if h["_target_"].endswith("ResumableCheckpoint")]
    assert "@train#prepare_batch" in checkpoint["save_dict"].values()
