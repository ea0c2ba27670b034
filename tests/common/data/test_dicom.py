"""DICOM CT series: the checks of a series folder, and reading it as the liver bundles do (MONAI's PydicomReader)."""

import logging
import shutil

import nibabel as nib
import numpy as np
import pytest

from bundle_common.data.dicom import CTReader, DicomSeriesError, check_ct_series, load_ct
from bundle_common.data.task03 import Task03FormatError, ct_datalist
from tests.conftest import shared_dataset

pydicom = pytest.importorskip("pydicom")
from bundle_tools.data.dicom_series import write_ct_series  # noqa: E402

SHAPE = (12, 10, 7)  # columns, rows, slices


def _oblique_affine(slice_step: float = -2.5) -> np.ndarray:
    """A RAS affine turned about all three axes, slices stepping against the normal when ``slice_step`` < 0."""
    from scipy.spatial.transform import Rotation

    affine = np.eye(4)
    affine[:3, :3] = Rotation.from_euler("xyz", [10, -20, 30], degrees=True).as_matrix() @ np.diag(
        [0.7, 0.8, slice_step]
    )
    affine[:3, 3] = [10.0, -20.0, 30.0]
    return affine


@pytest.fixture
def series(tmp_path, rng):
    volume = rng.integers(-1000, 1500, size=SHAPE).astype(np.float32)
    affine = _oblique_affine()
    folder = tmp_path / "series"
    files = write_ct_series(folder, volume, affine)
    return folder, files, volume, affine


@pytest.mark.parametrize("slice_step", [2.5, -2.5])
def test_a_series_reads_back_to_its_voxels_and_geometry(tmp_path, rng, slice_step):
    volume = rng.integers(-1000, 1500, size=SHAPE).astype(np.float32)
    affine = _oblique_affine(slice_step)
    files = write_ct_series(tmp_path / "s", volume, affine)
    assert sorted(p.name for p in files) != [p.name for p in files]  # the file names' order is not the slices'
    headers = check_ct_series(tmp_path / "s")
    assert [h.SOPInstanceUID for h in headers] == [pydicom.dcmread(p).SOPInstanceUID for p in files]
    voxels, read_affine = load_ct(tmp_path / "s")
    np.testing.assert_array_equal(voxels, volume)  # rescale intercept -1024 applied
    np.testing.assert_allclose(read_affine, affine, atol=1e-6)


def _edit(path, **tags):
    ds = pydicom.dcmread(path)
    for name, value in tags.items():
        setattr(ds, name, value)
    ds.save_as(path)


