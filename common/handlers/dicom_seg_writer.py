"""A DICOM Segmentation (SEG) per predicted CT that came from a DICOM series: what 3D Slicer, OHIF or a PACS opens."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from ..arrays import as_numpy
from ..data.dicom import DICOM_EXTRA, check_ct_series
from ..errors import BundleInputError
from ..io import atomic_path
from .items import decollated_pairs, merged_item

__all__ = ["DicomSegWriter", "dicom_seg", "frame_of_reference"]

logger = logging.getLogger(__name__)


def _highdicom():
    try:
        import highdicom
    except ImportError as e:
        raise BundleInputError(f"writing a DICOM SEG needs highdicom: {DICOM_EXTRA}.") from e
    return highdicom


def frame_of_reference(headers: Sequence) -> str:
    """The series' ``FrameOfReferenceUID``; where it has none (the CT IOD requires one, but 3D-IRCADb's files lack
    it), a UID derived from its study and series UIDs, the same on every run."""
    uid = getattr(headers[0], "FrameOfReferenceUID", None)
    if uid:
        return str(uid)
    from pydicom.uid import generate_uid

    return generate_uid(entropy_srcs=[str(headers[0].StudyInstanceUID), str(headers[0].SeriesInstanceUID)])


def _code(pair: Sequence):
    """A SNOMED CT code from ``[code value, meaning]``."""
    from pydicom.sr.coding import Code

    return Code(str(pair[0]), "SCT", str(pair[1]))


def dicom_seg(
    label_map: np.ndarray,
    headers: Sequence,
    segments: Sequence[Mapping],
    algorithm: Mapping[str, str],
    series_number: int = 300,
):
    """A binary DICOM SEG (a highdicom ``Segmentation``) of ``label_map`` over the CT slices ``headers``.

    Args:
        label_map: (X, Y, Z) integer labels on the series' grid as MONAI's ``PydicomReader`` reads it: X along the
            columns, Y along the rows, Z in the order of ``headers``.
        headers: the series' slices (pydicom datasets, pixel data not needed) in the reader's order,
            :func:`~bundle_common.data.dicom.check_ct_series`.
        segments: one mapping a label value 1, 2, ...: ``label`` (its name), ``category`` and ``type`` (SNOMED CT
            ``[code, meaning]``, DICOM CID 7150 / 7151) and optionally ``region`` (the anatomic region, the same).
        algorithm: ``name`` and ``version`` of the model, recorded as an automatic AI segmentation.
    """
    hd = _highdicom()
    from pydicom.sr.codedict import codes

    rows, columns = int(headers[0].Rows), int(headers[0].Columns)
    if label_map.shape != (columns, rows, len(headers)):
        raise ValueError(
            f"label map {label_map.shape} does not lie on the series' grid ({columns}, {rows}, {len(headers)})."
        )
    unknown = np.setdiff1d(np.unique(label_map), np.arange(len(segments) + 1))
    if unknown.size:
        raise ValueError(f"label values {unknown.tolist()} have no segment (0 and 1..{len(segments)} have).")
    frame_uid = frame_of_reference(headers)
    sources = []
    for header in headers:  # copies: the caller's headers stay as read
        source = header.copy()
        source.FrameOfReferenceUID = frame_uid
        sources.append(source)
    identification = hd.AlgorithmIdentificationSequence(
        name=str(algorithm["name"]), version=str(algorithm["version"]), family=codes.cid7162.ArtificialIntelligence
    )
    descriptions = [
        hd.seg.SegmentDescription(
            segment_number=number,
            segment_label=str(segment["label"]),
            segmented_property_category=_code(segment["category"]),
            segmented_property_type=_code(segment["type"]),
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
            algorithm_identification=identification,
            anatomic_regions=[_code(segment["region"])] if segment.get("region") else None,
        )
        for number, segment in enumerate(segments, start=1)
    ]
    frames = np.ascontiguousarray(np.transpose(label_map, (2, 1, 0))).astype(np.uint8)  # (slices, rows, columns)
    return hd.seg.Segmentation(
        source_images=sources,
        pixel_array=frames,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions,
        series_instance_uid=hd.UID(),
        series_number=series_number,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer="MONAI bundle collection",
        manufacturer_model_name=str(algorithm["name"]),
        software_versions=str(algorithm["version"]),
        device_serial_number="none",
        series_description=f"{algorithm['name']} {algorithm['version']}",
    )


class DicomSegWriter:
    """For every predicted CT read from a DICOM series folder, write ``output_dir/<case>_<postfix>.dcm``: a binary DICOM
    Segmentation (:func:`dicom_seg`) of the label map that references the series (study, series and SOP instance
    UIDs, frame of reference); cases read from NIfTI files are left to the other writers.

    Reads ``pred_key`` from the decollated ``engine.state.output`` (the label map on the original CT's grid, inverted,
    e.g. by ``Invertd``), and the series folder from its ``meta["filename_or_obj"]`` (else the ``image_key`` item's);
    ``<case>`` is the folder's name. The SEG names the model ``algorithm_name`` at the ``version`` of
    ``metadata_file`` (the bundle's ``metadata.json``). When the run's data holds a series folder, highdicom is
    needed before the first case. Each file is written through a temporary name.
    """

    def __init__(
        self,
        output_dir: str | os.PathLike,
        segments: Sequence[Mapping],
        algorithm_name: str,
        metadata_file: str | os.PathLike,
        pred_key: str = "pred",
        image_key: str = "image",
        postfix: str = "seg",
    ) -> None:
        self.output_dir = Path(output_dir)
        self.segments = [dict(segment) for segment in segments]
        version = json.loads(Path(metadata_file).read_text())["version"]
        self.algorithm = {"name": str(algorithm_name), "version": str(version)}
        self.pred_key, self.image_key, self.postfix = pred_key, image_key, postfix

    def attach(self, engine) -> None:
        from ignite.engine import Events

        items = getattr(getattr(getattr(engine, "data_loader", None), "dataset", None), "data", None) or []
        if any(isinstance(item, Mapping) and Path(str(item.get(self.image_key, ""))).is_dir() for item in items):
            _highdicom()  # before anything is written
        engine.add_event_handler(Events.ITERATION_COMPLETED, self)

    def __call__(self, engine) -> None:
        for batch_item, output_item in decollated_pairs(engine, type(self).__name__):
            self.write(merged_item(batch_item, output_item))

    def _series(self, item: dict) -> Path | None:
        for value in (item[self.pred_key], item.get(self.image_key)):
            source = getattr(value, "meta", {}).get("filename_or_obj")
            if source:
                return Path(str(source)) if Path(str(source)).is_dir() else None
        image = item.get(self.image_key)
        return Path(image) if isinstance(image, (str, os.PathLike)) and Path(image).is_dir() else None

    def write(self, item: dict) -> Path | None:
        """Write one case's SEG; returns its path, or None for a case that is not a DICOM series."""
        folder = self._series(item)
        if folder is None:
            return None
        headers = check_ct_series(folder)
        if not getattr(headers[0], "FrameOfReferenceUID", None):
            logger.warning(
                "%s has no FrameOfReferenceUID (the CT IOD requires one); the SEG names %s, derived from its study "
                "and series UIDs.",
                folder,
                frame_of_reference(headers),
            )
        label_map = as_numpy(item[self.pred_key])
        label_map = label_map[0] if label_map.ndim == 4 else label_map
        try:
            seg = dicom_seg(label_map, headers, self.segments, self.algorithm)
        except ValueError as error:
            raise ValueError(f"{folder}: {error}") from error
        path = self.output_dir / f"{folder.name}_{self.postfix}.dcm"
        with atomic_path(path, suffix=".tmp.dcm") as tmp:
            seg.save_as(tmp)
        return path
