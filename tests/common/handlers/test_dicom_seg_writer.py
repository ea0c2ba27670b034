"""The DICOM SEG writer: what it writes reads back, with highdicom and with plain pydicom, as the label map over the
source series."""

import json
import logging

import numpy as np
import pytest
import torch
from monai.data import MetaTensor

from bundle_common.data.dicom import check_ct_series
from bundle_common.handlers import DicomSegWriter
from bundle_common.handlers.dicom_seg_writer import frame_of_reference
from tests.conftest import decollating_engine

pydicom = pytest.importorskip("pydicom")
hd = pytest.importorskip("highdicom")
from bundle_tools.data.dicom_series import write_ct_series  # noqa: E402

SHAPE = (16, 12, 9)  # columns, rows, slices
SEGMENTS = [
    {"label": "liver", "category": [91723000, "Anatomical Structure"], "type": [10200004, "Liver"]},
    {
        "label": "liver tumour",
        "category": [49755003, "Morphologically Abnormal Structure"],
        "type": [108369006, "Neoplasm"],
        "region": [10200004, "Liver"],
    },
]


def _affine() -> np.ndarray:
    affine = np.diag([-0.8, -0.7, 2.5, 1.0])
    affine[:3, 3] = [40.0, 30.0, -100.0]
    return affine


def _label_map() -> np.ndarray:
    label = np.zeros(SHAPE, np.uint8)
    label[3:12, 2:10, 2:8] = 1  # liver on slices 2..7
    label[5:8, 4:7, 4:6] = 2  # tumour on slices 4, 5
    return label


@pytest.fixture
def writer(tmp_path):
    metadata = tmp_path / "metadata.json"
    metadata.write_text(json.dumps({"version": "9.8.7"}))
    return DicomSegWriter(tmp_path / "out", SEGMENTS, "liver_ct_fine_segmentation", metadata)


def _item(folder, label):
    return {"pred": MetaTensor(torch.as_tensor(label[None]), meta={"filename_or_obj": str(folder)})}


def test_the_seg_reads_back_with_highdicom_as_the_label_map_over_the_series(tmp_path, writer):
    folder = tmp_path / "ct_1.2.3"
    files = write_ct_series(folder, np.zeros(SHAPE), _affine())
    sources = [pydicom.dcmread(p) for p in files]
    label = _label_map()
    path = writer.write(_item(folder, label))
    assert path == tmp_path / "out" / "ct_1.2.3_seg.dcm"
    assert sorted(p.name for p in path.parent.iterdir()) == ["ct_1.2.3_seg.dcm"]  # no temporary file left
    seg = hd.seg.segread(path)
    assert seg.SegmentationType == "BINARY" and seg.Modality == "SEG"
    assert [(s.SegmentNumber, s.SegmentLabel) for s in seg.SegmentSequence] == [(1, "liver"), (2, "liver tumour")]
    liver, tumour = seg.SegmentSequence
    assert liver.SegmentedPropertyTypeCodeSequence[0].CodeValue == "10200004"
    assert tumour.SegmentedPropertyCategoryCodeSequence[0].CodeValue == "49755003"
    assert tumour.AnatomicRegionSequence[0].CodeMeaning == "Liver"
    assert liver.SegmentAlgorithmName == "liver_ct_fine_segmentation" and seg.SoftwareVersions == "9.8.7"
    # the source series: study, series, instances, frame of reference
    assert seg.StudyInstanceUID == sources[0].StudyInstanceUID
    assert seg.FrameOfReferenceUID == sources[0].FrameOfReferenceUID
    referenced = seg.ReferencedSeriesSequence[0]
    assert referenced.SeriesInstanceUID == sources[0].SeriesInstanceUID
    assert {r.ReferencedSOPInstanceUID for r in referenced.ReferencedInstanceSequence} == {
        s.SOPInstanceUID for s in sources
    }
    # frames: one a slice and segment present (6 liver slices, 2 tumour slices), at their slices' positions
    assert seg.NumberOfFrames == 6 + 2
    pixels = seg.get_pixels_by_source_instance(
        [s.SOPInstanceUID for s in sources], combine_segments=True, assert_missing_frames_are_empty=True
    )
    np.testing.assert_array_equal(pixels, np.transpose(label, (2, 1, 0)))


