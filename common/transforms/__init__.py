"""Dictionary transforms MONAI lacks, each with its array version beside it."""

from .fov import NormalizeInFOV, NormalizeInFOVd

__all__ = ["NormalizeInFOV", "NormalizeInFOVd"]