def _bad_series(kind, folder, files, tmp_path):
    """Spoil the series in ``folder`` one way; returns (the file the message names, a phrase of the message)."""
    middle = files[len(files) // 2]
    if kind == "two series mixed":
        other = write_ct_series(tmp_path / "other", np.zeros((SHAPE[0], SHAPE[1], 3)), _oblique_affine(), seed=1)
        for path in other:
            shutil.copy(path, folder / f"other_{path.name}")
        return None, "holds 2 series"
    if kind == "slice missing":
        middle.unlink()
        return files[len(files) // 2 - 1].name, "uneven slice spacing"
    if kind == "MR slice":
        _edit(middle, Modality="MR", SeriesInstanceUID=pydicom.uid.generate_uid())
        return middle.name, "has modality MR, not CT"
    if kind == "truncated file":
        middle.write_bytes(middle.read_bytes()[:-40])
        return middle.name, "truncated"
    if kind == "not DICOM":
        (folder / "notes.txt").write_text("not a slice")
        return "notes.txt", "not a DICOM file"
    if kind == "repeated slice":
        shutil.copy(middle, folder / "copy")
        _edit(folder / "copy", InstanceNumber=99, SOPInstanceUID=pydicom.uid.generate_uid())
        return "copy", "same position"
    if kind == "numbers against positions":
        _edit(files[0], InstanceNumber=50)
        return None, "InstanceNumber order does not follow their positions"
    if kind == "other size":
        ds = pydicom.dcmread(middle)
        ds.Rows, ds.PixelData = 5, ds.PixelData[: 5 * SHAPE[0] * 2]
        ds.save_as(middle)
        return middle.name, "Rows 5 differs from the other slices' 10 (6 of 7)"
    raise AssertionError(kind)


BAD_SERIES = [
    "two series mixed",
    "slice missing",
    "MR slice",
    "truncated file",
    "not DICOM",
    "repeated slice",
    "numbers against positions",
    "other size",
]


@pytest.mark.parametrize("kind", BAD_SERIES)
def test_a_bad_series_is_one_error_naming_the_folder_and_file(kind, series, tmp_path):
    folder, files, _, _ = series
    named, phrase = _bad_series(kind, folder, files, tmp_path)
    with pytest.raises(DicomSeriesError) as error:
        check_ct_series(folder)
    message = str(error.value)
    assert message.startswith(f"{folder}: ") and phrase in message
    if named:
        assert named in message


def test_a_folder_without_files_or_with_one_slice_is_refused(tmp_path, rng):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DicomSeriesError, match="no files"):
        check_ct_series(tmp_path / "empty")
    write_ct_series(tmp_path / "one", rng.normal(size=(4, 4, 1)), np.eye(4))
    with pytest.raises(DicomSeriesError, match="a single slice"):
        check_ct_series(tmp_path / "one")


def test_the_ct_datalist_takes_nifti_files_and_series_folders(tmp_path, rng):
    volume = rng.normal(size=SHAPE).astype(np.float32)
    nib.save(nib.Nifti1Image(volume, np.eye(4)), tmp_path / "b_case.nii.gz")
    write_ct_series(tmp_path / "a_series", volume, _oblique_affine())
    write_ct_series(tmp_path / "1.2.840.5", volume, _oblique_affine())
    (tmp_path / ".hidden").mkdir()
    items = ct_datalist(tmp_path)
    assert [(item["case"], item["image"]) for item in items] == [
        ("b_case", str(tmp_path / "b_case.nii.gz")),
        ("1.2.840.5", str(tmp_path / "1.2.840.5")),
        ("a_series", str(tmp_path / "a_series")),
    ]
    write_ct_series(tmp_path / "b_case", volume, _oblique_affine())
    with pytest.raises(Task03FormatError, match="b_case.nii.gz and b_case are both case 'b_case'"):
        ct_datalist(tmp_path)


def test_the_ct_datalist_checks_every_series_first(tmp_path, rng):
    for name in ("a", "b"):
        write_ct_series(tmp_path / name, rng.normal(size=SHAPE), _oblique_affine())
    next((tmp_path / "b").iterdir()).unlink()
    with pytest.raises(DicomSeriesError, match=f"^{tmp_path / 'b'}: "):
        ct_datalist(tmp_path)


def test_a_series_folder_given_itself_says_to_pass_its_parent(series):
    folder = series[0]
    with pytest.raises(FileNotFoundError, match="pass the folder that holds it"):
        ct_datalist(folder)


def test_the_reader_takes_each_path_to_its_reader_without_logging_failures(series, tmp_path, caplog):
    from monai.transforms import LoadImage

    folder, _, volume, affine = series
    nib.save(nib.Nifti1Image(volume, affine), tmp_path / "twin.nii.gz")
    load = LoadImage(reader=CTReader(), image_only=True)
    with caplog.at_level(logging.INFO):
        from_series, from_nifti = load(str(folder)), load(str(tmp_path / "twin.nii.gz"))
    assert not [r for r in caplog.records if "unable to load" in r.getMessage()]
    np.testing.assert_array_equal(from_series.numpy(), from_nifti.numpy())
    np.testing.assert_allclose(from_series.affine.numpy(), from_nifti.affine.numpy(), atol=1e-5)


@pytest.fixture(scope="module")
def real_series():
    return shared_dataset("liver_dicom") / "3Dircadb1.1" / "PATIENT_DICOM"


def test_the_real_series_reads_as_the_shared_nifti_was_made(real_series):
    headers = check_ct_series(real_series)
    assert len(headers) == 129 and [int(h.InstanceNumber) for h in headers] == list(range(129))
    voxels, affine = load_ct(real_series)
    assert voxels.shape == (512, 512, 129)
    np.testing.assert_allclose(np.diag(affine)[:3], [-0.57, -0.57, 1.6], atol=1e-6)
    assert nib.aff2axcodes(affine) == ("L", "P", "S")  # as liver_1.nii.gz, which was made from it
    assert voxels.min() == -1024 and voxels.max() == 1023