def test_the_seg_reads_back_with_plain_pydicom(tmp_path, writer):
    folder = tmp_path / "ct"
    files = write_ct_series(folder, np.zeros(SHAPE), _affine())
    sources = {ds.SOPInstanceUID: (z, ds) for z, ds in enumerate(pydicom.dcmread(p) for p in files)}
    label = _label_map()
    seg = pydicom.dcmread(writer.write(_item(folder, label)))
    frames = seg.pixel_array.reshape(int(seg.NumberOfFrames), seg.Rows, seg.Columns)
    rebuilt = np.zeros(SHAPE, np.uint8)
    for frame, functional in zip(frames, seg.PerFrameFunctionalGroupsSequence):
        uid = functional.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID
        z, source = sources[uid]
        position = functional.PlanePositionSequence[0].ImagePositionPatient
        np.testing.assert_allclose([float(v) for v in position], [float(v) for v in source.ImagePositionPatient])
        number = functional.SegmentIdentificationSequence[0].ReferencedSegmentNumber
        rebuilt[:, :, z][frame.T > 0] = number
    np.testing.assert_array_equal(rebuilt, label)


def test_a_series_without_frame_of_reference_gets_one_derived_the_same_each_time(tmp_path, writer, caplog):
    folder = tmp_path / "ircad_like"
    write_ct_series(folder, np.zeros(SHAPE), _affine(), frame_of_reference_uid=None)
    headers = check_ct_series(folder)
    assert "FrameOfReferenceUID" not in headers[0]
    with caplog.at_level(logging.WARNING):
        seg = pydicom.dcmread(writer.write(_item(folder, _label_map())))
    derived = frame_of_reference(headers)
    assert seg.FrameOfReferenceUID == derived == frame_of_reference(check_ct_series(folder))
    assert f"{folder} has no FrameOfReferenceUID" in caplog.text
    assert "FrameOfReferenceUID" not in headers[0]  # the caller's headers stay as read


def test_a_nifti_case_gets_no_seg(tmp_path, writer):
    nifti = tmp_path / "ct.nii.gz"
    nifti.write_bytes(b"")
    assert writer.write(_item(nifti, _label_map())) is None
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("label", "message"),
    [(np.zeros((SHAPE[1], SHAPE[0], SHAPE[2]), np.uint8), "does not lie on the series' grid"), (None, "no segment")],
)
def test_a_label_map_that_does_not_fit_is_an_error_naming_the_series(tmp_path, writer, label, message):
    folder = tmp_path / "ct"
    write_ct_series(folder, np.zeros(SHAPE), _affine())
    if label is None:
        label = _label_map()
        label[0, 0, 0] = 3
    with pytest.raises(ValueError, match=message) as error:
        writer.write(_item(folder, label))
    assert str(error.value).startswith(f"{folder}: ")
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_the_writer_writes_each_dicom_case_of_an_iteration(tmp_path, writer):
    engine = decollating_engine()
    writer.attach(engine)
    label = _label_map()
    folders = [tmp_path / "a", tmp_path / "b"]
    for folder in folders:
        write_ct_series(folder, np.zeros(SHAPE), _affine())
    items = [{"image": str(f)} for f in folders]
    engine.run([{"items": items, "outputs": [_item(f, label) for f in folders]}])
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a_seg.dcm", "b_seg.dcm"]


def test_without_highdicom_a_run_with_a_series_stops_before_its_first_case(tmp_path, writer, monkeypatch):
    from types import SimpleNamespace

    from bundle_common.errors import BundleInputError

    folder = tmp_path / "ct"
    write_ct_series(folder, np.zeros(SHAPE), _affine())
    monkeypatch.setitem(__import__("sys").modules, "highdicom", None)  # import highdicom now fails
    nifti_only = decollating_engine()
    nifti_only.data_loader = SimpleNamespace(dataset=SimpleNamespace(data=[{"image": str(tmp_path / "ct.nii.gz")}]))
    writer.attach(nifti_only)  # NIfTI cases need no highdicom
    with_series = decollating_engine()
    with_series.data_loader = SimpleNamespace(dataset=SimpleNamespace(data=[{"image": str(folder)}]))
    with pytest.raises(BundleInputError, match=r"needs highdicom: pip install 'monai-bundle-collection\[dicom\]'"):
        writer.attach(with_series)
