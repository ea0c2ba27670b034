"""MONAI image writers that never leave half a file (they write beside the target, then rename into place), and the
name they give a case's file."""

from __future__ import annotations

import os
from pathlib import Path

from monai.data import NibabelWriter
from monai.data.folder_layout import default_name_formatter
from monai.utils import ImageMetaKey

from .data.task03 import nifti_case_name
from .io import atomic_path

__all__ = ["AtomicNibabelWriter", "case_name_formatter"]


class AtomicNibabelWriter(NibabelWriter):
    """MONAI's ``NibabelWriter`` (NIfTI) through a temporary file in the target's folder, renamed into place once
    complete; on any error the temporary file is removed and an existing target is left as it was.

    Use it as ``SaveImaged(..., writer=AtomicNibabelWriter)``.
    """

    def write(self, filename: str | os.PathLike, verbose: bool = False, **obj_kwargs) -> None:
        path = Path(filename)
        extension = ".nii.gz" if path.name.lower().endswith(".nii.gz") else path.suffix  # nibabel reads it
        with atomic_path(path, suffix=f".tmp{extension}") as tmp:
            super().write(tmp, verbose=verbose, **obj_kwargs)


def case_name_formatter(metadict: dict, saver) -> dict:
    """``SaveImaged(output_name_formatter=...)`` keeping a case's whole name: a NIfTI file's name without
    ``.nii.gz`` / ``.nii``, or a DICOM series folder's name, dots and all (MONAI's default formatter drops the last
    dotted part of a folder such as ``1.2.840.5``, taking it for an extension).

    Use it as ``output_name_formatter: {_target_: bundle_common.writers.case_name_formatter, _mode_: callable}``.
    """
    source = (metadict or {}).get(ImageMetaKey.FILENAME_OR_OBJ)
    if not source:
        return default_name_formatter(metadict, saver)
    # FolderLayout drops an extension from the subject: give it one to drop
    return {"subject": f"{nifti_case_name(source)}.nii.gz", "idx": (metadict or {}).get(ImageMetaKey.PATCH_INDEX)}
