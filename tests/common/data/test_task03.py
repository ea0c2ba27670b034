import gzip
import json
import re

import nibabel as nib
import numpy as np
import pytest

from bundle_common.data.task03 import (
    Task03FormatError,
    check_task03_case,
    ct_datalist,
    find_task03_cases,
    liver_datalist,
)
from tests.conftest import shared_dataset

SHAPE = (8, 8, 4)
AFFINE = np.diag([0.8, 0.8, 2.5, 1.0])


def _save(path, array, affine=AFFINE):
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(array, affine), path)
    return path


def _write_case(root, number, label=None, image_shape=SHAPE, label_affine=AFFINE):
    """``imagesTr/liver_N.nii.gz`` (int16 CT) and ``labelsTr/liver_N.nii.gz`` (uint8, a liver block and a tumour)."""
    image = _save(root / "imagesTr" / f"liver_{number}.nii.gz", np.full(image_shape, number, np.int16))
    if label is None:
        label = np.zeros(SHAPE, np.uint8)
        label[2:6, 2:6, 1:3] = 1
        label[3, 3, 2] = 2
    return image, _save(root / "labelsTr" / f"liver_{number}.nii.gz", label, label_affine)


def _write_junk(root):
    """What the MSD tarball and a Mac leave beside the volumes: AppleDouble ``._*`` files and ``.DS_Store``."""
    for folder in ("imagesTr", "labelsTr"):
        (root / folder / "._liver_0.nii.gz").write_bytes(b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X")
        (root / folder / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")


def _write_dataset_json(root, numbers):
    training = [{"image": f"./imagesTr/liver_{n}.nii.gz", "label": f"./labelsTr/liver_{n}.nii.gz"} for n in numbers]
    (root / "dataset.json").write_text(json.dumps({"name": "Liver", "numTraining": len(numbers), "training": training}))


def test_pairs_by_file_name_in_case_number_order(tmp_path):
    for n in (10, 2, 1):
        _write_case(tmp_path, n)
    _write_junk(tmp_path)
    items = find_task03_cases(tmp_path)
    assert [item["case"] for item in items] == ["liver_1", "liver_2", "liver_10"]  # not liver_1, liver_10, liver_2
    assert items[2] == {
        "image": str(tmp_path / "imagesTr" / "liver_10.nii.gz"),
        "label": str(tmp_path / "labelsTr" / "liver_10.nii.gz"),
        "case": "liver_10",
    }
    assert [item["case"] for item in liver_datalist(tmp_path, "all")] == ["liver_1", "liver_2", "liver_10"]


def test_dataset_json_lists_the_pairs(tmp_path):
    for n in (2, 3, 11, 5):
        _write_case(tmp_path, n)
    _write_junk(tmp_path)
    _write_dataset_json(tmp_path, [11, 3, 2])  # liver_5 is on disk but not listed
    items = find_task03_cases(tmp_path)
    assert [item["case"] for item in items] == ["liver_2", "liver_3", "liver_11"]
    assert all(nib.load(item["image"]).shape == SHAPE and nib.load(item["label"]).shape == SHAPE for item in items)


def test_image_without_label_is_named(tmp_path):
    _write_case(tmp_path, 1)
    _, label = _write_case(tmp_path, 4)
    label.unlink()
    with pytest.raises(Task03FormatError, match=r"imagesTr/liver_4\.nii\.gz: image without its label"):
        find_task03_cases(tmp_path)


def test_label_without_image_is_named(tmp_path):
    _write_case(tmp_path, 1)
    image, _ = _write_case(tmp_path, 4)
    image.unlink()
    with pytest.raises(Task03FormatError, match=r"labelsTr/liver_4\.nii\.gz: label without its image"):
        find_task03_cases(tmp_path)


def test_file_listed_in_dataset_json_but_missing_is_named(tmp_path):
    _write_case(tmp_path, 1)
    _, label = _write_case(tmp_path, 2)
    _write_dataset_json(tmp_path, [1, 2])
    label.unlink()
    with pytest.raises(Task03FormatError, match=r"labelsTr/liver_2\.nii\.gz: missing label file listed in dataset"):
        find_task03_cases(tmp_path)


def test_malformed_dataset_json_is_named(tmp_path):
    _write_case(tmp_path, 1)
    (tmp_path / "dataset.json").write_text('{"training": [{"image": "./imagesTr/liver_1.nii.gz",')
    with pytest.raises(Task03FormatError, match=r"dataset\.json: unreadable JSON"):
        find_task03_cases(tmp_path)
    (tmp_path / "dataset.json").write_text('{"name": "Liver"}')
    with pytest.raises(Task03FormatError, match=r'dataset\.json: no "training" list'):
        find_task03_cases(tmp_path)
    (tmp_path / "dataset.json").write_text('{"training": ["./imagesTr/liver_1.nii.gz"]}')
    with pytest.raises(Task03FormatError, match=r"dataset\.json: training entry 0 is './imagesTr/liver_1\.nii\.gz'"):
        find_task03_cases(tmp_path)


def test_shape_mismatch_names_both_files_and_shapes(tmp_path):
    image, label = _write_case(tmp_path, 3, image_shape=(8, 8, 5))
    with pytest.raises(Task03FormatError) as error:
        liver_datalist(tmp_path, "all")
    message = str(error.value)
    assert str(label) in message and str(image) in message
    assert "shape (8, 8, 4) differs from its image's (8, 8, 5)" in message


def test_affine_mismatch_names_both_files_and_affines(tmp_path):
    shifted = AFFINE.copy()
    shifted[2, 3] = 5.0
    image, label = _write_case(tmp_path, 3, label_affine=shifted)
    with pytest.raises(Task03FormatError) as error:
        check_task03_case({"image": str(image), "label": str(label)})
    message = str(error.value)
    assert str(label) in message and str(image) in message
    assert "[0.0, 0.0, 2.5, 5.0]" in message and "[0.0, 0.0, 2.5, 0.0]" in message
    tiny = AFFINE.copy()
    tiny[0, 3] = 1e-4  # within atol 1e-3: the same grid
    image, label = _write_case(tmp_path / "tiny", 3, label_affine=tiny)
    check_task03_case({"image": str(image), "label": str(label)})


def test_unexpected_label_values_are_named(tmp_path):
    label = np.zeros(SHAPE, np.uint8)
    label[0, 0, 0], label[1, 1, 1], label[2, 2, 2] = 1, 3, 7
    _write_case(tmp_path, 1)
    _write_case(tmp_path, 5, label=label)
    with pytest.raises(Task03FormatError, match=r"labelsTr/liver_5\.nii\.gz: unexpected label values \[3, 7\]"):
        liver_datalist(tmp_path, "all")
    assert len(liver_datalist(tmp_path, "all", check=False)) == 2  # check=False reads no voxels


def test_non_3d_volume_is_named(tmp_path):
    image, label = _write_case(tmp_path, 1)
    _save(image, np.zeros((*SHAPE, 2), np.int16))
    with pytest.raises(Task03FormatError, match=r"imagesTr/liver_1\.nii\.gz: expected a 3D volume, found shape"):
        check_task03_case({"image": str(image), "label": str(label)})


def test_corrupt_nii_gz_is_named(tmp_path):
    image, label = _write_case(tmp_path, 1)
    image.write_bytes(b"\x1f\x8b\x08\x00 not really gzip")
    with pytest.raises(Task03FormatError, match=r"imagesTr/liver_1\.nii\.gz: unreadable NIfTI file"):
        check_task03_case({"image": str(image), "label": str(label)})
    image.write_bytes(b"plain text, not gzip at all")
    with pytest.raises(Task03FormatError, match=r"imagesTr/liver_1\.nii\.gz: unreadable NIfTI file"):
        check_task03_case({"image": str(image), "label": str(label)})

    # a label whose header is intact but whose compressed voxels are cut short
    big = np.random.default_rng(0).integers(0, 3, (32, 32, 16), dtype=np.uint8)
    image, label = _write_case(tmp_path / "cut", 2, image_shape=big.shape)
    _save(label, big)
    data = label.read_bytes()
    label.write_bytes(data[: len(data) // 2])
    assert nib.load(label).shape == big.shape
    with pytest.raises(Task03FormatError, match=r"labelsTr/liver_2\.nii\.gz: truncated or corrupt gzip data"):
        check_task03_case({"image": str(image), "label": str(label)})


def test_missing_file_is_named(tmp_path):
    image, label = _write_case(tmp_path, 1)
    label.unlink()
    with pytest.raises(Task03FormatError, match=r"labelsTr/liver_1\.nii\.gz: file missing"):
        check_task03_case({"image": str(image), "label": str(label)})


def test_split_by_case_is_fixed_disjoint_and_covering(tmp_path):
    for n in range(10):
        _write_case(tmp_path, n)
    train = [item["case"] for item in liver_datalist(tmp_path, "train", val_fraction=0.2, seed=0)]
    validation = [item["case"] for item in liver_datalist(tmp_path, "validation", val_fraction=0.2, seed=0)]
    assert len(validation) == 2 and len(train) == 8 and not set(train) & set(validation)
    assert sorted(train + validation) == sorted(f"liver_{n}" for n in range(10))
    assert validation == [item["case"] for item in liver_datalist(tmp_path, "validation", val_fraction=0.2, seed=0)]
    assert validation != [item["case"] for item in liver_datalist(tmp_path, "validation", val_fraction=0.2, seed=3)]
    assert liver_datalist(tmp_path, "all") == find_task03_cases(tmp_path)
    with pytest.raises(ValueError, match="unknown Task03 split 'test'"):
        liver_datalist(tmp_path, "test")


def test_missing_or_empty_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nowhere: Task03 dataset folder does not exist"):
        find_task03_cases(tmp_path / "nowhere")
    (tmp_path / "imagesTr").mkdir()
    (tmp_path / "labelsTr").mkdir()
    _write_junk(tmp_path)  # junk alone is no case
    with pytest.raises(FileNotFoundError, match=rf"{re.escape(str(tmp_path))}: no cases"):
        find_task03_cases(tmp_path)
    _write_dataset_json(tmp_path, [])
    with pytest.raises(FileNotFoundError, match=rf"{re.escape(str(tmp_path))}: no cases"):
        find_task03_cases(tmp_path)


def test_ct_datalist_reads_a_task03_folder_with_labels_where_present(tmp_path):
    for n in (1, 2):
        _write_case(tmp_path, n)
    image, label = _write_case(tmp_path, 3)
    label.unlink()
    _write_junk(tmp_path)
    items = ct_datalist(tmp_path)
    assert [(item["case"], "label" in item) for item in items] == [
        ("liver_1", True),
        ("liver_2", True),
        ("liver_3", False),
    ]
    assert items[0]["label"] == str(tmp_path / "labelsTr" / "liver_1.nii.gz") and items[2]["image"] == str(image)


def test_ct_datalist_reads_a_folder_of_volumes(tmp_path):
    _save(tmp_path / "scan_b.nii.gz", np.zeros(SHAPE, np.int16))
    _save(tmp_path / "scan_a.nii", np.zeros(SHAPE, np.int16))
    (tmp_path / "._scan_a.nii").write_bytes(b"Mac OS X")
    (tmp_path / "notes.txt").write_text("not a volume")
    assert ct_datalist(tmp_path) == [
        {"image": str(tmp_path / "scan_a.nii"), "case": "scan_a"},
        {"image": str(tmp_path / "scan_b.nii.gz"), "case": "scan_b"},
    ]
    with gzip.open(tmp_path / "scan_c.nii.gz", "wb") as f:  # every file is checked before the list is returned
        f.write(b"")
    with pytest.raises(Task03FormatError, match=r"scan_c\.nii\.gz: unreadable NIfTI file"):
        ct_datalist(tmp_path)
    with pytest.raises(FileNotFoundError, match="input folder does not exist"):
        ct_datalist(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=r"empty: no NIfTI files"):
        ct_datalist(tmp_path / "empty")


def test_reads_the_shared_task03_liver_cases():
    folder = shared_dataset("liver/Task03_Liver")
    items = find_task03_cases(folder)
    assert [item["case"] for item in items] == ["liver_1", "liver_7"]
    for item in items:
        check_task03_case(item)
        assert set(np.unique(np.asanyarray(nib.load(item["label"]).dataobj)).tolist()) == {0, 1, 2}
    train, validation = liver_datalist(folder, "train"), liver_datalist(folder, "validation")
    assert len(train) == 1 and len(validation) == 1
    assert {train[0]["case"], validation[0]["case"]} == {"liver_1", "liver_7"}
    assert [item["case"] for item in ct_datalist(folder)] == ["liver_1", "liver_7"]
    assert all("label" in item for item in ct_datalist(folder))
