"""Ignite handlers that write what an evaluation or inference run produced."""

from .case_table import CaseTableWriter, classification_row
from .metrics_json import MetricsJSONWriter

__all__ = ["CaseTableWriter", "MetricsJSONWriter", "classification_row"]
