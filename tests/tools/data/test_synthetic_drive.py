import numpy as np
import pytest
from PIL import Image

from bundle_tools.data.synthetic_drive import synthetic_fundus, write_synthetic_drive


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("drive_synthetic")
    counts = write_synthetic_drive(out, n_training=2, n_test=1, seed=0)
    return out, counts


@pytest.fixture(scope="module")
def fundus():
    return synthetic_fundus(np.random.default_rng(3))


def read(path) -> tuple[str, tuple[int, int], np.ndarray]:
    with Image.open(path) as image:
        return image.mode, image.size, np.asarray(image)


def test_writes_the_drive_layout(written):
    out, counts = written
    assert counts == {"training": 2, "test": 1}
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert files == [
        "test/1st_manual/01_manual1.gif",
        "test/images/01_test.tif",
        "test/mask/01_test_mask.gif",
        "training/1st_manual/21_manual1.gif",
        "training/1st_manual/22_manual1.gif",
        "training/images/21_training.tif",
        "training/images/22_training.tif",
        "training/mask/21_training_mask.gif",
        "training/mask/22_training_mask.gif",
    ]


def test_written_files_read_back_as_drive_does(written):
    out, _ = written
    for split, number in (("training", "21"), ("training", "22"), ("test", "01")):
        mode, size, rgb = read(out / split / "images" / f"{number}_{split}.tif")
        assert mode == "RGB" and size == (565, 584) and rgb.shape == (584, 565, 3)
        label_mode, label_size, label = read(out / split / "1st_manual" / f"{number}_manual1.gif")
        mask_mode, mask_size, mask = read(out / split / "mask" / f"{number}_{split}_mask.gif")
        assert label_mode == mask_mode == "L" and label_size == mask_size == (565, 584)
        assert set(np.unique(label).tolist()) == {0, 255} and set(np.unique(mask).tolist()) == {0, 255}
        assert not (label[mask == 0]).any()  # vessels only inside the FOV
        fov = mask > 0
        assert 0.08 < (label[fov] > 0).mean() < 0.20
        assert rgb[~fov].mean() < 15 and rgb[fov].mean() > 60


def test_vessels_inside_the_fov_and_darker_in_green(fundus):
    rgb, vessels, fov = fundus
    assert rgb.shape == (584, 565, 3) and rgb.dtype == np.uint8
    assert vessels.shape == fov.shape == (584, 565) and vessels.dtype == fov.dtype == bool
    assert not (vessels & ~fov).any()
    assert 0.08 < vessels[fov].mean() < 0.20
    assert 0.6 < fov.mean() < 0.75  # a centred disc of radius 0.45-0.48 of the width
    green = rgb[..., 1].astype(float)
    assert green[vessels].mean() < 0.95 * green[fov & ~vessels].mean()
    red = rgb[..., 0].astype(float)
    assert red[fov].mean() > green[fov].mean() > rgb[..., 2][fov].mean()  # orange-red


def test_outside_the_fov_is_near_black(fundus):
    rgb, _, fov = fundus
    yy, xx = np.nonzero(fov)
    centre_y, centre_x, radius = yy.mean(), xx.mean(), np.sqrt(fov.sum() / np.pi)
    rows, cols = np.mgrid[: fov.shape[0], : fov.shape[1]]
    beyond_rim = np.hypot(rows - centre_y, cols - centre_x) > radius + 3  # JPEG blurs the edge by a pixel or two
    assert rgb[beyond_rim].mean() < 12 and np.percentile(rgb[beyond_rim], 99) < 30


def test_same_seed_same_image_other_seed_other_image(fundus):
    again = synthetic_fundus(np.random.default_rng(3))
    other = synthetic_fundus(np.random.default_rng(4))
    for a, b in zip(fundus, again):
        assert a.tobytes() == b.tobytes()
    assert fundus[0].tobytes() != other[0].tobytes() and fundus[1].tobytes() != other[1].tobytes()


def test_written_dataset_is_deterministic(tmp_path):
    for name in ("a", "b", "c"):
        write_synthetic_drive(
            tmp_path / name, n_training=1, n_test=0, seed=5 if name != "c" else 6, height=64, width=60
        )
    image = "training/images/21_training.tif"
    label = "training/1st_manual/21_manual1.gif"
    assert (tmp_path / "a" / image).read_bytes() == (tmp_path / "b" / image).read_bytes()
    assert (tmp_path / "a" / label).read_bytes() == (tmp_path / "b" / label).read_bytes()
    assert read(tmp_path / "a" / image)[2].tobytes() != read(tmp_path / "c" / image)[2].tobytes()


def test_small_images_work():
    rgb, vessels, fov = synthetic_fundus(np.random.default_rng(0), height=128, width=120)
    assert rgb.shape == (128, 120, 3) and vessels.shape == fov.shape == (128, 120)
    assert not (vessels & ~fov).any()
    assert 0.05 < vessels[fov].mean() < 0.25
    green = rgb[..., 1].astype(float)
    assert green[vessels].mean() < green[fov & ~vessels].mean()
