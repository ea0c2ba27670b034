import numpy as np
import pytest

from bundle_common.data.mnist import load_mnist_split
from bundle_tools.data.digits import digits_as_mnist, write_digits_dataset


def test_digits_look_like_mnist():
    images, labels = digits_as_mnist()
    assert images.shape == (1797, 28, 28) and images.dtype == np.uint8
    assert set(labels.tolist()) == set(range(10))
    assert images[:, :4].max() == 0 and images[:, -4:].max() == 0  # a 20x20 digit centred in a 28x28 frame
    assert images.max() == 255


def test_written_dataset_reads_back_with_the_mnist_reader(tmp_path):
    counts = write_digits_dataset(tmp_path, test_fraction=0.2, seed=0)
    assert counts == {"train": 1438, "test": 359}
    train_images, train_labels, _ = load_mnist_split(tmp_path, "train")
    test_images, _, _ = load_mnist_split(tmp_path, "test")
    assert len(train_images) == 1438 and len(test_images) == 359
    assert np.bincount(train_labels).min() > 100


def test_a_few_training_digits_and_the_same_test_digits(tmp_path):
    from bundle_common.data.idx import read_idx

    full = write_digits_dataset(tmp_path / "all")
    few = write_digits_dataset(tmp_path / "few", n_train=50)
    assert few == {"train": 50, "test": full["test"]}
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        assert (read_idx(tmp_path / "all" / name) == read_idx(tmp_path / "few" / name)).all()
    train = read_idx(tmp_path / "few" / "train-images-idx3-ubyte.gz")
    everything = read_idx(tmp_path / "all" / "train-images-idx3-ubyte.gz")
    assert train.shape == (50, 28, 28) and all((everything == t).all(axis=(1, 2)).any() for t in train)
    with pytest.raises(ValueError, match="n_train must be from 1 to"):
        write_digits_dataset(tmp_path / "bad", n_train=full["train"] + 1)
