"""Dictionary transforms MONAI lacks, each with its array version beside it where one makes sense."""

from .cascade import CoarseMaskd
from .fov import NormalizeInFOV, NormalizeInFOVd
from .roi import ForegroundCropd, RandForegroundCropd, jittered_box
from .slices import AdjacentSlicesToChannels, AdjacentSlicesToChannelsd

__all__ = [
    "AdjacentSlicesToChannels",
    "AdjacentSlicesToChannelsd",
    "CoarseMaskd",
    "ForegroundCropd",
    "NormalizeInFOV",
    "NormalizeInFOVd",
    "RandForegroundCropd",
    "jittered_box",
]
