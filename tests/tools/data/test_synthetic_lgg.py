import numpy as np
import pytest
from PIL import Image, ImageFilter

from bundle_tools.data.synthetic_lgg import synthetic_patient, write_synthetic_lgg

NAMES = [f"TCGA_SY_{i:04d}_20000101" for i in range(5)]


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("lgg") / "kaggle_3m"
    names = write_synthetic_lgg(out, n_patients=5, n_slices=12, seed=0, n_without_tumour=1)
    return out, names


@pytest.fixture(scope="module")
def patients():
    return [synthetic_patient(np.random.default_rng((11, i)), 12) for i in range(6)]


def read(path) -> tuple[str, tuple[int, int], np.ndarray]:
    with Image.open(path) as image:
        return image.mode, image.size, np.asarray(image)


def read_patient(out, name: str, n_slices: int = 12) -> tuple[np.ndarray, np.ndarray]:
    images = np.stack([read(out / name / f"{name}_{n}.tif")[2] for n in range(1, n_slices + 1)])
    masks = np.stack([read(out / name / f"{name}_{n}_mask.tif")[2] for n in range(1, n_slices + 1)])
    return images, masks


def dilate(mask: np.ndarray, pixels: int) -> np.ndarray:
    return np.asarray(Image.fromarray(mask.astype(np.uint8) * 255).filter(ImageFilter.MaxFilter(2 * pixels + 1))) > 0


def inside_head(rgb: np.ndarray, margin: int = 0) -> np.ndarray:
    """Pixels at least ``margin`` px inside the head's extent along both their row and their column."""
    head = rgb.max(axis=-1) > 30  # the background is a few grey levels of noise
    region = np.zeros(head.shape, dtype=bool)
    for axis in (0, 1):
        lines = head if axis == 1 else head.T
        rows = np.zeros(lines.shape, dtype=bool)
        for i, line in enumerate(lines):
            where = np.flatnonzero(line)
            if where.size:
                rows[i, where[0] + margin : where[-1] + 1 - margin] = True
        region = rows if axis == 1 else region & rows.T
    return region


def test_writes_the_kaggle_3m_layout(written):
    out, names = written
    assert names == NAMES
    assert sorted(p.name for p in out.iterdir()) == NAMES
    for name in names:
        expected = sorted([f"{name}_{n}.tif" for n in range(1, 13)] + [f"{name}_{n}_mask.tif" for n in range(1, 13)])
        assert sorted(p.name for p in (out / name).iterdir()) == expected
    assert not [p for p in out.parent.iterdir() if p.name != out.name]  # no staging folder left beside it


def test_files_read_back_as_the_real_ones(written):
    out, names = written
    for name in names:
        for n in (1, 6, 12):
            mode, size, rgb = read(out / name / f"{name}_{n}.tif")
            assert mode == "RGB" and size == (256, 256) and rgb.shape == (256, 256, 3) and rgb.dtype == np.uint8
            mask_mode, mask_size, mask = read(out / name / f"{name}_{n}_mask.tif")
            assert mask_mode == "L" and mask_size == (256, 256) and mask.dtype == np.uint8
            assert set(np.unique(mask).tolist()) <= {0, 255}
            with Image.open(out / name / f"{name}_{n}.tif") as image:
                assert image.info.get("compression") == "raw"


def test_written_masks_are_binary_and_show_a_tumour_on_a_run_of_slices(written):
    out, names = written
    with_tumour = 0
    for name in names:
        _, masks = read_patient(out, name)
        assert set(np.unique(masks).tolist()) <= {0, 255}
        shown = masks.reshape(12, -1).max(axis=1) > 0
        if shown.any():
            with_tumour += 1
            assert 2 <= shown.sum() <= 7
    assert with_tumour == 4  # one patient without tumour


def test_tumour_shows_on_some_neighbouring_slices_not_all(patients):
    for _, masks in patients:
        shown = masks.reshape(len(masks), -1).max(axis=1) > 0
        assert 2 <= shown.sum() <= 0.6 * len(masks)
        starts = np.flatnonzero(np.diff(np.r_[0, shown.astype(int)]) == 1)
        ends = np.flatnonzero(np.diff(np.r_[shown.astype(int), 0]) == -1)
        assert len(starts) <= 2 and np.all(ends - starts >= 1)  # one or two runs, each of 2 slices or more
        assert not shown[-1]  # the top of the head is too small for one


def test_tumour_lies_inside_the_head(patients, written):
    out, names = written
    read_back = [read_patient(out, name) for name in names]
    for images, masks in patients + read_back:
        for rgb, mask in zip(images, masks):
            if mask.any():
                assert not (mask[~inside_head(rgb, margin=8)]).any()


