import numpy as np
import pytest
from PIL import Image

from bundle_common.data.idx import IdxFormatError, write_idx
from bundle_common.data.mnist import digit_images_datalist, load_mnist_split, mnist_datalist
from tests.conftest import shared_dataset


def _write_split(folder, images, labels, split="train", gz=True):
    prefix = "train" if split == "train" else "t10k"
    suffix = ".gz" if gz else ""
    write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}", images)
    write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", labels)


def test_splits_are_disjoint_fixed_and_cover_training_files(tiny_mnist_dir):
    train = mnist_datalist(tiny_mnist_dir, "train", val_fraction=0.25, seed=3)
    validation = mnist_datalist(tiny_mnist_dir, "validation", val_fraction=0.25, seed=3)
    assert len(train) == 180 and len(validation) == 60
    train_ids, val_ids = {d["index"] for d in train}, {d["index"] for d in validation}
    assert not train_ids & val_ids and train_ids | val_ids == set(range(240))
    again = mnist_datalist(tiny_mnist_dir, "validation", val_fraction=0.25, seed=3)
    assert [d["index"] for d in again] == [d["index"] for d in validation]
    other_seed = mnist_datalist(tiny_mnist_dir, "validation", val_fraction=0.25, seed=4)
    assert {d["index"] for d in other_seed} != val_ids


def test_test_and_all_splits(tiny_mnist_dir):
    test = mnist_datalist(tiny_mnist_dir, "test")
    assert len(test) == 60 and test[0]["file"] == "t10k-images-idx3-ubyte"
    assert test[0]["image"].shape == (1, 28, 28) and test[0]["image"].dtype == np.uint8
    assert len(mnist_datalist(tiny_mnist_dir, "all")) == 300
    with pytest.raises(ValueError, match="unknown MNIST split 'val'"):
        mnist_datalist(tiny_mnist_dir, "val")


def test_all_without_test_files_is_the_training_files(tmp_path, rng):
    _write_split(tmp_path, rng.integers(0, 256, (8, 28, 28), dtype=np.uint8), np.arange(8, dtype=np.uint8))
    assert len(mnist_datalist(tmp_path, "all")) == 8
    with pytest.raises(FileNotFoundError, match=r"missing t10k-images-idx3-ubyte\(.gz\).*'test' split"):
        mnist_datalist(tmp_path, "test")


def test_mismatched_counts_name_both_files(tmp_path, rng):
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", rng.integers(0, 256, (5, 28, 28), dtype=np.uint8))
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros(4, np.uint8))
    with pytest.raises(IdxFormatError, match=r"train-images-idx3-ubyte.gz has 5 images but .*train-labels.* 4 labels"):
        load_mnist_split(tmp_path, "train")


def test_wrong_image_size_and_label_range(tmp_path, rng):
    _write_split(tmp_path, rng.integers(0, 256, (3, 32, 32), dtype=np.uint8), np.zeros(3, np.uint8))
    with pytest.raises(IdxFormatError, match=r"expected uint8 images of 28x28, got uint8 \(32, 32\)"):
        load_mnist_split(tmp_path, "train")
    _write_split(tmp_path, rng.integers(0, 256, (3, 28, 28), dtype=np.uint8), np.array([1, 2, 12], np.uint8))
    with pytest.raises(IdxFormatError, match=r"labels must be digits 0..9, found 1..12"):
        load_mnist_split(tmp_path, "train")


def test_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere: MNIST dataset folder does not exist"):
        load_mnist_split(tmp_path / "nowhere", "train")


def test_dotted_mirror_names_are_found(tmp_path, rng):
    write_idx(tmp_path / "train-images.idx3-ubyte", rng.integers(0, 256, (2, 28, 28), dtype=np.uint8))
    write_idx(tmp_path / "train-labels.idx1-ubyte", np.array([3, 4], np.uint8))
    images, labels, _ = load_mnist_split(tmp_path, "train")
    assert images.shape == (2, 28, 28) and labels.tolist() == [3, 4]


def test_digit_images_datalist_reads_pictures_and_idx(tmp_path, rng):
    digit = np.zeros((40, 30), np.uint8)
    digit[10:30, 12:18] = 255
    Image.fromarray(digit).save(tmp_path / "a_light_on_dark.png")
    Image.fromarray(255 - digit).convert("RGB").save(tmp_path / "b_dark_on_light.jpg", quality=95)
    write_idx(tmp_path / "c-images-idx3-ubyte.gz", rng.integers(0, 256, (3, 28, 28), dtype=np.uint8))
    (tmp_path / "notes.txt").write_text("ignored")
    items = digit_images_datalist(tmp_path)
    assert [(d["file"], d["index"]) for d in items] == [
        ("a_light_on_dark.png", 0),
        ("b_dark_on_light.jpg", 0),
        ("c-images-idx3-ubyte.gz", 0),
        ("c-images-idx3-ubyte.gz", 1),
        ("c-images-idx3-ubyte.gz", 2),
    ]
    light, inverted = items[0]["image"], items[1]["image"].astype(int)
    assert light.shape == (1, 40, 30)
    assert np.abs(light.astype(int) - inverted).max() < 20  # the dark-on-light JPEG was inverted to match


def test_digit_images_datalist_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no PNG/JPEG images or IDX image files"):
        digit_images_datalist(tmp_path)
    (tmp_path / "broken.png").write_bytes(b"not a png at all")
    with pytest.raises(ValueError, match="broken.png: unreadable image"):
        digit_images_datalist(tmp_path)


def test_real_mnist_training_files():
    folder = shared_dataset("mnist")
    images, labels, _ = load_mnist_split(folder, "train")
    assert images.shape == (60000, 28, 28)
    assert np.bincount(labels).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert labels[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert len(mnist_datalist(folder, "validation")) == 6000
