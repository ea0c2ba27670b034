"""The collection's bundles, found in ``bundles/``, and what the tooling needs to know of each: one entry a bundle.

A folder of ``bundles/`` with a ``configs/metadata.json`` is a bundle (:func:`bundle_names`). :data:`TOOLING` tells the
benchmark, the time-to-quality runs and the tests how to make a small dataset in the bundle's layout, which folder of
``../shared/data`` holds its real data, the validation figure its training should reach there, and the shapes of one
inference case; ``tests/tools/test_registry.py`` fails while a bundle folder has no entry (docs/adding_a_bundle.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .bundle_cli import REPO_ROOT

__all__ = ["BUNDLES_DIR", "BundleTooling", "TOOLING", "bundle_dirs", "bundle_names"]

BUNDLES_DIR = REPO_ROOT / "bundles"


def bundle_dirs(root: str | Path = BUNDLES_DIR) -> list[Path]:
    """The bundle folders of ``root`` (those with a ``configs/metadata.json``), sorted by name."""
    return sorted(p for p in Path(root).iterdir() if (p / "configs" / "metadata.json").is_file())


def bundle_names(root: str | Path = BUNDLES_DIR) -> list[str]:
    return [p.name for p in bundle_dirs(root)]


def _mnist(folder: Path, quick: bool) -> Path:
    from bundle_common.data.idx import write_idx

    from .data.digits import digits_as_mnist

    images, labels = digits_as_mnist()  # 1797 real (scikit-learn) digits in the MNIST layout
    write_idx(folder / "train-images-idx3-ubyte", images)
    write_idx(folder / "train-labels-idx1-ubyte", labels)
    return folder


def _drive(folder: Path, quick: bool) -> Path:
    from .data.synthetic_drive import write_synthetic_drive

    write_synthetic_drive(folder, n_training=5 if quick else 10, n_test=1, seed=0)
    return folder


def _lgg(folder: Path, quick: bool) -> Path:
    from .data.synthetic_lgg import write_synthetic_lgg

    write_synthetic_lgg(folder / "kaggle_3m", n_patients=5 if quick else 10, n_slices=12, seed=0)
    return folder / "kaggle_3m"


def _liver(folder: Path, quick: bool) -> Path:
    from .data.synthetic_liver import write_synthetic_liver

    shape = (96, 96, 48) if quick else (192, 192, 96)
    write_synthetic_liver(folder, n_cases=5, shape=shape, spacing=(1.6, 1.6, 3.0), seed=0)
    return folder


@dataclass(frozen=True)
class BundleTooling:
    """What the tooling needs to know of one bundle.

    Args:
        make_data: ``make_data(folder, quick)`` writes a generated dataset in the bundle's layout under ``folder`` and
            returns the folder to pass as ``--dataset_dir`` (smaller when ``quick``).
        shared_data: the folder of ``../shared/data`` that holds the bundle's real data.
        quality: the validation figure (its key metric) that ``train.yaml`` should reach on the real data.
        case_shape: one inference case, batch first; ``quick_case_shape`` a smaller one for quick runs.
        quick, full: ``train.yaml`` overrides of the benchmark's quick run, and of its full run on a CPU (a GPU
            trains with the defaults).
    """

    make_data: Callable[[Path, bool], Path]
    shared_data: str
    quality: float
    case_shape: Sequence[int]
    quick_case_shape: Sequence[int] | None = None
    quick: dict = field(default_factory=dict)
    full: dict = field(default_factory=dict)


TOOLING: dict[str, BundleTooling] = {
    "mnist_classification": BundleTooling(_mnist, "mnist", 0.99, case_shape=(1, 1, 28, 28)),
    "drive_vessel_segmentation": BundleTooling(_drive, "drive", 0.78, case_shape=(1, 3, 584, 565)),
    "brain_mri_lgg_segmentation": BundleTooling(  # a patient: 34 slices on average in kaggle_3m
        _lgg, "lgg/kaggle_3m", 0.85, case_shape=(1, 3, 256, 256, 34), quick_case_shape=(1, 3, 256, 256, 12)
    ),
    "liver_ct_coarse_segmentation": BundleTooling(
        _liver,
        "liver/Task03_Liver",
        0.90,
        case_shape=(1, 1, 100, 100, 96),
        quick_case_shape=(1, 1, 96, 96, 96),
        quick={"roi_size": [64, 64, 64]},
    ),
    "liver_ct_fine_segmentation": BundleTooling(
        _liver,
        "liver/Task03_Liver",
        0.75,
        case_shape=(1, 1, 160, 144, 128),
        quick_case_shape=(1, 1, 96, 96, 96),
        quick={"patch_size": [48, 48, 48], "roi_size": [48, 48, 48]},
        full={"patch_size": [64, 64, 64], "samples_per_volume": 4},  # the CPU run of docs/README.md (CPU only)
    ),
}
