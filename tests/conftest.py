"""Shared fixtures: the real data beside the checkout (skipped when absent) and tiny generated datasets."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pytest

from bundle_tools.bundle_cli import REPO_ROOT

SHARED_DATA = Path(os.environ.get("SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


def shared_dataset(name: str) -> Path:
    """``../shared/data/<name>``, or skip the test when it is not there (a user's fresh clone)."""
    path = SHARED_DATA / name
    if not path.is_dir():
        pytest.skip(f"real data not available at {path}")
    return path


def load_bundle_script(bundle: str, name: str):
    """``bundles/<bundle>/scripts/<name>.py`` as a module (bundles' ``scripts`` packages share one name)."""
    import importlib.util

    path = REPO_ROOT / "bundles" / bundle / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"{bundle}_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read_csv_rows(path: str | os.PathLike) -> list[dict]:
    """The rows of a CSV file written by the bundles (per_case.csv, predictions.csv) as dicts of strings."""
    with open(path) as f:
        return list(csv.DictReader(f))


def decollating_engine():
    """An ignite engine whose batches and outputs look like a decollating MONAI evaluator's: each batch is
    ``{"items": [batch item, ...], "outputs": [output item, ...]}``, one pair a case."""
    from ignite.engine import Engine

    def step(engine, batch):
        engine.state.batch = batch["items"]
        return batch["outputs"]

    return Engine(step)


@pytest.fixture(scope="session")
def tiny_mnist_dir(tmp_path_factory) -> Path:
    """An MNIST-layout folder of 240 training and 60 test images: scikit-learn digits, the same IDX files."""
    from bundle_common.data.idx import write_idx
    from bundle_tools.data.digits import digits_as_mnist

    images, labels = digits_as_mnist()
    folder = tmp_path_factory.mktemp("tiny_mnist")
    write_idx(folder / "train-images-idx3-ubyte.gz", images[:240])
    write_idx(folder / "train-labels-idx1-ubyte.gz", labels[:240])
    write_idx(folder / "t10k-images-idx3-ubyte", images[240:300])  # raw, not gzipped: both are read
    write_idx(folder / "t10k-labels-idx1-ubyte", labels[240:300])
    return folder


@pytest.fixture()
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


def assert_shipped_figures_reproduce(bundle: str, data: str, output_dir: Path, **options) -> None:
    """Run the evaluate command that ``bundles/<bundle>/docs/README.md`` shows (``--dataset_dir
    ../shared/data/<data>`` with ``options``) and check that metadata.json's ``eval_metrics`` are what it prints
    (within 1e-4) and that each figure appears in the README; skip when the shared data is absent."""
    import json

    from bundle_tools.bundle_cli import bundle_args, run_workflow

    root = f"bundles/{bundle}"
    words = bundle_args(
        "run", config_file=f"{root}/configs/evaluate.yaml", bundle_root=root, dataset_dir=f"../shared/data/{data}"
    )
    readme = (REPO_ROOT / root / "docs" / "README.md").read_text()
    command = " ".join(["python -m monai.bundle", *words, *bundle_args(**options), "--output_dir"])
    assert command in " ".join(readme.replace("\\\n", " ").split())  # the command README shows, with its options
    run_workflow(REPO_ROOT / root, "evaluate", dataset_dir=shared_dataset(data), output_dir=output_dir, **options)
    metrics = json.loads((output_dir / "metrics.json").read_text())
    published = json.loads((REPO_ROOT / root / "configs" / "metadata.json").read_text())["eval_metrics"]
    assert published.keys() <= metrics.keys()
    for name, value in published.items():
        assert metrics[name] == pytest.approx(value, abs=1e-4), name
        assert f"{value:.4f}" in readme, name


def export_round_trip_diff(bundle: Path, ts_file: Path, inputs) -> float:
    """Export ``bundle``'s ``models/model.pt`` to ``ts_file`` with ``ckpt_export`` through its ``inference.yaml`` (the
    command its docs show) and return the largest difference between the eager network and the file on ``inputs``."""
    from bundle_tools.bundle_cli import run_bundle
    from bundle_tools.export import torchscript_max_abs_diff

    configs, weights = bundle / "configs", bundle / "models" / "model.pt"
    run_bundle(
        "ckpt_export",
        "network_def",
        filepath=ts_file,
        ckpt_file=weights,
        meta_file=configs / "metadata.json",
        config_file=configs / "inference.yaml",
        bundle_root=bundle,
    )
    return torchscript_max_abs_diff(configs / "inference.yaml", weights, ts_file, inputs)


def tracking_options(work: Path) -> dict:
    """``--tracking mlflow`` into ``work/mlruns.db``, the executed config saved as ``work/config_executed.json`` (and
    logged as an artifact), where mlflow is installed (the ``tracking`` extra); nothing where it is not."""
    import importlib.util

    if importlib.util.find_spec("mlflow") is None:
        return {}
    store = f"sqlite:///{Path(work).resolve()}/mlruns.db"
    return {"tracking": "mlflow", "tracking_uri": store, "save_execute_config": Path(work) / "config_executed.json"}


def assert_tracked(work: Path, eval_dir: Path, val_metric: str, epochs: int) -> None:
    """What MLflow holds after a train run with :func:`tracking_options` (``epochs`` epochs, validated each) and an
    evaluate run into the same store writing ``eval_dir/metrics.json``: the two runs; the training loss per step and
    ``val_metric`` per epoch; the executed config as an artifact; the evaluate figures as written in metrics.json."""
    import json

    mlflow = pytest.importorskip("mlflow")
    client = mlflow.MlflowClient(f"sqlite:///{Path(work).resolve()}/mlruns.db")
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    (train,) = [r for r in runs if "train_loss" in r.data.metrics]
    (evaluate,) = [r for r in runs if r.info.run_id != train.info.run_id]
    assert train.info.status == "FINISHED"
    losses = client.get_metric_history(train.info.run_id, "train_loss")
    assert len(losses) >= epochs and all(np.isfinite(m.value) for m in losses)
    assert [m.step for m in client.get_metric_history(train.info.run_id, val_metric)] == list(range(1, epochs + 1))
    artifacts = [a.path for a in client.list_artifacts(train.info.run_id)]
    assert "config_executed.json" in artifacts
    config = json.loads(Path(client.download_artifacts(train.info.run_id, "config_executed.json")).read_text())
    assert "network_def" in config and "train" in config
    figures = json.loads((Path(eval_dir) / "metrics.json").read_text())
    logged = evaluate.data.metrics
    for name, value in figures.items():
        if name != "n_cases" and "_ci95_" not in name and value is not None:
            assert logged[name] == pytest.approx(value, rel=1e-6), name
