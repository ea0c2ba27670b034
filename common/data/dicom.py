"""CT series in DICOM: one series a folder, checked from its files, read with MONAI's ``PydicomReader``.

A series folder holds the files of one CT series and nothing else: any file names, with or without ``.dcm``, in any
order; hidden files are left out. :func:`check_ct_series` reads every file once and stops with an error naming the
folder (and the file) when the folder is not one whole, evenly spaced CT series. MONAI's ``PydicomReader`` stacks
the slices in ``InstanceNumber`` order and takes the slice axis from the first and last slice's positions, and
applies the rescale slope and intercept; the check makes sure that this order is the order of the slices' positions
along the slice normal and that the spacing is even, so the reader's grid is the series' true geometry.

Reading DICOM needs pydicom (and writing a DICOM SEG highdicom): the ``dicom`` extra, ``pip install
"monai-bundle-collection[dicom]"``.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from pathlib import Path

import numpy as np
from monai.data import ImageReader
from monai.utils import ensure_tuple

from ..errors import BundleInputError

__all__ = [
    "DICOM_EXTRA",
    "DicomSeriesError",
    "series_files",
    "check_ct_series",
    "CTReader",
    "load_ct",
]

DICOM_EXTRA = "pip install 'monai-bundle-collection[dicom]' (pydicom and highdicom)"
_SPACING_TOLERANCE = 0.05  # slice gaps may differ from the series' median gap by this fraction of it
_SLICE_TAGS = ("SeriesInstanceUID", "Modality", "Rows", "Columns", "ImagePositionPatient", "ImageOrientationPatient")
_NATIVE_SYNTAXES = ("1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2")  # uncompressed pixel data


class DicomSeriesError(BundleInputError):
    """A folder that is not one whole CT series; the message names the folder, the file and the problem."""


def _pydicom():
    try:
        import pydicom
    except ImportError as e:
        raise BundleInputError(f"reading DICOM series needs pydicom: {DICOM_EXTRA}.") from e
    return pydicom


def series_files(folder: str | os.PathLike) -> list[Path]:
    """The files directly in ``folder``, hidden ones (``.*``) left out as MONAI's ``PydicomReader`` leaves them out,
    sorted by name: each must be a slice of the series."""
    return sorted(p for p in Path(folder).iterdir() if p.is_file() and not p.name.startswith("."))


def _pixel_bytes(ds) -> int:
    frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
    return int(ds.Rows) * int(ds.Columns) * int(ds.SamplesPerPixel) * frames * int(ds.BitsAllocated) // 8


def _read_slice(pydicom, path: Path, folder: Path):
    """One file's header, its pixel data checked to be whole (then dropped)."""
    try:
        ds = pydicom.dcmread(path)
    except pydicom.errors.InvalidDicomError as e:
        raise DicomSeriesError(f"{folder}: {path.name} is not a DICOM file ({e}).") from e
    except (OSError, EOFError, ValueError) as e:
        raise DicomSeriesError(f"{folder}: {path.name} is unreadable ({type(e).__name__}: {e}).") from e
    missing = [tag for tag in _SLICE_TAGS if tag not in ds]
    if missing:
        raise DicomSeriesError(f"{folder}: {path.name} lacks {', '.join(missing)}: not a slice of an image series.")
    if "PixelData" not in ds:
        raise DicomSeriesError(f"{folder}: {path.name} is truncated or holds no pixel data.")
    syntax = str(getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", ""))
    needed = _pixel_bytes(ds)
    if syntax in _NATIVE_SYNTAXES and len(ds.PixelData) < needed:
        raise DicomSeriesError(
            f"{folder}: {path.name} is truncated: {ds.Rows} x {ds.Columns} pixels of {ds.BitsAllocated} bits need "
            f"{needed} bytes, the file holds {len(ds.PixelData)}."
        )
    del ds.PixelData
    return ds


def _check_one_series(folder: Path, slices: list) -> None:
    for path, ds in slices:  # first, so that an MR slice among CT ones is named as such
        if str(ds.Modality).upper() != "CT":
            raise DicomSeriesError(f"{folder}: {path.name} has modality {ds.Modality}, not CT; every slice must be CT.")
    series = Counter(str(ds.SeriesInstanceUID) for _, ds in slices)
    if len(series) > 1:
        counts = ", ".join(f"{uid} ({n} files)" for uid, n in series.most_common())
        raise DicomSeriesError(f"{folder}: holds {len(series)} series, {counts}: put each series in its own folder.")
    for name, value in (
        ("Rows", lambda d: int(d.Rows)),
        ("Columns", lambda d: int(d.Columns)),
        ("PixelSpacing", lambda d: tuple(round(float(v), 4) for v in getattr(d, "PixelSpacing", (1, 1)))),
        ("ImageOrientationPatient", lambda d: tuple(round(float(v), 4) for v in d.ImageOrientationPatient)),
    ):
        usual, count = Counter(value(ds) for _, ds in slices).most_common(1)[0]
        for path, ds in slices:
            if value(ds) != usual:
                raise DicomSeriesError(
                    f"{folder}: {path.name}'s {name} {value(ds)} differs from the other slices' {usual} "
                    f"({count} of {len(slices)})."
                )


def _check_positions(folder: Path, slices: list) -> None:
    """Positions along the slice normal, in the reader's (InstanceNumber) order: strictly monotonic, evenly spaced."""
    orientation = np.asarray(slices[0][1].ImageOrientationPatient, dtype=float)
    normal = np.cross(orientation[:3], orientation[3:])
    depth = np.array([float(np.dot(np.asarray(ds.ImagePositionPatient, dtype=float), normal)) for _, ds in slices])
    order = np.argsort(depth, kind="stable")
    repeats = np.flatnonzero(np.diff(depth[order]) < 1e-3)
    if repeats.size:
        a, b = (slices[order[i]][0].name for i in (repeats[0], repeats[0] + 1))
        raise DicomSeriesError(f"{folder}: {a} and {b} lie at the same position: a repeated slice?")
    gaps = np.diff(depth)
    if not (np.all(gaps > 0) or np.all(gaps < 0)):
        raise DicomSeriesError(
            f"{folder}: the slices' InstanceNumber order does not follow their positions along the slice normal; "
            "MONAI's PydicomReader stacks slices by InstanceNumber, so this series would be read scrambled."
        )
    gaps = np.abs(gaps)
    spacing = float(np.median(gaps))
    uneven = np.flatnonzero(np.abs(gaps - spacing) > _SPACING_TOLERANCE * spacing)
    if uneven.size:
        i = int(uneven[0])
        raise DicomSeriesError(
            f"{folder}: uneven slice spacing: {gaps[i]:.3g} mm between {slices[i][0].name} and {slices[i + 1][0].name}"
            f" where slices are {spacing:.3g} mm apart ({uneven.size} such gap{'s' if uneven.size > 1 else ''}): "
            "a slice missing?"
        )


def check_ct_series(folder: str | os.PathLike) -> list:
    """Check that ``folder`` holds one whole CT series and return its slices' headers (pydicom datasets without pixel
    data) in the order MONAI's ``PydicomReader`` stacks them (by ``InstanceNumber``).

    Every file is read once: each must be a readable DICOM image with all its pixel data (a truncated file fails);
    all share one ``SeriesInstanceUID``, the CT modality, rows, columns, pixel spacing and orientation; at least two
    slices, with distinct ``InstanceNumber``; their positions along the slice normal, in that order, strictly
    monotonic and evenly spaced (a missing slice leaves a wider gap).

    Raises:
        DicomSeriesError: naming the folder, the file and the problem.
        BundleInputError: pydicom is not installed.
    """
    pydicom = _pydicom()
    folder = Path(folder)
    files = series_files(folder)
    if not files:
        raise DicomSeriesError(f"{folder}: no files; a DICOM series folder holds the files of one CT series.")
    slices = [(path, _read_slice(pydicom, path, folder)) for path in files]
    _check_one_series(folder, slices)
    if len(slices) < 2:
        raise DicomSeriesError(f"{folder}: a single slice ({files[0].name}); a CT series has at least two.")
    numbers = [getattr(ds, "InstanceNumber", None) for _, ds in slices]
    if None in numbers or len(set(int(n) for n in numbers)) < len(numbers):
        raise DicomSeriesError(
            f"{folder}: every slice needs its own InstanceNumber, the order in which MONAI's PydicomReader stacks them "
            f"({'missing in ' + slices[numbers.index(None)][0].name if None in numbers else 'some repeat'})."
        )
    slices.sort(key=lambda pair: int(pair[1].InstanceNumber))
    _check_positions(folder, slices)
    return [ds for _, ds in slices]


class CTReader(ImageReader):
    """MONAI's ``NibabelReader`` for NIfTI files and its ``PydicomReader`` for DICOM series folders, chosen by the
    path, for ``LoadImaged(reader=CTReader())``: MONAI's automatic choice depends on the packages present (ITK, if
    installed, would take the folders), and a list of readers logs every one that fails before one succeeds.

    MONAI's ``PydicomReader`` turns a slice's every tag to JSON to keep the five it needs; pydicom logs a warning for
    each non-conforming value it meets on the way (3D-IRCADb's 18-character ``SliceThickness``), values the reader
    then drops, so those are not logged.
    """

    def __init__(self) -> None:
        super().__init__()
        from monai.data import NibabelReader, PydicomReader

        self.nifti, self.dicom = NibabelReader(), PydicomReader()
        self._last: ImageReader = self.nifti

    def verify_suffix(self, filename) -> bool:
        return True

    def read(self, data, **kwargs):
        paths = ensure_tuple(data)
        self._last = self.dicom if any(Path(str(p)).is_dir() for p in paths) else self.nifti
        if self._last is self.dicom:
            _pydicom()
        return self._last.read(data, **kwargs)

    def get_data(self, img):
        if self._last is not self.dicom:
            return self._last.get_data(img)
        pydicom_log = logging.getLogger("pydicom")
        level = pydicom_log.level
        pydicom_log.setLevel(logging.ERROR)
        try:
            return self.dicom.get_data(img)
        finally:
            pydicom_log.setLevel(level)


def load_ct(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """The voxels and RAS affine of a CT: a NIfTI file (nibabel), or a series folder read as the bundles read it."""
    path = Path(path)
    if path.is_dir():
        reader = CTReader()
        voxels, meta = reader.get_data(reader.read(str(path)))
        return np.asarray(voxels), np.asarray(meta["affine"], dtype=float)
    import nibabel as nib

    volume = nib.load(str(path))
    return np.asarray(volume.dataobj), volume.affine
