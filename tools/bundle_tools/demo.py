"""The main job a newcomer runs first: every bundle's whole life on data the project makes itself.

For each bundle: write a small dataset in its public layout (MNIST: scikit-learn's real digits; DRIVE: synthetic
fundus pictures; LGG: synthetic brain-MRI patients; liver: synthetic abdominal CTs), train a few epochs on it,
evaluate the fresh and the shipped weights on its default evaluation split, run inference with the shipped weights,
export them to TorchScript and check it against the eager network.
Each step is the bundle's documented ``python -m monai.bundle`` command.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import time
from pathlib import Path

import numpy as np

from .bundle_cli import REPO_ROOT, bundle_args, run_bundle
from .registry import bundle_names

MNIST_BUNDLE = REPO_ROOT / "bundles" / "mnist_classification"
DRIVE_BUNDLE = REPO_ROOT / "bundles" / "drive_vessel_segmentation"
LGG_BUNDLE = REPO_ROOT / "bundles" / "brain_mri_lgg_segmentation"
LIVER_COARSE_BUNDLE = REPO_ROOT / "bundles" / "liver_ct_coarse_segmentation"
LIVER_FINE_BUNDLE = REPO_ROOT / "bundles" / "liver_ct_fine_segmentation"

__all__ = ["run_demo", "bundle_life", "mnist_demo", "drive_demo", "lgg_demo", "liver_demo"]


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

    from bundle_common.data.mnist import load_mnist_split

    images, labels, source = load_mnist_split(dataset_dir, "test")
    input_dir.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        picture = Image.fromarray(images[i]).resize((64, 64), Image.BILINEAR)
        if i % 2:
            picture = Image.fromarray(255 - np.asarray(picture))
        picture.save(input_dir / f"digit_{i}_label_{labels[i]}.png")
    (input_dir / source.name).write_bytes(source.read_bytes())


def bundle_life(bundle: Path, data: Path, work: Path, epochs: int, inputs: Path, sample_shape, **train_options) -> dict:
    """Train ``epochs`` on ``data``; evaluate the fresh and the shipped weights (the fold ensemble where a bundle ships
    one) on its default split; infer on ``inputs`` with them; export ``models/model.pt`` to TorchScript and compare with
    eager on a random input.

    Returns the two ``metrics.json``, the training's wall time, the inference folder and the export's difference.
    """
    import torch

    from .export import torchscript_max_abs_diff

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
        **train_options,
    )
    figures = {}
    for name, ckpt in (("shipped", None), ("trained", fresh / "model.pt")):
        out = work / f"eval_{name}"
        run_bundle_command(
            "run",
            config_file=configs / "evaluate.yaml",
            bundle_root=bundle,
            dataset_dir=data,
            output_dir=out,
            **({} if ckpt is None else {"ckpt_path": ckpt}),  # the shipped models: the fold ensemble where shipped
            quiet=True,
        )
        figures[name] = json.loads((out / "metrics.json").read_text())
    inference, predictions = configs / "inference.yaml", work / "predictions"
    run_bundle_command(
        "run", config_file=inference, bundle_root=bundle, input_dir=inputs, output_dir=predictions, quiet=True
    )
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
    sample = torch.rand(*sample_shape, generator=torch.Generator().manual_seed(0))
    diff = torchscript_max_abs_diff(inference, weights, ts_file, sample)
    return {"figures": figures, "train_seconds": seconds, "predictions": predictions, "torchscript_diff": diff}


def mnist_demo(work_dir: Path, epochs: int) -> dict:
    """The MNIST bundle on scikit-learn's digits written as an MNIST-layout dataset."""
    from .data.digits import write_digits_dataset

    work, data = work_dir / "mnist_classification", work_dir / "data" / "digits_mnist"
    counts = write_digits_dataset(data)
    print(f"[mnist] dataset: {counts['train']} training + {counts['test']} test digits (scikit-learn) in {data}")
    _write_png_inputs(data, work / "inputs")
    life = bundle_life(MNIST_BUNDLE, data, work, epochs, work / "inputs", (8, 1, 28, 28), progress_bar=True)
    with open(life["predictions"] / "predictions.csv") as f:
        rows = list(csv.DictReader(f))
    pngs = [r for r in rows if r["file"].endswith(".png")]
    right = sum(r["file"].split("_label_")[1][0] == r["digit"] for r in pngs)
    return {
        f"train {epochs} epochs ({life['train_seconds']:.0f} s), test accuracy": life["figures"]["trained"]["accuracy"],
        "shipped weights, test accuracy on the digits": life["figures"]["shipped"]["accuracy"],
        "inference rows written (PNGs + one IDX file)": len(rows),
        "PNG digits classified correctly": f"{right}/{len(pngs)}",
        "TorchScript vs eager, max abs difference": f"{life['torchscript_diff']:.1e}",
        "outputs": str(work),
    }


