"""Ignite handlers MONAI lacks.

Training: ``ResumableCheckpoint`` (a killed run resumes exactly), ``StopOnNonFiniteLoss``. Evaluation: the report
writers (``CaseReport`` and its subclasses ``FOVVesselReport``, ``VolumeDiceReport``, ``LabelDiceReport``; the
tables ``CaseTableWriter`` and ``MetricsJSONWriter``) and ``OutOfFoldMember`` (each case scored by the fold model that
did not train on it). Inference: the picture writers ``SegmentationPNGWriter``, ``SliceSeriesWriter`` and
``OrthoViewsWriter``, and ``DicomSegWriter`` (a DICOM SEG for a CT read from a DICOM series).
"""

from .case_report import CaseReport
from .case_table import CaseTableWriter, classification_row
from .dicom_seg_writer import DicomSegWriter
from .label_dice_report import LabelDiceReport
from .metrics_json import MetricsJSONWriter
from .non_finite_loss import StopOnNonFiniteLoss
from .ortho_views_writer import OrthoViewsWriter, ortho_views
from .out_of_fold import OutOfFoldMember
from .resumable_checkpoint import ResumableCheckpoint
from .segmentation_png import SegmentationPNGWriter
from .slice_series_writer import SliceSeriesWriter
from .vessel_report import FOVVesselReport
from .volume_dice_report import VolumeDiceReport

__all__ = [
    "StopOnNonFiniteLoss",
    "ResumableCheckpoint",
    "CaseReport",
    "CaseTableWriter",
    "DicomSegWriter",
    "FOVVesselReport",
    "LabelDiceReport",
    "MetricsJSONWriter",
    "OrthoViewsWriter",
    "OutOfFoldMember",
    "SegmentationPNGWriter",
    "SliceSeriesWriter",
    "VolumeDiceReport",
    "classification_row",
    "ortho_views",
]
