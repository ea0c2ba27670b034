"""The Medical Segmentation Decathlon ``Task03_Liver`` layout: abdominal CT volumes with liver and tumour labels.

``imagesTr/liver_N.nii.gz`` is a 3D CT volume and ``labelsTr/liver_N.nii.gz`` its label volume (0 background,
1 liver, 2 tumour) on the same voxel grid (shape and affine). An optional ``dataset.json`` lists the pairs under
``"training"`` as ``{"image": "./imagesTr/liver_N.nii.gz", "label": "./labelsTr/liver_N.nii.gz"}``; without it
the images and labels are paired by file name. Hidden files, such as the macOS ``._liver_N.nii.gz`` files of the
MSD tarball, are ignored. Items hold paths, not arrays: ``{"image", "label", "case"}`` with ``case`` the file name
without ``.nii.gz`` (e.g. ``"liver_7"``), sorted by the case number (``liver_2`` before ``liver_10``).
"""

from __future__ import annotations

import gzip
import json
import os
import re
import zlib
from collections import Counter
from pathlib import Path

import nibabel as nib
import numpy as np
from nibabel.filebasedimages import ImageFileError
from nibabel.spatialimages import HeaderDataError, SpatialImage

from ..errors import BundleInputError
from .dicom import check_ct_series
from .ircadb import ircadb_cases, is_ircadb_folder
from .splits import split_items

__all__ = [
    "Task03FormatError",
    "find_task03_cases",
    "check_ct_volume",
    "check_task03_case",
    "liver_datalist",
    "ct_datalist",
    "LABEL_VALUES",
    "NIFTI_SUFFIXES",
    "nifti_case_name",
]

LABEL_VALUES = (0, 1, 2)  # background, liver, tumour
NIFTI_SUFFIXES = (".nii.gz", ".nii")
_NUMBERED = re.compile(r"(?P<prefix>.*?)(?P<number>\d+)")
# what nibabel and gzip raise on a truncated, corrupt or non-NIfTI file
_READ_ERRORS = (OSError, EOFError, ValueError, zlib.error, ImageFileError, HeaderDataError)


class Task03FormatError(BundleInputError):
    """A Task03 file that is missing, unreadable or inconsistent; the message names the file."""


def nifti_case_name(path: str | os.PathLike) -> str:
    """The file name of ``path`` without ``.nii.gz`` / ``.nii``: the case's name."""
    name = Path(str(path)).name
    for suffix in NIFTI_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def _case_order(case: str) -> tuple:
    """Sort key: by the trailing case number (``liver_2`` before ``liver_10``), then by name."""
    match = _NUMBERED.fullmatch(case)
    return (match.group("prefix"), int(match.group("number")), case) if match else (case, -1, case)


def _nifti_files(folder: Path) -> list[Path]:
    """The NIfTI files directly in ``folder``, hidden and macOS ``._*`` files left out, sorted by name."""
    if not folder.is_dir():
        return []
    return sorted(
        p
        for p in folder.iterdir()
        if not p.name.startswith(".") and p.name.lower().endswith(NIFTI_SUFFIXES) and p.is_file()
    )


def _from_dataset_json(dataset_dir: Path, json_path: Path) -> list[dict]:
    try:
        training = json.loads(json_path.read_text())["training"]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise Task03FormatError(f"{json_path}: unreadable JSON ({e}).") from e
    except (KeyError, TypeError) as e:
        raise Task03FormatError(f'{json_path}: no "training" list of image/label pairs.') from e
    if not isinstance(training, list):
        raise Task03FormatError(f'{json_path}: "training" is a {type(training).__name__}, expected a list.')
    items = []
    for i, entry in enumerate(training):
        if not (isinstance(entry, dict) and all(isinstance(entry.get(k), str) for k in ("image", "label"))):
            raise Task03FormatError(
                f'{json_path}: training entry {i} is {entry!r}, expected {{"image": path, "label": path}}.'
            )
        image, label = dataset_dir / entry["image"], dataset_dir / entry["label"]
        for key, path in (("image", image), ("label", label)):
            if not path.is_file():
                raise Task03FormatError(f"{path}: missing {key} file listed in {json_path.name} (entry {i}).")
        items.append({"image": str(image), "label": str(label), "case": nifti_case_name(image)})
    return items


def _by_file_name(dataset_dir: Path) -> list[dict]:
    images = {p.name: p for p in _nifti_files(dataset_dir / "imagesTr")}
    labels = {p.name: p for p in _nifti_files(dataset_dir / "labelsTr")}
    for name in sorted(set(images) - set(labels)):
        raise Task03FormatError(f"{images[name]}: image without its label (labelsTr/{name}).")
    for name in sorted(set(labels) - set(images)):
        raise Task03FormatError(f"{labels[name]}: label without its image (imagesTr/{name}).")
    return [{"image": str(images[n]), "label": str(labels[n]), "case": nifti_case_name(images[n])} for n in images]


