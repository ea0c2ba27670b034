"""MONAI image writers that never leave half a file: they write beside the target, then rename into place."""

from __future__ import annotations

import os
from pathlib import Path

from monai.data import NibabelWriter

from .io import atomic_path

__all__ = ["AtomicNibabelWriter"]


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
