import numpy as np
import pytest
from PIL import Image

from bundle_common.data.drive import DriveFormatError, drive_datalist, estimate_fov, find_drive_cases, fundus_datalist
from tests.conftest import shared_dataset


def _case(root, folder, number, size=(20, 16), label_values=(0, 255)):
    """Write one DRIVE case of width x height ``size``: a bright disc FOV, a vertical vessel."""
    width, height = size
    for sub in ("images", "1st_manual", "mask"):
        (root / folder / sub).mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[:height, :width]
    fov = (yy - height / 2) ** 2 + (xx - width / 2) ** 2 < (min(size) / 2) ** 2
    vessel = fov & (np.abs(xx - width // 2) < 2)
    rgb = np.zeros((height, width, 3), np.uint8)
    rgb[fov] = (200, 100, 50)
    rgb[vessel] = (150, 60, 30)
    Image.fromarray(rgb).save(root / folder / "images" / f"{number}_{folder}.tif")
    label = np.where(vessel, label_values[1], label_values[0]).astype(np.uint8)
    Image.fromarray(label).save(root / folder / "1st_manual" / f"{number}_manual1.gif")
    Image.fromarray(fov.astype(np.uint8) * 255).save(root / folder / "mask" / f"{number}_{folder}_mask.gif")
    return vessel, fov


def test_reads_cases_as_arrays_in_drive_geometry(tmp_path):
    vessel, fov = _case(tmp_path, "training", "21")
    _case(tmp_path, "training", "22")
    _case(tmp_path, "test", "01")
    items = drive_datalist(tmp_path, "all")
    assert [item["case"] for item in items] == ["21_training", "22_training", "01_test"]
    first = items[0]
    assert first["image"].shape == (3, 16, 20) and first["image"].dtype == np.float32
    assert first["image"].max() == pytest.approx(200 / 255)
    np.testing.assert_array_equal(first["label"][0], vessel)
    np.testing.assert_array_equal(first["mask"][0], fov)
    assert first["file"].endswith("training/images/21_training.tif")


def test_train_validation_split_by_image(tmp_path):
    for number in range(21, 31):
        _case(tmp_path, "training", str(number))
    train = {d["case"] for d in drive_datalist(tmp_path, "train", val_fraction=0.2, seed=0)}
    validation = {d["case"] for d in drive_datalist(tmp_path, "validation", val_fraction=0.2, seed=0)}
    assert len(train) == 8 and len(validation) == 2 and not train & validation
    with pytest.raises(FileNotFoundError, match="test/images: missing"):
        drive_datalist(tmp_path, "test")


def test_missing_mask_names_the_file(tmp_path):
    _case(tmp_path, "training", "21")
    (tmp_path / "training" / "mask" / "21_training_mask.gif").unlink()
    with pytest.raises(
        FileNotFoundError, match=r"mask/21_training_mask.gif: missing field-of-view mask for .*21_training"
    ):
        find_drive_cases(tmp_path, "training")


def test_wrong_size_label(tmp_path):
    _case(tmp_path, "training", "21")
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(tmp_path / "training" / "1st_manual" / "21_manual1.gif")
    with pytest.raises(DriveFormatError, match=r"21_manual1.gif: size 10x10 differs from its image's 20x16"):
        drive_datalist(tmp_path, "all")


def test_unreadable_tif_and_non_binary_label(tmp_path):
    _case(tmp_path, "training", "21")
    (tmp_path / "training" / "images" / "21_training.tif").write_bytes(b"II*\x00 truncated")
    with pytest.raises(ValueError, match=r"21_training.tif: unreadable image"):
        drive_datalist(tmp_path, "all")
    _case(tmp_path, "training", "21", label_values=(0, 128))
    with pytest.raises(DriveFormatError, match=r"21_manual1.gif: expected a binary image"):
        drive_datalist(tmp_path, "all")


def test_missing_folder_and_unknown_split(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere: DRIVE dataset folder does not exist"):
        drive_datalist(tmp_path / "nowhere", "test")
    with pytest.raises(ValueError, match="unknown DRIVE split"):
        drive_datalist(tmp_path, "val")


def test_fundus_datalist_uses_drive_siblings_or_estimates_the_fov(tmp_path):
    vessel, fov = _case(tmp_path, "test", "01")
    items = fundus_datalist(tmp_path / "test" / "images")
    np.testing.assert_array_equal(items[0]["mask"][0], fov)
    np.testing.assert_array_equal(items[0]["label"][0], vessel)
    loose = tmp_path / "loose"
    loose.mkdir()
    Image.open(tmp_path / "test" / "images" / "01_test.tif").save(loose / "photo.png")
    (loose / "readme.txt").write_text("skipped")
    items = fundus_datalist(loose)
    assert [item["case"] for item in items] == ["photo"] and "label" not in items[0]
    np.testing.assert_array_equal(items[0]["mask"][0], fov)  # the bright disc, estimated
    np.testing.assert_array_equal(estimate_fov(np.zeros((3, 4, 4), np.float32)), np.zeros((1, 4, 4), np.uint8))


def test_real_drive_training_set():
    folder = shared_dataset("drive")
    items = drive_datalist(folder, "all")
    assert len(items) == 20
    assert all(item["image"].shape == (3, 584, 565) for item in items)
    fractions = [item["label"][item["mask"] > 0].mean() for item in items]
    assert np.mean(fractions) == pytest.approx(0.125, abs=0.005)
    assert len(drive_datalist(folder, "validation")) == 4
