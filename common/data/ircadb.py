"""3D-IRCADb-01's own layout: a CT as a DICOM series and its labels as one DICOM mask series a structure.

::

    <case>/PATIENT_DICOM/          the CT series (any file names)
    <case>/MASKS_DICOM/liver/      the liver mask series (0 outside, 255 inside), on the CT's slices
    <case>/MASKS_DICOM/livertumor01/ .. livertumorNN/, or tumor/   the liver tumours' mask series (optional)

(the distribution zips ``MASKS_DICOM``: unzip it in place). Other structures' masks (vessels, other organs, cysts)
are not read. Items are ``{"image": PATIENT_DICOM folder, "masks": {"1": [liver], "2": [tumour folders]}, "case"}``
with ``case`` the case folder's name; :class:`LabelFromMaskSeriesd` turns ``masks`` into the Task03 label map
(0 background, 1 liver, 2 tumour: tumour over liver), on the CT's own grid.
"""

from __future__ import annotations

import os
import re
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from monai.config import KeysCollection
from monai.data import MetaTensor
from monai.transforms import MapTransform

from .dicom import DicomSeriesError, check_ct_series, load_ct

__all__ = ["IRCADB_TUMOUR", "is_ircadb_folder", "ircadb_cases", "LabelFromMaskSeriesd"]

IRCADB_TUMOUR = re.compile(r"livertumou?r\d*|tumou?r")  # livertumor01 .. (patient 1), tumor (patient 7)


def _case_folders(dataset_dir: Path) -> list[Path]:
    return sorted(p for p in dataset_dir.iterdir() if p.is_dir() and (p / "PATIENT_DICOM").is_dir())


def is_ircadb_folder(dataset_dir: str | os.PathLike) -> bool:
    """Whether ``dataset_dir`` holds 3D-IRCADb-style cases (``<case>/PATIENT_DICOM``) rather than a Task03 layout."""
    dataset_dir = Path(dataset_dir)
    return dataset_dir.is_dir() and not (dataset_dir / "imagesTr").is_dir() and bool(_case_folders(dataset_dir))


def _same_slices(ct: Sequence, mask: Sequence) -> bool:
    def geometry(headers):
        return [
            (int(h.Rows), int(h.Columns), tuple(round(float(v), 3) for v in h.ImagePositionPatient)) for h in headers
        ]

    return geometry(ct) == geometry(mask)


def ircadb_cases(dataset_dir: str | os.PathLike) -> list[dict]:
    """Every case of a 3D-IRCADb-style folder, each series checked first: the CT, and each mask series to be a whole
    series on the CT's slices (:func:`~bundle_common.data.dicom.check_ct_series`).

    Raises:
        DicomSeriesError: a bad series, a missing liver mask, a zipped ``MASKS_DICOM``, or a mask off the CT's slices;
            the message names the folder.
    """
    dataset_dir = Path(dataset_dir)
    items = []
    for case in _case_folders(dataset_dir):
        masks_dir = case / "MASKS_DICOM"
        if not (masks_dir / "liver").is_dir():
            zipped = " (unzip MASKS_DICOM.zip in place)" if (case / "MASKS_DICOM.zip").is_file() else ""
            raise DicomSeriesError(f"{masks_dir / 'liver'}: missing: the liver's mask series{zipped}.")
        ct = check_ct_series(case / "PATIENT_DICOM")
        tumours = sorted(p for p in masks_dir.iterdir() if p.is_dir() and IRCADB_TUMOUR.fullmatch(p.name.lower()))
        for mask in [masks_dir / "liver", *tumours]:
            if not _same_slices(ct, check_ct_series(mask)):
                raise DicomSeriesError(
                    f"{mask}: the mask series does not lie on the CT's slices ({case / 'PATIENT_DICOM'}): other "
                    "positions, sizes or slice count."
                )
        masks = {"1": [str(masks_dir / "liver")], "2": [str(p) for p in tumours]}
        items.append({"image": str(case / "PATIENT_DICOM"), "masks": masks, "case": case.name})
    return items


class LabelFromMaskSeriesd(MapTransform):
    """Read ``masks`` (``{label value: [mask series folder, ...]}``, as :func:`ircadb_cases` gives them) into a
    ``(1, X, Y, Z)`` uint8 label map under ``label_key``, on the grid the CT's series is read to, each value painted
    where any of its masks is non-zero, in increasing order (tumour over liver); ``masks`` is dropped. Items without
    ``masks`` (a NIfTI case) pass unchanged."""

    def __init__(self, keys: KeysCollection = "masks", label_key: str = "label", allow_missing_keys: bool = True):
        super().__init__(keys, allow_missing_keys)
        self.label_key = label_key

    def __call__(self, data: Mapping[Hashable, object]) -> dict:
        d = dict(data)
        for key in self.key_iterator(d):
            label, affine = None, None
            for value, folders in sorted(d.pop(key).items(), key=lambda pair: int(pair[0])):
                for folder in folders:
                    mask, mask_affine = load_ct(folder)
                    if label is None:
                        label, affine = np.zeros(mask.shape, np.uint8), mask_affine
                    elif mask.shape != label.shape or not np.allclose(mask_affine, affine, atol=1e-4):
                        raise DicomSeriesError(f"{folder}: the mask series' grid differs from the other masks'.")
                    label[mask > 0] = int(value)
            d[self.label_key] = MetaTensor(torch.as_tensor(label[None]), affine=torch.as_tensor(affine))
        return d
