"""Ignite handlers that write what an evaluation or inference run produced."""

from .case_table import CaseTableWriter, classification_row
from .metrics_json import MetricsJSONWriter
from .segmentation_png import SegmentationPNGWriter
from .vessel_report import FOVVesselReport

__all__ = ["CaseTableWriter", "FOVVesselReport", "MetricsJSONWriter", "SegmentationPNGWriter", "classification_row"]