def drive_demo(work_dir: Path, epochs: int) -> dict:
    """The DRIVE bundle on a small synthetic DRIVE-layout set (full-size pictures)."""
    from .data.synthetic_drive import write_synthetic_drive

    work, data = work_dir / "drive_vessel_segmentation", work_dir / "data" / "drive_synthetic"
    counts = write_synthetic_drive(data, n_training=5, n_test=2, seed=0)
    print(f"[drive] dataset: {counts['training']} training + {counts['test']} test synthetic fundus pictures in {data}")
    life = bundle_life(
        DRIVE_BUNDLE, data, work, epochs, data / "test" / "images", (1, 3, 192, 192), progress_bar=True, val_interval=1
    )
    shipped, trained = life["figures"]["shipped"], life["figures"]["trained"]
    return {
        f"train {epochs} epochs ({life['train_seconds']:.0f} s), test dice / auc in FOV": (
            f"{trained['dice']:.4f} / {trained['auc']:.4f}"
        ),
        "shipped weights on the synthetic test pictures, dice / auc": f"{shipped['dice']:.4f} / {shipped['auc']:.4f}",
        "PNGs written (probability, mask, overlay)": len(list(life["predictions"].glob("*.png"))),
        "TorchScript vs eager, max abs difference": f"{life['torchscript_diff']:.1e}",
        "outputs": str(work),
    }


def lgg_demo(work_dir: Path, epochs: int) -> dict:
    """The LGG bundle on a small synthetic kaggle_3m-layout set (6 patients of 12 slices, each with a tumour, as every
    patient of kaggle_3m has one)."""
    from .data.synthetic_lgg import write_synthetic_lgg

    work, data = work_dir / "brain_mri_lgg_segmentation", work_dir / "data" / "lgg_synthetic" / "kaggle_3m"
    shutil.rmtree(data, ignore_errors=True)  # the demo's own copy from an earlier run
    patients = write_synthetic_lgg(data, n_patients=6, n_slices=12, seed=0)
    print(f"[lgg] dataset: {len(patients)} synthetic patients of 12 slices in {data}")
    life = bundle_life(LGG_BUNDLE, data, work, epochs, data, (1, 3, 256, 256), progress_bar=True, val_interval=1)
    shipped, trained = life["figures"]["shipped"], life["figures"]["trained"]
    return {
        f"train {epochs} epochs ({life['train_seconds']:.0f} s), validation patient's DSC": trained[
            "dsc_per_volume_mean"
        ],
        "shipped weights on the synthetic validation patient, DSC": shipped["dsc_per_volume_mean"],
        "patients segmented (masks, overlays, GIF)": len(list(life["predictions"].glob("*/*.gif"))),
        "TorchScript vs eager, max abs difference": f"{life['torchscript_diff']:.1e}",
        "outputs": str(work),
    }


