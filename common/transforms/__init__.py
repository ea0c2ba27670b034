"""Dictionary transforms MONAI lacks, each with its array version beside it where one makes sense."""

from .cascade import CoarseMaskd, load_weights
from .fov import NormalizeInFOV, NormalizeInFOVd
from .roi import RandForegroundCropd, jittered_box

__all__ = ["CoarseMaskd", "NormalizeInFOV", "NormalizeInFOVd", "RandForegroundCropd", "jittered_box", "load_weights"]
