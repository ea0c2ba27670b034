"""The main job a newcomer runs first: every bundle's whole life on data the project makes itself.

For MNIST: write the scikit-learn digits as an MNIST-layout dataset, train a few epochs on it, evaluate the shipped
weights (and the fresh ones) on its test files, classify a folder of PNGs and an IDX file, export to TorchScript and
check it against the eager network. Each step is the bundle's documented ``python -m monai.bundle`` command.
"""

from __future__ import annotations

import csv
import json
import os
import time
from pathlib import Path

import numpy as np

from .bundle_cli import REPO_ROOT, bundle_args, run_bundle

MNIST_BUNDLE = REPO_ROOT / "bundles" / "mnist_classification"

__all__ = ["run_demo", "mnist_demo"]


def run_bundle_command(*args, quiet: bool = False, **options) -> float:
    """Print and run one ``python -m monai.bundle`` command (see :func:`run_bundle`); return its wall time.

    ``quiet`` hides the command's output unless it fails.
    """
    print("$ python -m monai.bundle " + " ".join(bundle_args(*args, **options)), flush=True)
    start = time.perf_counter()
    run_bundle(*args, capture=quiet, **options)
    return time.perf_counter() - start


def _write_png_inputs(dataset_dir: Path, input_dir: Path, count: int = 6) -> None:
    """A few test digits as PNGs a person might draw: 64x64, half of them dark ink on white paper."""
    from PIL import Image

    from .data.mnist import load_mnist_split

    images, labels, source = load_mnist_split(dataset_dir, "test")
    input_dir.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        picture = Image.fromarray(images[i]).resize((64, 64), Image.BILINEAR)
        if i % 2:
            picture = Image.fromarray(255 - np.asarray(picture))
        picture.save(input_dir / f"digit_{i}_label_{labels[i]}.png")
    (input_dir / source.name).write_bytes(source.read_bytes())


def mnist_demo(work_dir: Path, epochs: int) -> dict:
    from .data.digits import write_digits_dataset
    from .export import torchscript_max_abs_diff

    bundle, work = MNIST_BUNDLE, work_dir / "mnist_classification"
    data = work_dir / "data" / "digits_mnist"
    counts = write_digits_dataset(data)
    print(f"[mnist] dataset: {counts['train']} training + {counts['test']} test digits (scikit-learn) in {data}")
    configs, weights = bundle / "configs", bundle / "models" / "model.pt"
    fresh = work / "trained"
    seconds = run_bundle_command(
        "run",
        config_file=configs / "train.yaml",
        bundle_root=bundle,
        dataset_dir=data,
        epochs=epochs,
        ckpt_dir=fresh,
        output_dir=work / "train_logs",
        progress_bar=True,
    )
    figures = {}
    for name, ckpt in (("shipped", weights), ("trained here", fresh / "model.pt")):
        out = work / ("eval_shipped" if name == "shipped" else "eval_trained")
        run_bundle_command(
            "run",
            config_file=configs / "evaluate.yaml",
            bundle_root=bundle,
            dataset_dir=data,
            output_dir=out,
            ckpt_path=ckpt,
            quiet=True,
        )
        figures[name] = json.loads((out / "metrics.json").read_text())
    inputs, predictions = work / "inputs", work / "predictions"
    _write_png_inputs(data, inputs)
    inference = configs / "inference.yaml"
    run_bundle_command(
        "run", config_file=inference, bundle_root=bundle, input_dir=inputs, output_dir=predictions, quiet=True
    )
    with open(predictions / "predictions.csv") as f:
        rows = list(csv.DictReader(f))
    ts_file = work / "model.ts"
    run_bundle_command(
        "ckpt_export",
        "network_def",
        filepath=ts_file,
        ckpt_file=weights,
        meta_file=configs / "metadata.json",
        config_file=inference,
        bundle_root=bundle,
        quiet=True,
    )
    sample = np.random.default_rng(0).random((8, 1, 28, 28), dtype=np.float32)
    import torch

    diff = torchscript_max_abs_diff(inference, weights, ts_file, torch.from_numpy(sample))
    pngs = [r for r in rows if r["file"].endswith(".png")]
    right = sum(r["file"].split("_label_")[1][0] == r["digit"] for r in pngs)
    return {
        f"train {epochs} epochs on the digits ({seconds:.0f} s), test accuracy": figures["trained here"]["accuracy"],
        "shipped weights, test accuracy on the digits": figures["shipped"]["accuracy"],
        "inference rows written (PNGs + one IDX file)": len(rows),
        "PNG digits classified correctly": f"{right}/{len(pngs)}",
        "TorchScript vs eager, max abs difference": f"{diff:.1e}",
        "outputs": str(work),
    }


def run_demo(work_dir: str | os.PathLike = "runs/demo", epochs: int = 3) -> dict:
    """Run every bundle's demo under ``work_dir`` (relative to the repository root) and print a summary."""
    work_dir = (REPO_ROOT / work_dir).resolve()
    start = time.perf_counter()
    summary = {"mnist_classification": mnist_demo(work_dir, epochs)}
    print(f"\n=== summary ({time.perf_counter() - start:.0f} s) ===")
    for bundle, figures in summary.items():
        print(bundle)
        for name, value in figures.items():
            print(f"  {name}: {value:.4f}" if isinstance(value, float) else f"  {name}: {value}")
    return summary
