"""Bad input: a corpus of small broken datasets, each made from a valid generated one, and what the bundles make of
them. Every data case goes through its bundle's reader in-process and must raise one input error naming the file and
the problem; the cases marked ``cli`` (and the wrong-typed settings) also go through ``python -m monai.bundle run``,
which must exit non-zero with a last stderr line ``error: <file>: <problem>``, no traceback, and leave the output
folders as they were. The type checks of every workflow config are also tried one setting at a time, in-process."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from PIL import Image

from bundle_common.data.drive import drive_datalist, fundus_datalist
from bundle_common.data.idx import read_idx, write_idx
from bundle_common.data.lgg import lgg_datalist, mri_datalist
from bundle_common.data.mnist import digit_images_datalist, mnist_datalist
from bundle_common.data.task03 import ct_datalist, liver_datalist
from bundle_common.errors import BundleInputError, input_error_in
from bundle_tools.bundle_cli import REPO_ROOT, run_workflow
from bundle_tools.registry import bundle_names

BUNDLES = {
    "mnist": "mnist_classification",
    "drive": "drive_vessel_segmentation",
    "lgg": "brain_mri_lgg_segmentation",
    "coarse": "liver_ct_coarse_segmentation",
    "fine": "liver_ct_fine_segmentation",
}
DATA = {"mnist": "mnist", "drive": "drive", "lgg": "lgg", "coarse": "liver", "fine": "liver"}  # bundle -> its data
EVAL_SPLIT = {"mnist": "test", "drive": "test", "lgg": "all", "liver": "all"}  # every case of a small set
P0, P1 = "TCGA_SY_0000_20000101", "TCGA_SY_0001_20000101"  # the two generated LGG patients


def _both(reader: Callable, splits=("train", "validation")) -> Callable:
    """What a training run reads: the training split, then the validation split."""
    return lambda folder: [reader(folder, split) for split in splits]


# (data, workflow) -> what the bundle's config reads first from --dataset_dir / --input_dir
READERS = {
    ("mnist", "train"): _both(mnist_datalist),
    ("mnist", "evaluate"): lambda folder: mnist_datalist(folder, EVAL_SPLIT["mnist"]),
    ("mnist", "inference"): digit_images_datalist,
    ("drive", "train"): _both(drive_datalist),
    ("drive", "evaluate"): lambda folder: drive_datalist(folder, EVAL_SPLIT["drive"]),
    ("drive", "inference"): fundus_datalist,
    ("lgg", "train"): _both(lgg_datalist),
    ("lgg", "evaluate"): lambda folder: lgg_datalist(folder, EVAL_SPLIT["lgg"]),
    ("lgg", "inference"): mri_datalist,
    ("liver", "train"): _both(liver_datalist),
    ("liver", "evaluate"): lambda folder: liver_datalist(folder, EVAL_SPLIT["liver"]),
    ("liver", "inference"): ct_datalist,
}


# ---- ways to break a copy of a valid dataset: each takes the folder and returns the folder to pass


def _as_is(folder: Path) -> Path:
    return folder


def _nowhere(folder: Path) -> Path:
    return folder / "does_not_exist"


def _empty(folder: Path) -> Path:
    (folder / "empty").mkdir()
    return folder / "empty"


def _sub(relative: str) -> Callable[[Path], Path]:
    return lambda folder: folder / relative


def _then(make: Callable[[Path], Path], *breaks: Callable[[Path], Path]) -> Callable[[Path], Path]:
    """``make`` the input from the dataset, then apply ``breaks`` inside it."""

    def breaking(folder: Path) -> Path:
        made = make(folder)
        for step in breaks:
            step(made)
        return made

    return breaking


def _on(relative: str, change: Callable[[Path], None]) -> Callable[[Path], Path]:
    def breaking(folder: Path) -> Path:
        change(folder / relative)
        return folder

    return breaking


def _delete(relative: str):
    return _on(relative, Path.unlink)


def _truncate(relative: str):
    """Keep the first half of the file's bytes."""
    return _on(relative, lambda path: path.write_bytes(path.read_bytes()[: path.stat().st_size // 2]))


def _scribble(relative: str):
    """Replace the file's bytes by text: a corrupt file under the right name."""
    return _on(relative, lambda path: path.write_bytes(b"this is not what the name says\n" * 4))


def _idx(relative: str, change: Callable[[np.ndarray], np.ndarray]):
    return _on(relative, lambda path: write_idx(path, change(read_idx(path)), compress=path.suffix == ".gz"))


def _picture(relative: str, change: Callable[[Image.Image], Image.Image]):
    def rewrite(path: Path) -> None:
        with Image.open(path) as picture:
            changed = change(picture.copy())
        changed.save(path, optimize=False) if path.suffix == ".gif" else changed.save(path)

    return _on(relative, rewrite)


def _pixels(change: Callable[[np.ndarray], None]) -> Callable[[Image.Image], Image.Image]:
    def changing(picture: Image.Image) -> Image.Image:
        array = np.array(picture)
        change(array)
        return Image.fromarray(array)

    return changing


def _half_size(picture: Image.Image) -> Image.Image:
    return picture.resize((picture.width // 2, picture.height // 2), Image.NEAREST)


def _grey(picture: Image.Image) -> Image.Image:
    return picture.convert("L")


def _nifti(relative: str, data=None, affine=None):
    """Rewrite a NIfTI file with ``data(voxels)`` and/or ``affine(affine)`` changed."""

    def rewrite(path: Path) -> None:
        volume = nib.load(path)
        voxels, grid = np.asanyarray(volume.dataobj), volume.affine
        nib.save(nib.Nifti1Image(data(voxels) if data else voxels, affine(grid) if affine else grid), path)

    return _on(relative, rewrite)


def _set(index, value):
    def setting(array: np.ndarray) -> np.ndarray:
        array[index] = value
        return array

    return setting


def _digit_pictures(folder: Path) -> Path:
    """``pictures/digit_0.png`` and ``digit_1.png`` from the test images: a valid inference input."""
    pictures = folder / "pictures"
    pictures.mkdir()
    for i, image in enumerate(read_idx(folder / "t10k-images-idx3-ubyte")[:2]):
        Image.fromarray(image).save(pictures / f"digit_{i}.png")
    return pictures


def _ct_folder(folder: Path) -> Path:
    """``cts/liver_0.nii.gz`` and ``liver_1.nii.gz``: a folder of CTs without labels, a valid inference input."""
    shutil.copytree(folder / "imagesTr", folder / "cts")
    return folder / "cts"


def _uncompressed(relative: str):
    def rewrite(path: Path) -> None:
        nib.save(nib.load(path), path.with_name(path.name.removesuffix(".gz")))
        path.unlink()

    return _on(relative, rewrite)


@dataclass(frozen=True)
class Case:
    name: str
    bundle: str  # a key of BUNDLES
    workflow: str  # train, evaluate or inference
    breaks: Callable[[Path], Path]  # breaks a copy of the bundle's valid dataset; returns the folder to pass
    expected: tuple[str, ...]  # in the error: the file (or setting) and the problem
    cli: bool = False  # also through python -m monai.bundle run
    options: dict = field(default_factory=dict)  # command-line overrides


T10K_IMAGES, T10K_LABELS = "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"
LIVER_1 = "liver_1.nii.gz"
DATA_CASES = [
    # MNIST: four IDX files (train-*.gz, t10k-* raw) and digit pictures
    Case("mnist_dataset_dir_missing", "mnist", "train", _nowhere, ("does_not_exist", "folder does not exist")),
    Case("mnist_empty_folder", "mnist", "evaluate", _empty, ("empty", f"missing {T10K_IMAGES}")),
    Case("mnist_missing_file", "mnist", "evaluate", _delete(T10K_LABELS), (f"missing {T10K_LABELS}",), cli=True),
    Case(
        "mnist_truncated_idx_gz",
        "mnist",
        "train",
        _truncate("train-images-idx3-ubyte.gz"),
        ("train-images-idx3-ubyte.gz", "corrupt or truncated gzip data"),
        cli=True,
    ),
    Case("mnist_truncated_idx", "mnist", "evaluate", _truncate(T10K_IMAGES), (T10K_IMAGES, "truncated")),
    Case("mnist_corrupt_idx", "mnist", "evaluate", _scribble(T10K_LABELS), (T10K_LABELS, "wrong magic number")),
    Case(
        "mnist_image_label_count_mismatch",
        "mnist",
        "evaluate",
        _idx(T10K_LABELS, lambda labels: labels[:-1]),
        (T10K_IMAGES, "has 60 images but", "59 labels"),
    ),
    Case(
        "mnist_label_out_of_range",
        "mnist",
        "evaluate",
        _idx(T10K_LABELS, _set(7, 12)),
        (T10K_LABELS, "labels must be digits 0..9, found 0..12"),
        cli=True,
    ),
    Case(
        "mnist_4d_idx_images",
        "mnist",
        "evaluate",
        _idx(T10K_IMAGES, lambda images: np.repeat(images[..., None], 3, axis=-1)),
        (T10K_IMAGES, "has 4 dimensions, expected 3"),
    ),
    Case(
        "mnist_wrong_image_size",
        "mnist",
        "evaluate",
        _idx(T10K_IMAGES, lambda images: np.pad(images, ((0, 0), (2, 2), (2, 2)))),
        (T10K_IMAGES, "expected uint8 images of 28x28"),
    ),
    Case(
        "mnist_truncated_png",
        "mnist",
        "inference",
        _then(_digit_pictures, _truncate("digit_1.png")),
        ("digit_1.png", "unreadable image"),
        cli=True,
    ),
    Case("mnist_empty_input", "mnist", "inference", _empty, ("empty", "no PNG/JPEG images or IDX image files")),
    Case("mnist_input_missing", "mnist", "inference", _nowhere, ("does_not_exist", "input folder does not exist")),
    Case(
        "mnist_truncated_idx_input",
        "mnist",
        "inference",
        _then(_digit_pictures, lambda d: shutil.copy(d.parent / T10K_IMAGES, d), _truncate(T10K_IMAGES)),
        (T10K_IMAGES, "truncated"),
    ),
    # DRIVE: training/ (21, 22) and test/ (01): images/*.tif, 1st_manual/*.gif, mask/*.gif
    Case("drive_dataset_dir_missing", "drive", "evaluate", _nowhere, ("does_not_exist", "folder does not exist")),
    Case("drive_empty_folder", "drive", "evaluate", _empty, ("empty/test/images", "missing (DRIVE layout")),
    Case(
        "drive_missing_fov_mask",
        "drive",
        "evaluate",
        _delete("test/mask/01_test_mask.gif"),
        ("01_test_mask.gif", "missing field-of-view mask"),
    ),
    Case(
        "drive_truncated_tiff",
        "drive",
        "evaluate",
        _truncate("test/images/01_test.tif"),
        ("01_test.tif", "unreadable image"),
        cli=True,
    ),
    Case(
        "drive_corrupt_gif",
        "drive",
        "evaluate",
        _scribble("test/1st_manual/01_manual1.gif"),
        ("01_manual1.gif", "unreadable image"),
        cli=True,
    ),
    Case(
        "drive_truncated_gif",
        "drive",
        "train",
        _truncate("training/mask/21_training_mask.gif"),
        ("21_training_mask.gif", "unreadable image"),
    ),
    Case(
        "drive_label_shape_mismatch",
        "drive",
        "train",
        _picture("training/1st_manual/22_manual1.gif", _half_size),
        ("22_manual1.gif", "size 48x48 differs from its image's 96x96"),
        cli=True,
    ),
    Case(
        "drive_label_not_binary",
        "drive",
        "evaluate",
        _picture("test/1st_manual/01_manual1.gif", _pixels(_set((slice(0, 4), slice(0, 4)), 128))),
        ("01_manual1.gif", "expected a binary image (0/255)", "128"),
    ),
    Case(
        "drive_grey_image",
        "drive",
        "evaluate",
        _picture("test/images/01_test.tif", _grey),
        ("01_test.tif", "1 colour channel (PIL mode L), expected 3"),
    ),
    Case(
        "drive_grey_picture_input",
        "drive",
        "inference",
        _then(_sub("test/images"), _picture("01_test.tif", _grey)),
        ("01_test.tif", "1 colour channel (PIL mode L), expected 3"),
        cli=True,
    ),
    Case("drive_empty_input", "drive", "inference", _empty, ("empty", "no pictures")),
    Case(
        "drive_corrupt_picture_input",
        "drive",
        "inference",
        _then(_sub("test/images"), _scribble("01_test.tif")),
        ("01_test.tif", "unreadable image"),
    ),
    # LGG: kaggle_3m/<PATIENT>/<PATIENT>_<n>.tif and _mask.tif, 2 patients of 2 slices of 256 x 256
    Case("lgg_dataset_dir_missing", "lgg", "evaluate", _nowhere, ("does_not_exist", "folder does not exist")),
    Case("lgg_empty_folder", "lgg", "evaluate", _empty, ("empty", "no patient folders with slices"), cli=True),
    Case(
        "lgg_missing_mask",
        "lgg",
        "train",
        _delete(f"{P0}/{P0}_2_mask.tif"),
        (f"{P0}_2.tif", "slice without its mask"),
    ),
    Case(
        "lgg_missing_slice",
        "lgg",
        "evaluate",
        _delete(f"{P1}/{P1}_1.tif"),
        (f"{P1}_1_mask.tif", "mask without its slice"),
    ),
    Case(
        "lgg_truncated_tiff_input",
        "lgg",
        "inference",
        _truncate(f"{P1}/{P1}_2.tif"),
        (f"{P1}_2.tif", "unreadable image"),
        cli=True,
    ),
    Case(
        "lgg_corrupt_mask",
        "lgg",
        "evaluate",
        _scribble(f"{P0}/{P0}_1_mask.tif"),
        (f"{P0}_1_mask.tif", "unreadable image"),
    ),
    Case(
        "lgg_mask_shape_mismatch",
        "lgg",
        "evaluate",
        _picture(f"{P1}/{P1}_2_mask.tif", _half_size),
        (f"{P1}_2_mask.tif", "size 128x128 differs from its slice's 256x256"),
    ),
    Case(
        "lgg_slice_wrong_size",
        "lgg",
        "train",
        _then(_picture(f"{P0}/{P0}_1.tif", _half_size), _picture(f"{P0}/{P0}_1_mask.tif", _half_size)),
        (f"{P0}_1.tif", "size 128x128, expected 256x256"),
    ),
    Case(
        "lgg_mask_not_binary",
        "lgg",
        "train",
        _picture(f"{P1}/{P1}_1_mask.tif", _pixels(_set((slice(0, 4), slice(0, 4)), 128))),
        (f"{P1}_1_mask.tif", "expected a binary mask (0/255)", "128"),
        cli=True,
    ),
    Case(
        "lgg_grey_slice",
        "lgg",
        "evaluate",
        _picture(f"{P0}/{P0}_2.tif", _grey),
        (f"{P0}_2.tif", "1 colour channel (PIL mode L), expected 3"),
        cli=True,
    ),
    Case("lgg_empty_input", "lgg", "inference", _empty, ("empty", "no patient folders with slices")),
    # liver: Task03_Liver/imagesTr, labelsTr (liver_0, liver_1) and dataset.json
    Case("liver_dataset_dir_missing", "coarse", "train", _nowhere, ("does_not_exist", "folder does not exist"), True),
    Case("liver_empty_folder", "fine", "evaluate", _empty, ("empty", "no cases")),
    Case(
        "liver_missing_label",
        "coarse",
        "evaluate",
        _delete(f"labelsTr/{LIVER_1}"),
        (f"labelsTr/{LIVER_1}", "missing label file listed in dataset.json"),
    ),
    Case(
        "liver_truncated_nifti",
        "coarse",
        "evaluate",
        _truncate(f"imagesTr/{LIVER_1}"),
        (f"imagesTr/{LIVER_1}", "truncated or corrupt gzip data"),
        cli=True,
    ),
    Case(
        "liver_corrupt_nifti",
        "fine",
        "train",
        _scribble(f"imagesTr/{LIVER_1}"),
        (f"imagesTr/{LIVER_1}", "unreadable NIfTI file"),
    ),
    Case(
        "liver_truncated_label",
        "fine",
        "evaluate",
        _truncate(f"labelsTr/{LIVER_1}"),
        (f"labelsTr/{LIVER_1}", "truncated or corrupt gzip data"),
    ),
    Case(
        "liver_shape_mismatch",
        "fine",
        "evaluate",
        _nifti(f"labelsTr/{LIVER_1}", data=lambda voxels: voxels[:, :, :-2]),
        (f"labelsTr/{LIVER_1}", "shape (32, 32, 14) differs from its image's (32, 32, 16)"),
        cli=True,
    ),
    Case(
        "liver_affine_mismatch",
        "coarse",
        "evaluate",
        _nifti(f"labelsTr/{LIVER_1}", affine=lambda grid: grid @ np.diag([2.0, 2.0, 1.0, 1.0])),
        (f"labelsTr/{LIVER_1}", "affine", "differs from its image's"),
        cli=True,
    ),
    Case(
        "liver_label_out_of_range",
        "fine",
        "train",
        _nifti(f"labelsTr/{LIVER_1}", data=_set((0, 0, 0), 3)),
        (f"labelsTr/{LIVER_1}", "unexpected label values [3]"),
        cli=True,
    ),
    Case(
        "liver_4d_volume",
        "coarse",
        "evaluate",
        _nifti(f"imagesTr/{LIVER_1}", data=lambda voxels: np.stack([voxels, voxels], axis=-1)),
        (f"imagesTr/{LIVER_1}", "expected a 3D volume, found shape (32, 32, 16, 2)"),
    ),
    Case(
        "liver_4d_volume_input",
        "coarse",
        "inference",
        _then(_ct_folder, _nifti(LIVER_1, data=lambda voxels: np.stack([voxels, voxels], axis=-1))),
        (f"cts/{LIVER_1}", "expected a 3D volume, found shape (32, 32, 16, 2)"),
        cli=True,
    ),
    Case(
        "liver_truncated_nifti_input",
        "fine",
        "inference",
        _then(_ct_folder, _truncate(LIVER_1)),
        (f"cts/{LIVER_1}", "truncated or corrupt gzip data"),
        cli=True,
    ),
    Case(
        "liver_truncated_nii_input",
        "coarse",
        "inference",
        _then(_ct_folder, _uncompressed(LIVER_1), _truncate("liver_1.nii")),
        ("cts/liver_1.nii", "truncated: the header declares (32, 32, 16) voxels of int16"),
    ),
    Case(
        "liver_label_out_of_range_input",
        "fine",
        "inference",
        _nifti(f"labelsTr/{LIVER_1}", data=_set((0, 0, 0), 7)),
        (f"labelsTr/{LIVER_1}", "unexpected label values [7]"),
    ),
    Case("liver_empty_input", "coarse", "inference", _empty, ("empty", "no NIfTI files")),
]
SETTING_CASES = [  # the valid dataset, a command-line override of the wrong type
    Case(
        "mnist_epochs_wrong_type",
        "mnist",
        "train",
        _as_is,
        ("--epochs: expected int, got 'ten'",),
        True,
        {"epochs": "'ten'"},
    ),
    Case(
        "drive_threshold_wrong_type",
        "drive",
        "evaluate",
        _as_is,
        ("--threshold: expected int or float, got 'abc'",),
        True,
        {"threshold": "'abc'"},
    ),
]
CLI_CASES = [case for case in DATA_CASES if case.cli] + SETTING_CASES


@pytest.fixture(scope="module")
def valid_data(tiny_mnist_dir, tmp_path_factory) -> dict[str, Path]:
    """One small valid dataset a layout, generated; each case breaks a copy."""
    from bundle_tools.data.synthetic_drive import write_synthetic_drive
    from bundle_tools.data.synthetic_lgg import write_synthetic_lgg
    from bundle_tools.data.synthetic_liver import write_synthetic_liver

    root = tmp_path_factory.mktemp("valid")
    write_synthetic_drive(root / "drive", n_training=2, n_test=1, seed=0, height=96, width=96)
    assert write_synthetic_lgg(root / "lgg", n_patients=2, n_slices=2, seed=0) == [P0, P1]
    write_synthetic_liver(root / "liver", n_cases=2, shape=(32, 32, 16), seed=0)
    return {"mnist": tiny_mnist_dir, "drive": root / "drive", "lgg": root / "lgg", "liver": root / "liver"}


def _broken(case: Case, valid_data: dict[str, Path], folder: Path) -> Path:
    shutil.copytree(valid_data[DATA[case.bundle]], folder / "data")
    return case.breaks(folder / "data")


def test_the_corpus_covers_every_kind_of_bad_input():
    names = [case.name for case in DATA_CASES + SETTING_CASES]
    assert len(set(names)) == len(names)
    kinds = ("missing", "empty", "truncated", "corrupt", "mismatch", "affine", "range", "grey", "4d", "wrong_type")
    for kind in kinds:
        assert any(kind in name for name in names), kind
    assert {case.bundle for case in CLI_CASES} == set(BUNDLES)
    assert sorted(BUNDLES.values()) == bundle_names()  # every bundle folder, a new one too
    assert {case.workflow for case in CLI_CASES} == {"train", "evaluate", "inference"}


@pytest.mark.parametrize("case", DATA_CASES, ids=lambda case: case.name)
def test_reader_names_the_file_and_the_problem(case, valid_data, tmp_path):
    folder = _broken(case, valid_data, tmp_path)
    with pytest.raises((BundleInputError, FileNotFoundError)) as error:
        READERS[DATA[case.bundle], case.workflow](folder)
    message = str(error.value)
    for fragment in case.expected:
        assert fragment in message, message


def _listing(folder: Path) -> dict | None:
    """Every file and folder under ``folder`` with its bytes (None for a folder), or None when it does not exist."""
    if not folder.exists():
        return None
    return {str(p.relative_to(folder)): p.read_bytes() if p.is_file() else None for p in sorted(folder.rglob("*"))}


@pytest.mark.parametrize("case", CLI_CASES, ids=lambda case: case.name)
def test_command_line_prints_one_error_line_and_writes_nothing(case, valid_data, tmp_path):
    folder = _broken(case, valid_data, tmp_path)
    if case.workflow == "train":  # absent before: must stay absent
        outputs = {"ckpt_dir": tmp_path / "models", "output_dir": tmp_path / "runs"}
    else:  # an output folder holding a file already: must keep it, and nothing else
        outputs = {"output_dir": tmp_path / "out"}
        outputs["output_dir"].mkdir()
        (outputs["output_dir"] / "kept.txt").write_text("written before the run\n")
    before = {key: _listing(path) for key, path in outputs.items()}
    data = {"input_dir" if case.workflow == "inference" else "dataset_dir": folder}
    split = {"eval_split": EVAL_SPLIT[DATA[case.bundle]]} if case.workflow == "evaluate" else {}

    result = run_workflow(
        REPO_ROOT / "bundles" / BUNDLES[case.bundle],
        case.workflow,
        check=False,
        **data,
        **split,
        **outputs,
        **case.options,
    )
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode != 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-6000:]
    assert lines and lines[-1].startswith("error: "), result.stderr[-3000:]
    for fragment in case.expected:
        assert fragment in lines[-1], lines[-1]
    assert {key: _listing(path) for key, path in outputs.items()} == before


WORKFLOW_FILES = sorted(path for path in (REPO_ROOT / "bundles").glob("*/configs/*.yaml") if path.stem != "logging")


def _config(path: Path):
    from monai.bundle import ConfigParser

    parser = ConfigParser()
    files = [path.with_name("train.yaml"), path] if path.stem == "multi_gpu_train" else [path]
    parser.read_config([str(f) for f in files])
    return parser


def _settings_check(parser) -> tuple[int, dict]:
    """The ``check_settings`` entry of ``run``: its index and its ``{name: [value, type]}``."""
    for index, entry in enumerate(parser["run"]):
        if isinstance(entry, dict) and entry.get("_target_") == "bundle_common.errors.check_settings":
            return index, {k: v for k, v in entry.items() if not k.startswith("_")}
    raise AssertionError("run has no bundle_common.errors.check_settings")


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda path: f"{path.parent.parent.name}/{path.stem}")
def test_every_workflow_checks_its_settings_first(path):
    parser = _config(path)
    index, settings = _settings_check(parser)
    # right after report_input_errors_briefly, before anything else runs; in run, not initialize: MONAI puts the
    # bundle folder (a downloaded bundle's vendored bundle_common) on sys.path only when run starts
    assert index == 1
    assert settings and all(value == [f"@{name}", value[1]] for name, value in settings.items())
    # every number or switch a user may set on the command line is checked (rank is torchrun's, not the user's)
    numbers = {k for k, v in parser.get().items() if isinstance(v, (bool, int, float)) and k != "rank"}
    assert numbers <= set(settings), sorted(numbers - set(settings))
    for name in numbers:  # each with the type of its shipped value (a float setting takes an int too)
        default, kind = parser[name], settings[name][1]
        allowed = {"$bool"} if isinstance(default, bool) else {"$int", "$(int, float)"}
        assert kind in allowed and (isinstance(default, int) or kind == "$(int, float)"), name
    if path.stem == "multi_gpu_train":
        assert settings == _settings_check(_config(path.with_name("train.yaml")))[1]
    parser.get_parsed_content(f"run#{index}", lazy=False)  # the shipped values pass
    for name in settings:
        parser = _config(path)
        parser[name] = 3 if settings[name][1] == "$str" else "wrong"  # what fire makes of --name 3, --name wrong
        with pytest.raises(Exception) as error:
            parser.get_parsed_content(f"run#{index}", lazy=False)
        found = input_error_in(error.value)
        assert isinstance(found, BundleInputError) and str(found).startswith(f"--{name}: expected "), error.value


@pytest.mark.parametrize(
    "reader, data",
    [(mnist_datalist, "mnist"), (drive_datalist, "drive"), (lgg_datalist, "lgg"), (liver_datalist, "liver")],
)
def test_an_unknown_split_is_an_input_error(reader, data, valid_data):
    with pytest.raises(BundleInputError, match="unknown .* split 'validaton'; choose from"):
        reader(valid_data[data], "validaton")