def test_head_grows_then_shrinks_on_a_black_background(patients):
    for images, _ in patients:
        area = (images.max(axis=-1) > 30).mean(axis=(1, 2))
        assert area.max() > 0.2 and area[0] < area.max() and area[-1] < 0.5 * area.max()
        assert 0 < np.argmax(area) < len(area) - 1
        corners = images[:, :16, :16]
        assert corners.mean() < 8 and np.percentile(corners, 99) < 20


def test_tumour_is_brighter_than_the_brain_around_it_in_flair(patients):
    tumour, around = [], []
    for images, masks in patients:
        for rgb, mask in zip(images, masks):
            if mask.sum() < 50:
                continue
            tumour_pixels = mask > 0
            ring = dilate(tumour_pixels, 10) & ~tumour_pixels & inside_head(rgb, margin=16)
            tumour.append(rgb[tumour_pixels].astype(float).mean(axis=0))
            around.append(rgb[ring].astype(float).mean(axis=0))
            assert tumour[-1][1] > 1.1 * around[-1][1]
    tumour, around = np.mean(tumour, axis=0), np.mean(around, axis=0)
    assert tumour[1] > 1.3 * around[1]  # FLAIR (green): hyperintense
    assert np.all(np.abs(tumour[[0, 2]] / around[[0, 2]] - 1) < 0.25)  # the T1 channels: about iso-intense
    assert 40 < around[1] < 70  # brain about as bright as the real one (about 52 in FLAIR)


def test_patient_without_tumour_has_empty_masks_but_a_head():
    images, masks = synthetic_patient(np.random.default_rng(5), 12, tumour=False)
    assert images.shape == (12, 256, 256, 3) and images.dtype == np.uint8
    assert masks.shape == (12, 256, 256) and masks.dtype == np.uint8 and not masks.any()
    assert (images.max(axis=-1) > 30).mean() > 0.2


def test_patients_without_tumour_are_written_with_all_zero_masks(tmp_path):
    names = write_synthetic_lgg(tmp_path / "lgg", n_patients=4, n_slices=6, size=64, seed=3, n_without_tumour=2)
    empty = [name for name in names if not read_patient(tmp_path / "lgg", name, 6)[1].any()]
    assert len(empty) == 2
    none = write_synthetic_lgg(tmp_path / "none", n_patients=2, n_slices=6, size=64, seed=3, n_without_tumour=2)
    assert not any(read_patient(tmp_path / "none", name, 6)[1].any() for name in none)


def test_same_seed_same_files_other_seed_other_files(tmp_path):
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        write_synthetic_lgg(tmp_path / name, n_patients=2, n_slices=5, size=64, seed=seed)
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.tif"))
    assert files == sorted(p.relative_to(tmp_path / "c") for p in (tmp_path / "c").rglob("*.tif"))
    for file in files:
        assert (tmp_path / "a" / file).read_bytes() == (tmp_path / "b" / file).read_bytes()
    images = [p for p in files if not p.name.endswith("_mask.tif")]
    assert all((tmp_path / "a" / p).read_bytes() != (tmp_path / "c" / p).read_bytes() for p in images)
    a, c = synthetic_patient(np.random.default_rng(1), 8), synthetic_patient(np.random.default_rng(2), 8)
    assert a[1].tobytes() != c[1].tobytes()
    again = synthetic_patient(np.random.default_rng(1), 8)
    assert a[0].tobytes() == again[0].tobytes() and a[1].tobytes() == again[1].tobytes()


def test_refuses_a_non_empty_out_dir_and_accepts_an_empty_one(tmp_path):
    out = tmp_path / "lgg"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="lgg"):
        write_synthetic_lgg(out, n_patients=1, n_slices=2, size=64)
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert write_synthetic_lgg(empty, n_patients=1, n_slices=2, size=64) == ["TCGA_SY_0000_20000101"]
    assert len(list((empty / "TCGA_SY_0000_20000101").iterdir())) == 4


def test_a_failure_leaves_nothing_behind(tmp_path, monkeypatch):
    import bundle_tools.data.synthetic_lgg as module

    calls = []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return synthetic_patient(*args, **kwargs)

    monkeypatch.setattr(module, "synthetic_patient", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        module.write_synthetic_lgg(tmp_path / "lgg", n_patients=3, n_slices=2, size=64)
    assert list(tmp_path.iterdir()) == []


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(ValueError):
        write_synthetic_lgg(tmp_path / "a", n_patients=2, n_without_tumour=3)
    with pytest.raises(ValueError):
        write_synthetic_lgg(tmp_path / "b", n_patients=0)
    with pytest.raises(ValueError):
        synthetic_patient(np.random.default_rng(0), 0)
    assert list(tmp_path.iterdir()) == []


def test_small_and_short_patients_work():
    for n_slices, size in ((1, 64), (3, 64), (12, 96)):
        images, masks = synthetic_patient(np.random.default_rng(0), n_slices, size=size)
        assert images.shape == (n_slices, size, size, 3) and masks.shape == (n_slices, size, size)
        assert masks.any() and set(np.unique(masks).tolist()) <= {0, 255}
