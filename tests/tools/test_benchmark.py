"""Smoke test of tools/benchmark.py: it runs on tiny data and writes its two files. Speed itself is never asserted."""

import json
import math
import subprocess
import sys

import pytest
import torch

from bundle_tools import benchmark
from bundle_tools.benchmark import (
    FIELDS,
    _measure_training,
    _prepared_trainer,
    _sliding_window_of,
    run_suite,
    run_time_to_quality,
)
from bundle_tools.bundle_cli import REPO_ROOT


def test_quick_benchmark_writes_json_and_markdown(tmp_path):
    # MNIST switches metadata tracking off in ``initialize``; the coarse liver bundle only after its caches are filled
    # (a ``run`` step), so its plain pipeline and the benchmark's own re-parsing need metadata back on
    names = ["mnist_classification", "liver_ct_coarse_segmentation"]
    command = [sys.executable, str(REPO_ROOT / "tools" / "benchmark.py"), "--quick", "--out", str(tmp_path)]
    result = subprocess.run([*command, "--bundles", str(names)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((tmp_path / "benchmark.json").read_text())
    assert report["quick"] is True and report["device"].startswith(("cpu: ", "cuda: "))
    assert report["torch_compile"] is False  # eager unless --compile
    table = (tmp_path / "benchmark.md").read_text().splitlines()
    assert table[0].startswith(f"Device: {report['device']}. Command: `python tools/benchmark.py --quick --out")
    assert table[2] == "| bundle | " + " | ".join(FIELDS) + " |"
    for row, name in enumerate(names, start=4):
        figures = report["bundles"][name]
        assert "error" not in figures, figures
        assert figures["torch_compile"] is False
        required = ("train_samples_per_s", "reference_samples_per_s", "train_ratio", "data_wait_fraction")
        required += (
            "epoch_s_cached",
            "epoch_s_plain",
            "cache_mb",
            "infer_ms_eager",
            "infer_ms_torchscript",
            "peak_rss_mb",
        )
        assert all(figures[k] > 0 for k in required), figures
        ratio = round(figures["train_samples_per_s"] / figures["reference_samples_per_s"], 3)
        assert figures["train_ratio"] == ratio
        assert 0 < figures["data_wait_fraction"] < 1
        assert len(figures["train_ratio_per_epoch"]) == 1 and figures["train_ratio_per_epoch"][0] > 0  # --quick: one
        if report["device"].startswith("cpu: "):  # the steps by phase, on a CPU only
            phases = {"data_wait", "prepare_batch", "forward_and_loss", "backward", "optimizer", "other"}
            assert set(figures["step_ms"]["trainer"]) == phases
            assert figures["step_ms"]["reference"]["backward"] > 0 and figures["step_ms"]["trainer"]["backward"] > 0
        assert table[row].startswith(f"| {name} | ") and table[row].count("|") == len(FIELDS) + 2


def test_overrides_reach_the_measured_train_config(tmp_path):
    report = run_suite(tmp_path, quick=True, bundles=["mnist_classification"], overrides={"batch_size": 50})
    figures = report["bundles"]["mnist_classification"]
    assert "error" not in figures, figures
    assert report["overrides"] == figures["overrides"] == {"batch_size": 50}
    assert report["command"].endswith(" --overrides \"{'batch_size': 50}\"")
    # one measured epoch in batches of 50: about 1600 training digits make 33 steps (the default batch, 128: 13)
    assert figures["measured_iterations"] == math.ceil(figures["measured_samples"] / 50) > 13


def test_prepared_trainer_runs_every_run_step_but_the_last():
    from monai.bundle import ConfigParser

    parser = ConfigParser(
        {
            "steps": "$[]",
            "initialize": ["$@steps.append('initialize')"],
            "run": ["$@steps.append('prepare')", "$@steps.append('switch off')", "$@train#trainer.clear()"],
            "train": {"trainer": "@steps"},
        }
    )
    trainer = _prepared_trainer(parser)
    assert trainer == ["initialize", "prepare", "switch off"]  # the last step (which would train) did not run


def test_sliding_window_sweep_skips_slice_inferers():
    from monai.inferers import SimpleInferer, SliceInferer, SlidingWindowInferer

    from bundle_common.inferers import FlipAveragingInferer

    window = SlidingWindowInferer((64, 64), 4, 0.25)
    assert _sliding_window_of(window) is window
    assert _sliding_window_of(FlipAveragingInferer(window, flip_axes=[[], [1]])) is window
    slices = SliceInferer(roi_size=(256, 256), spatial_dim=2)  # a SlidingWindowInferer whose window is a slice
    assert _sliding_window_of(slices) is None
    assert _sliding_window_of(FlipAveragingInferer(slices, flip_axes=[[], [1]])) is None
    assert _sliding_window_of(SimpleInferer()) is None


def test_reference_steps_after_each_measured_epoch(monkeypatch):
    """The reference loop trains between the trainer's measured epochs, as many steps as each had (one warm-up step
    first), never during the warm-up epoch: both rates come from the same minutes."""
    from ignite.engine import Events
    from monai.bundle import ConfigParser

    parser = ConfigParser(
        {
            "network_def": {"_target_": "torch.nn.Linear", "in_features": 4, "out_features": 2},
            "network": "@network_def",
            "loss": {"_target_": "torch.nn.CrossEntropyLoss"},
            "optimizer": {"_target_": "torch.optim.SGD", "params": "$@network.parameters()", "lr": 0.1},
            "data": "$[{'image': torch.randn(4), 'label': torch.tensor(i % 2)} for i in range(12)]",
            "train": {
                "dataloader": {"_target_": "DataLoader", "dataset": "@data", "batch_size": 4},
                "trainer": {
                    "_target_": "SupervisedTrainer",
                    "max_epochs": 4,
                    "device": "$torch.device('cpu')",
                    "train_data_loader": "@train#dataloader",
                    "network": "@network",
                    "loss_function": "@loss",
                    "optimizer": "@optimizer",
                },
            },
            "initialize": [],
            "run": ["$@train#trainer.run()"],
        }
    )
    events = []
    prepared, reference_loop = benchmark._prepared_trainer, benchmark._reference_loop

    def recording_trainer(parser):
        trainer = prepared(parser)
        trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda engine: events.append(engine.state.epoch))
        return trainer

    def recording_reference(*args):
        step = reference_loop(*args)
        return lambda image, label, phases=None: (events.append("reference"), step(image, label, phases))

    monkeypatch.setattr(benchmark, "_prepared_trainer", recording_trainer)
    monkeypatch.setattr(benchmark, "_reference_loop", recording_reference)
    trainer, clock, reference = _measure_training(parser, 1, 8, torch.device("cpu"))
    assert events == [1] * 3 + [2] * 3 + ["reference"] * 4 + [3] * 3 + ["reference"] * 3 + [4] * 3 + ["reference"] * 3
    assert clock["iterations"] == 9 and clock["samples"] == reference["samples"] == 36
    # the measured steps by phase, each timed, adding up to less than the measured time
    assert set(clock["phases"]) == {"prepare_batch", "forward_and_loss", "backward", "optimizer"}
    assert all(v > 0 for v in clock["phases"].values()) and sum(clock["phases"].values()) < clock["time"]
    assert set(reference["phases"]) == {"forward_and_loss", "backward", "optimizer"}
    assert all(v > 0 for v in reference["phases"].values()) and sum(reference["phases"].values()) < reference["time"]
    step_ms = benchmark._step_ms(clock, reference)
    assert sum(step_ms["trainer"].values()) == pytest.approx(1000 * clock["time"] / 9, abs=0.05)
    assert len(clock["epoch_rates"]) == len(reference["epoch_rates"]) == 3


def test_time_to_quality_writes_json_and_markdown(tmp_path):
    from monai.data import get_track_meta

    from bundle_common.data.idx import write_idx
    from bundle_tools.data.digits import digits_as_mnist

    images, labels = digits_as_mnist()  # the real-data layout under data_root, small
    write_idx(tmp_path / "data" / "mnist" / "train-images-idx3-ubyte", images)
    write_idx(tmp_path / "data" / "mnist" / "train-labels-idx1-ubyte", labels)
    report = run_time_to_quality(
        tmp_path / "out", tmp_path / "data", ["mnist_classification"], max_minutes=1e-4, overrides={"val_interval": 1}
    )
    assert get_track_meta()  # MNIST's train.yaml switched it off; the next bundle may need it (loading, spacing)
    figures = report["bundles"]["mnist_classification"]
    assert figures["epochs"] == 1  # out of time after the first epoch
    assert 0 <= figures["best_figure"] <= 1 and figures["settings"]["val_interval"] == 1
    assert figures["cache_mb"] > 0.5  # the training digits, as 28 x 28 float32 images
    assert report["command"].endswith(" --overrides \"{'val_interval': 1}\"")
    table = (tmp_path / "out" / "time_to_quality.md").read_text().splitlines()
    assert table[2].endswith("| seconds trained | cache MiB | device |")
    assert table[4].startswith("| mnist_classification | 0.99 | ") and f"| {figures['cache_mb']} |" in table[4]
