"""3D-IRCADb-01's DICOM layout: cases found and checked, mask series read into the Task03 label map on the CT's grid."""

import shutil

import numpy as np
import pytest

from bundle_common.data.dicom import DicomSeriesError, load_ct
from bundle_common.data.ircadb import LabelFromMaskSeriesd, ircadb_cases, is_ircadb_folder

pytest.importorskip("pydicom")
from bundle_tools.data.dicom_series import write_ct_series, write_ircadb_case  # noqa: E402

SHAPE = (14, 12, 8)


def _label() -> np.ndarray:
    label = np.zeros(SHAPE, np.uint8)
    label[2:11, 3:10, 1:7] = 1
    label[4:7, 5:8, 2:4] = 2
    return label


@pytest.fixture
def case(tmp_path, rng):
    affine = np.diag([-0.7, -0.7, 2.0, 1.0])
    ct = rng.integers(-200, 300, size=SHAPE).astype(np.float32)
    write_ircadb_case(tmp_path / "data" / "3Dircadb1.1", ct, _label(), affine)
    (tmp_path / "data" / "3Dircadb1.1" / "MASKS_DICOM" / "artery").mkdir()  # other structures are not read
    return tmp_path / "data"


def test_the_cases_and_their_masks_are_found(case):
    assert is_ircadb_folder(case) and not is_ircadb_folder(case / "3Dircadb1.1")
    [item] = ircadb_cases(case)
    masks = case / "3Dircadb1.1" / "MASKS_DICOM"
    assert item == {
        "image": str(case / "3Dircadb1.1" / "PATIENT_DICOM"),
        "masks": {"1": [str(masks / "liver")], "2": [str(masks / "livertumor01"), str(masks / "livertumor02")]},
        "case": "3Dircadb1.1",
    }


def test_the_masks_become_the_task03_label_map_on_the_ct_grid(case):
    [item] = ircadb_cases(case)
    out = LabelFromMaskSeriesd()(item)
    assert "masks" not in out
    _, ct_affine = load_ct(item["image"])
    np.testing.assert_array_equal(out["label"].numpy()[0], _label())
    np.testing.assert_allclose(out["label"].affine.numpy(), ct_affine, atol=1e-6)
    nifti_item = {"image": "ct.nii.gz", "label": "label.nii.gz"}
    assert LabelFromMaskSeriesd()(nifti_item) == nifti_item  # a NIfTI case passes unchanged


def test_a_missing_liver_mask_says_what_to_do(case):
    masks = case / "3Dircadb1.1" / "MASKS_DICOM"
    shutil.rmtree(masks / "liver")
    (case / "3Dircadb1.1" / "MASKS_DICOM.zip").write_bytes(b"PK")
    with pytest.raises(DicomSeriesError, match=r"liver: missing: the liver's mask series \(unzip MASKS_DICOM.zip"):
        ircadb_cases(case)


def test_a_mask_off_the_ct_slices_is_named(case):
    tumour = case / "3Dircadb1.1" / "MASKS_DICOM" / "livertumor02"
    shutil.rmtree(tumour)
    shifted = np.diag([-0.7, -0.7, 2.0, 1.0])
    shifted[2, 3] = 1.0
    write_ct_series(tumour, np.zeros(SHAPE), shifted)
    with pytest.raises(DicomSeriesError, match="livertumor02: the mask series does not lie on the CT's slices"):
        ircadb_cases(case)
