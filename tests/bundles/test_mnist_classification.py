"""The MNIST bundle end to end through ``python -m monai.bundle``, as a user runs it, on a tiny generated dataset."""

import json
from functools import partial

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from bundle_tools.bundle_cli import REPO_ROOT, run_workflow
from tests.conftest import (
    assert_shipped_figures_reproduce,
    assert_tracked,
    export_round_trip_diff,
    read_csv_rows,
    tracking_options,
)

BUNDLE = REPO_ROOT / "bundles" / "mnist_classification"
CONFIGS = BUNDLE / "configs"
bundle_run = partial(run_workflow, BUNDLE)  # bundle_run("evaluate", dataset_dir=..., ...)


@pytest.fixture(scope="module")
def trained(tiny_mnist_dir, tmp_path_factory):
    """Two epochs of train.yaml on the tiny set, checkpoints and logs in a temporary folder."""
    work = tmp_path_factory.mktemp("mnist_train")
    result = bundle_run(
        "train",
        dataset_dir=tiny_mnist_dir,
        epochs=2,
        ckpt_dir=work / "ckpt",
        output_dir=work / "logs",
        **tracking_options(work),
        progress_bar=False,
    )
    return work, result


def test_train_keeps_best_checkpoint_and_logs(trained):
    work, result = trained
    assert sorted(p.name for p in (work / "ckpt").iterdir()) == ["model.pt"]
    state = torch.load(work / "ckpt" / "model.pt", map_location="cpu", weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in state.values()) and len(state) > 10
    logs = sorted(p.name for p in (work / "logs").iterdir())
    assert any(name.startswith("events.out.tfevents") for name in logs)
    assert "last.pt" in logs and torch.load(work / "logs" / "last.pt", weights_only=True)["trainer"]["epoch"] == 2
    assert "Epoch[2] Metrics -- val_accuracy" in result.stdout + result.stderr


@pytest.mark.parametrize("split, n_cases", [("test", 60), ("validation", 24), ("all", 300)])
def test_evaluate_writes_metrics_and_per_case(trained, tiny_mnist_dir, tmp_path, split, n_cases):
    work, _ = trained
    bundle_run(
        "evaluate",
        dataset_dir=tiny_mnist_dir,
        output_dir=tmp_path,
        eval_split=split,
        ckpt_path=work / "ckpt" / "model.pt",
    )
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    rows = read_csv_rows(tmp_path / "per_case.csv")
    assert set(metrics) == {"accuracy", "n_cases"} and metrics["n_cases"] == n_cases == len(rows)
    assert metrics["accuracy"] == pytest.approx(np.mean([int(r["correct"]) for r in rows]))
    assert all(r["prediction"] in "0123456789" and 0.0 < float(r["probability"]) <= 1.0 for r in rows)


def test_evaluate_shipped_weights_default_checkpoint(tiny_mnist_dir, tmp_path):
    bundle_run(
        "evaluate",
        dataset_dir=tiny_mnist_dir,
        output_dir=tmp_path,
    )
    assert json.loads((tmp_path / "metrics.json").read_text())["accuracy"] > 0.5  # real digits, not MNIST's


def test_evaluate_on_a_missing_folder_fails_clearly(tmp_path):
    result = bundle_run(
        "evaluate",
        dataset_dir=tmp_path / "no_such_dir",
        output_dir=tmp_path / "out",
        check=False,
    )
    assert result.returncode != 0
    assert "no_such_dir: MNIST dataset folder does not exist" in result.stderr
    assert not (tmp_path / "out").exists()


def test_inference_on_pictures_and_idx(tiny_mnist_dir, tmp_path):
    from bundle_common.data.mnist import load_mnist_split

    images, labels, _ = load_mnist_split(tiny_mnist_dir, "test")
    inputs = tmp_path / "in"
    inputs.mkdir()
    Image.fromarray(images[0]).resize((64, 64)).save(inputs / "big.png")
    Image.fromarray(255 - images[1]).save(inputs / "inverted.jpg", quality=95)
    (inputs / "t10k-images-idx3-ubyte").write_bytes((tiny_mnist_dir / "t10k-images-idx3-ubyte").read_bytes())
    bundle_run("inference", input_dir=inputs, output_dir=tmp_path / "out")
    rows = read_csv_rows(tmp_path / "out" / "predictions.csv")
    assert list(rows[0]) == ["file", "index", "digit", "probability"]
    assert len(rows) == 2 + 60
    assert [r["file"] for r in rows[:2]] == ["big.png", "inverted.jpg"]
    assert [int(r["index"]) for r in rows[2:]] == list(range(60))
    idx_digits = np.array([int(r["digit"]) for r in rows[2:]])
    assert (idx_digits == labels).mean() > 0.5


def test_torchscript_export_round_trips(tmp_path):
    ts_file = tmp_path / "model.ts"
    inputs = torch.rand(16, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    assert export_round_trip_diff(BUNDLE, ts_file, inputs) <= 1e-5
    extra = {"metadata.json": ""}
    torch.jit.load(str(ts_file), _extra_files=extra)
    assert (
        json.loads(extra["metadata.json"])["version"] == json.loads((CONFIGS / "metadata.json").read_text())["version"]
    )


def test_workflows_share_network_and_intensity_definitions():
    """The three workflow files each stand alone (see README, Layout); the blocks they share must not drift."""
    configs = {
        name: yaml.safe_load((CONFIGS / f"{name}.yaml").read_text()) for name in ("train", "evaluate", "inference")
    }
    for key in ("network_def", "intensity_transforms", "num_classes", "device", "amp"):
        assert configs["train"][key] == configs["evaluate"][key] == configs["inference"][key], key


def test_shipped_weights_match_network_and_size():
    path = BUNDLE / "models" / "model.pt"
    assert path.stat().st_size < 25 * 2**20
    from bundle_tools.export import load_network

    network = load_network(CONFIGS / "inference.yaml", path)
    assert network(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


def test_shipped_figures_reproduce_on_the_shared_data(tmp_path):
    """metadata.json's eval_metrics, and the same figures in docs/README.md, are what the evaluate command
    shown there prints for the shipped weights, on the 6,000-image validation split (fixed seed) of MNIST's
    training files, which the shared folder holds (it has no t10k files)."""
    assert_shipped_figures_reproduce("mnist_classification", "mnist", tmp_path, eval_split="validation")


def test_train_and_evaluate_are_tracked_with_mlflow(trained, tiny_mnist_dir, tmp_path):
    """``--tracking mlflow`` (MONAI's switch; the ``tracking`` extra): the training run with its loss per step, its
    validation figure per epoch and its executed config, and the evaluate run with the figures of metrics.json."""
    pytest.importorskip("mlflow")
    work = trained[0]
    options = {k: v for k, v in tracking_options(work).items() if k != "save_execute_config"}
    bundle_run(
        "evaluate", dataset_dir=tiny_mnist_dir, ckpt_path=work / "ckpt" / "model.pt", output_dir=tmp_path, **options
    )
    assert_tracked(work, tmp_path, "val_accuracy", epochs=2)
