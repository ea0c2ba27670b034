import gzip
import struct

import numpy as np
import pytest

from bundle_common.data.idx import IdxFormatError, read_idx, write_idx


@pytest.mark.parametrize("name", ["images-idx3-ubyte", "images-idx3-ubyte.gz"])
def test_round_trip_raw_and_gzip(tmp_path, rng, name):
    array = rng.integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
    path = write_idx(tmp_path / name, array)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == name.endswith(".gz")
    loaded = read_idx(path, ndim=3)
    assert loaded.dtype == np.uint8 and loaded.flags.writeable
    np.testing.assert_array_equal(loaded, array)


def test_gzip_is_detected_by_content_not_name(tmp_path, rng):
    array = rng.integers(0, 10, size=7, dtype=np.uint8)
    path = tmp_path / "labels-idx1-ubyte"  # gzipped content without the .gz suffix
    write_idx(path, array, compress=True)
    np.testing.assert_array_equal(read_idx(path), array)


def test_header_layout_is_the_published_one(tmp_path):
    path = write_idx(tmp_path / "x", np.zeros((3, 2, 4), np.uint8))
    assert path.read_bytes()[:16] == struct.pack(">IIII", 0x00000803, 3, 2, 4)


def test_truncated_data_names_file_and_sizes(tmp_path, rng):
    path = write_idx(tmp_path / "t-idx3-ubyte", rng.integers(0, 256, size=(4, 28, 28), dtype=np.uint8))
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(IdxFormatError, match=r"t-idx3-ubyte: truncated: header says shape \(4, 28, 28\)"):
        read_idx(path)


def test_truncated_gzip_stream(tmp_path, rng):
    path = write_idx(tmp_path / "t.gz", rng.integers(0, 256, size=(50, 28, 28), dtype=np.uint8))
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(IdxFormatError, match=r"t.gz: corrupt or truncated gzip"):
        read_idx(path)


def test_wrong_magic(tmp_path):
    path = tmp_path / "not-idx"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    with pytest.raises(IdxFormatError, match=r"not-idx: wrong magic number 0x89504e47"):
        read_idx(path)


def test_labels_file_where_images_expected(tmp_path):
    path = write_idx(tmp_path / "labels", np.zeros(10, np.uint8))
    with pytest.raises(IdxFormatError, match=r"has 1 dimensions, expected 3"):
        read_idx(path, ndim=3)


def test_trailing_bytes(tmp_path):
    path = write_idx(tmp_path / "x", np.zeros(10, np.uint8))
    path.write_bytes(path.read_bytes() + b"\x00\x00")
    with pytest.raises(IdxFormatError, match=r"2 unexpected bytes"):
        read_idx(path)


def test_short_header_and_missing_file(tmp_path):
    short = tmp_path / "short"
    short.write_bytes(gzip.compress(b"\x00\x00"))
    with pytest.raises(IdxFormatError, match="too short"):
        read_idx(short)
    with pytest.raises(FileNotFoundError, match="nothere"):
        read_idx(tmp_path / "nothere")