def find_task03_cases(dataset_dir: str | os.PathLike) -> list[dict]:
    """Every image/label pair of a Task03 folder: ``{"image", "label", "case"}``, sorted by case number.

    The pairs listed in ``dataset.json`` when there is one, else ``imagesTr`` and ``labelsTr`` paired by file name.

    Raises:
        FileNotFoundError: ``dataset_dir`` is missing or holds no case.
        Task03FormatError: unreadable ``dataset.json``, a listed file missing, an image or label without its pair.
    """
    dataset_dir = Path(dataset_dir)
    if not dataset_dir.is_dir():
        raise FileNotFoundError(f"{dataset_dir}: Task03 dataset folder does not exist.")
    json_path = dataset_dir / "dataset.json"
    items = _from_dataset_json(dataset_dir, json_path) if json_path.is_file() else _by_file_name(dataset_dir)
    if not items:
        raise FileNotFoundError(
            f"{dataset_dir}: no cases (Task03 layout: imagesTr/liver_N.nii.gz and labelsTr/liver_N.nii.gz, "
            "optionally listed in dataset.json)."
        )
    return sorted(items, key=lambda item: _case_order(item["case"]))


def _load(path: Path) -> SpatialImage:
    """The NIfTI image at ``path`` with its header read (the voxels are read on demand)."""
    if not path.is_file():
        raise Task03FormatError(f"{path}: file missing.")
    try:
        return nib.load(path)
    except _READ_ERRORS as e:
        raise Task03FormatError(f"{path}: unreadable NIfTI file ({type(e).__name__}: {e}).") from e


def _check_voxel_bytes(path: Path, volume: SpatialImage) -> None:
    """Raise when ``path`` holds fewer voxel bytes than its header declares. Cheap: the size of a ``.nii``, or the
    length a ``.nii.gz`` records in its gzip trailer; only when that disagrees is the file decompressed to count."""
    proxy = volume.dataobj
    needed = int(proxy.offset) + int(np.prod(proxy.shape, dtype=np.int64)) * proxy.dtype.itemsize
    if path.name.lower().endswith(".gz"):
        with open(path, "rb") as f:
            f.seek(max(f.seek(0, os.SEEK_END) - 4, 0))
            if int.from_bytes(f.read(4), "little") == needed % 2**32:
                return
        try:
            with gzip.open(path, "rb") as f:
                found = sum(len(chunk) for chunk in iter(lambda: f.read(1 << 24), b""))
        except _READ_ERRORS as e:
            raise Task03FormatError(f"{path}: truncated or corrupt gzip data ({type(e).__name__}: {e}).") from e
    else:
        found = path.stat().st_size
    if found < needed:
        raise Task03FormatError(
            f"{path}: truncated: the header declares {tuple(proxy.shape)} voxels of {proxy.dtype} ({needed} bytes "
            f"with the header), the file holds {found}."
        )


def check_ct_volume(path: str | os.PathLike) -> SpatialImage:
    """Check one NIfTI volume without reading its voxels: a readable header, 3D, and as many bytes as the header
    declares. Returns the image (voxels read on demand).

    Raises:
        Task03FormatError: naming the file and the problem.
    """
    path = Path(path)
    volume = _load(path)
    if len(volume.shape) != 3:
        raise Task03FormatError(f"{path}: expected a 3D volume, found shape {tuple(volume.shape)}.")
    _check_voxel_bytes(path, volume)
    return volume


def _affine_text(affine: np.ndarray) -> str:
    return str(np.round(affine[:3], 3).tolist())


def check_task03_case(item: dict) -> None:
    """Check one ``{"image", "label"}`` pair: both 3D with the same shape and affine, label values in {0, 1, 2}.

    The headers and file sizes are checked first (:func:`check_ct_volume`); only the label's voxels are read (the
    image's are left for training).

    Raises:
        Task03FormatError: naming the file(s) and the problem.
    """
    image_path, label_path = Path(item["image"]), Path(item["label"])
    image, label = check_ct_volume(image_path), check_ct_volume(label_path)
    if image.shape != label.shape:
        raise Task03FormatError(
            f"{label_path}: shape {tuple(label.shape)} differs from its image's {tuple(image.shape)} ({image_path})."
        )
    if not np.allclose(image.affine, label.affine, atol=1e-3):
        raise Task03FormatError(
            f"{label_path}: affine {_affine_text(label.affine)} differs from its image's "
            f"{_affine_text(image.affine)} ({image_path})."
        )
    try:
        values = np.unique(np.asanyarray(label.dataobj))
    except _READ_ERRORS as e:
        raise Task03FormatError(f"{label_path}: unreadable NIfTI data ({type(e).__name__}: {e}).") from e
    unexpected = np.setdiff1d(values, LABEL_VALUES)
    if unexpected.size:
        raise Task03FormatError(
            f"{label_path}: unexpected label values {unexpected[:8].tolist()}"
            f"{' ...' if unexpected.size > 8 else ''} (expected {list(LABEL_VALUES)}: background, liver, tumour)."
        )


