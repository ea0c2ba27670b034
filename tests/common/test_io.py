"""Atomic writes: all or nothing, and readable like any other file."""

import os
import stat

import pytest
from PIL import Image

from bundle_common.io import atomic_save_picture, atomic_write_csv, atomic_write_json, atomic_write_text


@pytest.fixture()
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def _mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def test_written_files_get_the_usual_permissions(tmp_path, umask_022):
    written = [
        atomic_write_text(tmp_path / "a.txt", "x"),
        atomic_write_json(tmp_path / "a.json", {"a": 1}),
        atomic_write_csv(tmp_path / "a.csv", [{"a": 1}]),
        atomic_save_picture(Image.new("RGB", (2, 2)), tmp_path / "a.png", format="PNG"),
    ]
    assert [_mode(p) for p in written] == [0o644] * 4  # not mkstemp's owner-only 0o600


def test_a_failed_write_leaves_nothing(tmp_path):
    class Broken:
        def save(self, *args, **kwargs):
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_save_picture(Broken(), tmp_path / "sub" / "a.png")
    assert list((tmp_path / "sub").iterdir()) == []
    atomic_write_text(tmp_path / "b.txt", "old")
    with pytest.raises(TypeError):
        atomic_write_json(tmp_path / "b.txt", {"not": object()})
    assert (tmp_path / "b.txt").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.txt", "sub"]
