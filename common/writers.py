"""MONAI image writers that never leave half a file: they write beside the target, then rename into place."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from monai.data import NibabelWriter

from .io import publish_file

__all__ = ["AtomicNibabelWriter"]


class AtomicNibabelWriter(NibabelWriter):
    """MONAI's ``NibabelWriter`` (NIfTI) through a temporary file in the target's folder, renamed into place once
    complete; on any error the temporary file is removed and an existing target is left as it was.

    Use it as ``SaveImaged(..., writer=AtomicNibabelWriter)``.
    """

    def write(self, filename: str | os.PathLike, verbose: bool = False, **obj_kwargs) -> None:
        path = Path(filename)
        path.parent.mkdir(parents=True, exist_ok=True)
        extension = ".nii.gz" if path.name.lower().endswith(".nii.gz") else path.suffix  # nibabel reads it
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{extension}", dir=path.parent)
        os.close(fd)
        try:
            super().write(tmp, verbose=verbose, **obj_kwargs)
            publish_file(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