def liver_datalist(
    dataset_dir: str | os.PathLike,
    split: str = "train",
    val_fraction: float = 0.2,
    seed: int = 0,
    check: bool = True,
    fold: int | None = None,
    num_folds: int = 5,
    ircadb: bool = False,
) -> list[dict]:
    """The ``{"image", "label", "case"}`` items of one split of a Task03 folder.

    Splits: ``train`` and ``validation`` divide the cases with a fixed seed (``val_fraction`` held out, or, when
    ``fold`` is given, fold ``fold`` of ``num_folds`` held out);
    ``all`` is every case; ``oof`` is every case with its ``fold`` (of ``num_folds``), for out-of-fold evaluation.
    With ``check``, every returned pair goes through :func:`check_task03_case`, so a bad
    file fails before training starts. With ``ircadb``, a folder of cases in 3D-IRCADb-01's own DICOM layout is read
    too (:func:`~bundle_common.data.ircadb.ircadb_cases`: ``{"image", "masks", "case"}`` items, always checked).
    """
    dicom = ircadb and is_ircadb_folder(dataset_dir)
    items = ircadb_cases(dataset_dir) if dicom else find_task03_cases(dataset_dir)
    if split in ("train", "validation", "oof"):
        items = split_items(items, "case", split, val_fraction, seed, fold, num_folds)
    elif split != "all":
        raise BundleInputError(f"unknown Task03 split {split!r}; choose from 'train', 'validation', 'all', 'oof'.")
    if check and not dicom:  # ircadb_cases checked every series as it listed them
        for item in items:
            check_task03_case(item)
    return items


def _series_folders(folder: Path) -> list[Path]:
    """The subfolders of ``folder`` (hidden ones left out), sorted by name: DICOM series folders for inference."""
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def ct_datalist(input_dir: str | os.PathLike) -> list[dict]:
    """Items for inference: ``{"image", "case"}``, NIfTI files first, each sorted by name.

    ``input_dir`` is a Task03 folder (its ``imagesTr`` images, each with a ``label`` when ``labelsTr`` holds a file
    of the same name) or a folder of CTs: ``.nii.gz`` / ``.nii`` volumes, and subfolders that each hold one DICOM CT
    series (``image`` is the folder, ``case`` its name; :mod:`bundle_common.data.dicom`). Every file and series is
    checked first (:func:`check_ct_volume`, :func:`~bundle_common.data.dicom.check_ct_series`;
    :func:`check_task03_case` for an image with its label), so a bad one stops the run before the first prediction
    is written.
    """
    input_dir = Path(input_dir)
    if not input_dir.is_dir():
        raise FileNotFoundError(f"{input_dir}: input folder does not exist.")
    images_dir = input_dir / "imagesTr"
    task03 = images_dir.is_dir()
    images = _nifti_files(images_dir if task03 else input_dir)
    series = [] if task03 else _series_folders(input_dir)
    if not images and not series:
        where = images_dir if task03 else input_dir
        hint = (
            " If it is a DICOM series itself, pass the folder that holds it: each subfolder is one case."
            if not task03 and any(p.is_file() for p in input_dir.iterdir())
            else ""
        )
        raise FileNotFoundError(f"{where}: no NIfTI files (*.nii.gz, *.nii) or DICOM series subfolders.{hint}")
    items = []
    for image in images:
        item = {"image": str(image), "case": nifti_case_name(image)}
        label = input_dir / "labelsTr" / image.name
        if task03 and label.is_file():
            item["label"] = str(label)
            check_task03_case(item)
        else:
            check_ct_volume(image)
        items.append(item)
    for folder in series:
        check_ct_series(folder)
        items.append({"image": str(folder), "case": folder.name})
    for case, count in Counter(item["case"] for item in items).items():
        if count > 1:
            same = [Path(item["image"]).name for item in items if item["case"] == case]
            raise Task03FormatError(
                f"{input_dir}: {' and '.join(same)} are both case {case!r}; their outputs would collide: rename one."
            )
    return items
