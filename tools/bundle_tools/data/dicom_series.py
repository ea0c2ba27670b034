"""Writing a CT volume as a DICOM CT series (one file a slice), so that DICOM input can be tested without real data.

The series reads back, through MONAI's ``PydicomReader`` as the bundles read it (``bundle_common.data.dicom``), to the
same voxels and RAS affine: ``volume[x, y, z]`` is slice ``z``'s pixel at column ``x`` and row ``y``. The slices are
stored as unsigned 16-bit values with a rescale intercept of -1024, so a reader must apply the rescale to get the
Hounsfield units back. Needs pydicom (the ``dicom`` extra).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = ["write_ct_series", "write_ircadb_case"]

_LPS = np.diag([-1.0, -1.0, 1.0, 1.0])  # RAS <-> LPS world coordinates
_INTERCEPT = -1024


def _ds(value: float) -> str:
    """A DICOM decimal string (at most 16 characters)."""
    return f"{value:.10g}"[:16]


def write_ct_series(
    folder: str | os.PathLike,
    volume: np.ndarray,
    affine: np.ndarray,
    *,
    study_uid: str | None = None,
    series_uid: str | None = None,
    frame_of_reference_uid: str | None = "",
    modality: str = "CT",
    patient: str = "synthetic^liver",
    names: Sequence[str] | None = None,
    seed: int = 0,
) -> list[Path]:
    """Write ``volume`` (X, Y, Z), in Hounsfield units, with RAS ``affine``, as one file per slice in ``folder``.

    Args:
        study_uid, series_uid: the series' UIDs (new ones by default).
        frame_of_reference_uid: its ``FrameOfReferenceUID``; ``""`` makes a new one, ``None`` leaves the tag out (as
            3D-IRCADb's files do).
        names: the slices' file names in slice order; by default ``slice_<n>`` without an extension, ``<n>`` a
            shuffled number, so that the names' order is not the slices'.

    Returns the files in slice order (``InstanceNumber`` 1, 2, ...).
    """
    import pydicom
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    volume = np.asarray(volume)
    if volume.ndim != 3:
        raise ValueError(f"expected a 3D volume, got shape {volume.shape}.")
    columns, rows, slices = volume.shape
    lps = _LPS @ np.asarray(affine, dtype=float)
    column_step, row_step, slice_step, origin = lps[:3, 0], lps[:3, 1], lps[:3, 2], lps[:3, 3]
    column_spacing, row_spacing = float(np.linalg.norm(column_step)), float(np.linalg.norm(row_step))
    orientation = [*(column_step / column_spacing), *(row_step / row_spacing)]  # along a row, then down a column
    study_uid, series_uid = study_uid or generate_uid(), series_uid or generate_uid()
    if frame_of_reference_uid == "":
        frame_of_reference_uid = generate_uid()
    if names is None:
        order = np.random.default_rng(seed).permutation(slices)
        names = [f"slice_{n}" for n in order]
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stored = np.clip(np.rint(volume) - _INTERCEPT, 0, 65535).astype(np.uint16)
    paths = []
    for z in range(slices):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = pydicom.Dataset()
        ds.file_meta = meta
        ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
        ds.PatientName, ds.PatientID, ds.PatientBirthDate, ds.PatientSex = patient, "synthetic-1", "", "O"
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, series_uid
        if frame_of_reference_uid is not None:
            ds.FrameOfReferenceUID = frame_of_reference_uid
        ds.StudyDate, ds.StudyTime, ds.AccessionNumber, ds.ReferringPhysicianName, ds.StudyID = "", "", "", "", "1"
        ds.Modality, ds.SeriesNumber, ds.InstanceNumber, ds.Manufacturer = modality, 1, z + 1, "synthetic"
        ds.ImagePositionPatient = [_ds(v) for v in origin + z * slice_step]
        ds.ImageOrientationPatient = [_ds(v) for v in orientation]
        ds.PixelSpacing = [_ds(row_spacing), _ds(column_spacing)]  # between rows, then between columns
        ds.SliceThickness = _ds(float(np.linalg.norm(slice_step)))
        ds.Rows, ds.Columns = rows, columns
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = _INTERCEPT, 1, "HU"
        ds.PixelData = np.ascontiguousarray(stored[:, :, z].T).tobytes()
        path = folder / names[z]
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def write_ircadb_case(case_dir: str | os.PathLike, ct: np.ndarray, label: np.ndarray, affine: np.ndarray) -> None:
    """A case in 3D-IRCADb-01's layout (``bundle_common.data.ircadb``): ``PATIENT_DICOM/``, the CT series, and
    ``MASKS_DICOM/liver/`` (0 / 255, the tumours included, as 3D-IRCADb draws it), ``livertumor01/`` (the tumour
    voxels of the first x slab that has any) and ``livertumor02/`` (the others), each a series on the CT's slices;
    ``label`` is a Task03 label map (0, 1 liver, 2 tumour) on the CT's grid."""
    from pydicom.uid import generate_uid

    case_dir = Path(case_dir)
    uid = {"study_uid": generate_uid()}
    write_ct_series(case_dir / "PATIENT_DICOM", ct, affine, **uid)
    masks = case_dir / "MASKS_DICOM"
    write_ct_series(masks / "liver", np.where(label > 0, 255, 0), affine, **uid)
    tumour = np.asarray(label) == 2
    first = np.zeros_like(tumour)
    slabs = np.flatnonzero(tumour.any(axis=(1, 2)))
    if slabs.size:
        first[slabs[0]] = tumour[slabs[0]]
    write_ct_series(masks / "livertumor01", np.where(first, 255, 0), affine, **uid)
    write_ct_series(masks / "livertumor02", np.where(tumour & ~first, 255, 0), affine, **uid)