def liver_demo(work_dir: Path, epochs: int) -> dict:
    """Both liver bundles on a small synthetic Task03_Liver-layout set (5 CTs of 96 x 96 x 40 voxels at 4 x 4 x 5 mm:
    coarse voxels, but a body of a real abdomen's size, which the shipped models need); the fine bundle's evaluate and
    inference run the whole cascade with the shipped coarse model."""
    from .data.synthetic_liver import write_synthetic_liver

    data = work_dir / "data" / "liver_synthetic" / "Task03_Liver"
    shutil.rmtree(data, ignore_errors=True)  # the demo's own copy from an earlier run
    cases = write_synthetic_liver(data, n_cases=5, shape=(96, 96, 40), spacing=(4.0, 4.0, 5.0), seed=0)
    print(f"[liver] dataset: {len(cases)} synthetic CTs in {data}")
    small = {"num_workers": 0, "val_interval": 1, "progress_bar": True}
    coarse = bundle_life(
        LIVER_COARSE_BUNDLE, data, work_dir / "liver_ct_coarse_segmentation", epochs, data, (1, 1, 96, 96, 96), **small
    )
    fine = bundle_life(
        LIVER_FINE_BUNDLE, data, work_dir / "liver_ct_fine_segmentation", epochs, data, (1, 1, 96, 96, 96), **small
    )
    pair = "{:.4f} / {:.4f}".format
    return {
        f"coarse: train {epochs} epochs ({coarse['train_seconds']:.0f} s), liver Dice": coarse["figures"]["trained"][
            "liver_dice"
        ],
        "coarse: shipped weights, liver Dice": coarse["figures"]["shipped"]["liver_dice"],
        f"cascade: fine trained {epochs} epochs ({fine['train_seconds']:.0f} s), liver / tumour Dice": pair(
            fine["figures"]["trained"]["liver_dice"], fine["figures"]["trained"]["tumor_dice"]
        ),
        "cascade: shipped weights, liver / tumour Dice": pair(
            fine["figures"]["shipped"]["liver_dice"], fine["figures"]["shipped"]["tumor_dice"]
        ),
        "label maps written (NIfTI)": len(list(fine["predictions"].glob("*_seg.nii.gz"))),
        "TorchScript vs eager, max abs difference (coarse, fine)": "{:.1e}, {:.1e}".format(
            coarse["torchscript_diff"], fine["torchscript_diff"]
        ),
        "outputs": str(work_dir / "liver_ct_fine_segmentation"),
    }


# each demo: (its title in the summary, the bundles it runs, the function); every bundle folder is in one of them
DEMOS = (
    ("mnist_classification", ("mnist_classification",), mnist_demo),
    ("drive_vessel_segmentation", ("drive_vessel_segmentation",), drive_demo),
    ("brain_mri_lgg_segmentation", ("brain_mri_lgg_segmentation",), lgg_demo),
    (
        "liver_ct_segmentation (coarse, fine, cascade)",
        ("liver_ct_coarse_segmentation", "liver_ct_fine_segmentation"),
        liver_demo,
    ),
)


TRUST_NOTE = (
    "Note: each training below prints MONAI's warning that a bundle config calls any importable `_target_` and "
    "passes every `$` value to Python's eval(). It means running a bundle runs its author's code. The configs here "
    "are this repository's own, which you have in front of you, so the demo runs them; read a bundle from anywhere "
    "else before you run it (the README's zoo section: signed indexes, and what they do not protect against)."
)


def run_demo(work_dir: str | os.PathLike = "runs/demo", epochs: int = 3) -> dict:
    """Run every bundle's demo under ``work_dir`` (relative to the repository root) and print a summary. A bundle
    folder that no demo runs is an error, before anything runs."""
    missing = sorted(set(bundle_names()) - {name for _, names, _ in DEMOS for name in names})
    if missing:
        raise ValueError(f"no demo runs {missing}: add one to bundle_tools.demo.DEMOS")
    work_dir = (REPO_ROOT / work_dir).resolve()
    print(TRUST_NOTE + "\n", flush=True)
    start = time.perf_counter()
    summary = {title: demo(work_dir, epochs) for title, _, demo in DEMOS}
    print(f"\n=== summary ({time.perf_counter() - start:.0f} s) ===")
    for bundle, figures in summary.items():
        print(bundle)
        for name, value in figures.items():
            print(f"  {name}: {value:.4f}" if isinstance(value, float) else f"  {name}: {value}")
    return summary
