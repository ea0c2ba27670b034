import numpy as np
import pytest
from PIL import Image

from bundle_common.data.lgg import LGGFormatError, find_lgg_patients, lgg_datalist, mri_datalist
from tests.conftest import shared_dataset


def _write_patient(root, name, n_slices, size=(256, 256), tumour_slices=(), compression=None):
    """A patient folder whose slice k (1-based) has every pixel of its red channel equal to k."""
    folder = root / name
    folder.mkdir(parents=True)
    for k in range(1, n_slices + 1):
        rgb = np.zeros((*size, 3), np.uint8)
        rgb[..., 0] = k
        rgb[..., 1] = 100
        mask = np.zeros(size, np.uint8)
        if k in tumour_slices:
            mask[10:20, 30:40] = 255
        Image.fromarray(rgb).save(folder / f"{name}_{k}.tif", compression=compression)
        Image.fromarray(mask).save(folder / f"{name}_{k}_mask.tif", compression=compression)
    return folder


def test_slices_are_ordered_by_number_not_by_name(tmp_path):
    _write_patient(tmp_path, "P1", 12, tumour_slices=(2, 10))
    (item,) = lgg_datalist(tmp_path, "all")
    assert item["image"].shape == (3, 256, 256, 12) and item["label"].shape == (1, 256, 256, 12)
    assert item["image"][0, 0, 0].tolist() == list(range(1, 13))  # slice k holds k: 1, 2, ..., 12, not 1, 10, 11, 2
    assert [f.rsplit("_", 1)[1] for f in item["files"]] == [f"{k}.tif" for k in range(1, 13)]
    assert item["label"].max(axis=(0, 1, 2)).nonzero()[0].tolist() == [1, 9]  # slices 2 and 10
    assert set(np.unique(item["label"])) == {0, 1} and item["n_slices"] == 12


def test_compressed_and_uncompressed_tiffs_read_the_same(tmp_path):
    a = lgg_datalist(_write_patient(tmp_path / "a", "P1", 3, tumour_slices=(2,)).parent, "all")[0]
    b = lgg_datalist(
        _write_patient(tmp_path / "b", "P1", 3, tumour_slices=(2,), compression="tiff_adobe_deflate").parent, "all"
    )[0]
    np.testing.assert_array_equal(a["image"], b["image"])
    np.testing.assert_array_equal(a["label"], b["label"])


def test_split_by_patient_is_fixed_and_disjoint(tmp_path):
    for i in range(10):
        _write_patient(tmp_path, f"P{i}", 2, size=(256, 256))
    train = [p["patient"] for p in lgg_datalist(tmp_path, "train", val_fraction=0.2, seed=0)]
    validation = [p["patient"] for p in lgg_datalist(tmp_path, "validation", val_fraction=0.2, seed=0)]
    assert len(validation) == 2 and not set(train) & set(validation)
    assert sorted(train + validation) == [f"P{i}" for i in range(10)]
    assert validation == [p["patient"] for p in lgg_datalist(tmp_path, "validation", val_fraction=0.2, seed=0)]
    assert validation != [p["patient"] for p in lgg_datalist(tmp_path, "validation", val_fraction=0.2, seed=3)]
    with pytest.raises(ValueError, match="unknown LGG split 'test'"):
        lgg_datalist(tmp_path, "test")


def test_slice_without_mask_is_named(tmp_path):
    folder = _write_patient(tmp_path, "P1", 3)
    (folder / "P1_2_mask.tif").unlink()
    with pytest.raises(LGGFormatError, match=r"P1_2\.tif: slice without its mask \(P1_2_mask\.tif\)"):
        find_lgg_patients(tmp_path)


def test_mask_without_slice_is_named(tmp_path):
    folder = _write_patient(tmp_path, "P1", 3)
    (folder / "P1_3.tif").unlink()
    with pytest.raises(LGGFormatError, match=r"P1_3_mask\.tif: mask without its slice image"):
        find_lgg_patients(tmp_path)


def test_wrong_size_is_named(tmp_path):
    folder = _write_patient(tmp_path, "P1", 3)
    Image.fromarray(np.zeros((200, 256, 3), np.uint8)).save(folder / "P1_2.tif")
    with pytest.raises(LGGFormatError, match=r"P1_2\.tif: size 256x200, expected 256x256"):
        lgg_datalist(tmp_path, "all")


def test_mask_of_another_size_is_named(tmp_path):
    folder = _write_patient(tmp_path, "P1", 3)
    Image.fromarray(np.zeros((128, 128), np.uint8)).save(folder / "P1_1_mask.tif")
    with pytest.raises(LGGFormatError, match=r"P1_1_mask\.tif: size 128x128 differs from its slice's 256x256"):
        lgg_datalist(tmp_path, "all")


def test_non_binary_mask_is_named(tmp_path):
    folder = _write_patient(tmp_path, "P1", 3)
    mask = np.zeros((256, 256), np.uint8)
    mask[:5, :5] = 128
    mask[5:9, 5:9] = 255
    Image.fromarray(mask).save(folder / "P1_3_mask.tif")
    with pytest.raises(
        LGGFormatError, match=r"P1_3_mask\.tif: expected a binary mask \(0/255\), found values \[0, 128, 255\]"
    ):
        lgg_datalist(tmp_path, "all")


def test_unreadable_slice_is_named(tmp_path):
    folder = _write_patient(tmp_path, "P1", 2)
    (folder / "P1_1.tif").write_bytes(b"II*\x00 not really a tiff")
    with pytest.raises(LGGFormatError, match=r"P1_1\.tif: unreadable image"):
        lgg_datalist(tmp_path, "all")


def test_missing_or_empty_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="LGG dataset folder does not exist"):
        lgg_datalist(tmp_path / "nowhere", "all")
    (tmp_path / "empty_patient").mkdir()
    with pytest.raises(FileNotFoundError, match="no patient folders with slices"):
        lgg_datalist(tmp_path, "all")


def test_inference_reads_one_patient_or_many_of_any_size(tmp_path):
    folder = _write_patient(tmp_path / "many", "P1", 3, size=(120, 100), tumour_slices=(1,))
    _write_patient(tmp_path / "many", "P2", 2, size=(64, 64))
    for k in (1, 2):
        (tmp_path / "many" / "P2" / f"P2_{k}_mask.tif").unlink()  # P2 comes without masks
    many = mri_datalist(tmp_path / "many")
    assert [(p["patient"], p["image"].shape, "label" in p) for p in many] == [
        ("P1", (3, 120, 100, 3), True),
        ("P2", (3, 64, 64, 2), False),
    ]
    (one,) = mri_datalist(folder)
    assert one["patient"] == "P1" and one["label"].shape == (1, 120, 100, 3)


def test_reads_the_shared_kaggle_3m_patients():
    folder = shared_dataset("lgg/kaggle_3m")
    patients = find_lgg_patients(folder)
    assert len(patients) == 31 and sum(len(p["images"]) for p in patients) == 1039
    validation = lgg_datalist(folder, "validation")
    assert len(validation) == 6
    item = validation[0]
    assert item["image"].dtype == np.uint8 and item["image"].shape[:3] == (3, 256, 256)
    assert item["label"].shape == (1, 256, 256, item["n_slices"])
    tumour_slices = sum(int(np.any(p["label"], axis=(0, 1, 2)).sum()) for p in lgg_datalist(folder, "all"))
    assert tumour_slices == 357
