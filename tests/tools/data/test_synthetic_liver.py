from __future__ import annotations

import json
import subprocess
import sys

import nibabel as nib
import numpy as np
import pytest

from bundle_common.data.task03 import find_task03_cases, liver_datalist
from bundle_tools.bundle_cli import REPO_ROOT
from bundle_tools.data.synthetic_liver import synthetic_liver_affine, synthetic_liver_case, write_synthetic_liver

NAMES = [f"liver_{i}" for i in range(4)]


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("liver") / "Task03_Liver"
    names = write_synthetic_liver(out)  # the defaults: 4 cases of 64 x 64 x 40 at 1.5 x 1.5 x 4 mm, seed 0
    return out, names


@pytest.fixture(scope="module")
def cases(written):
    out, names = written
    return [read_case(out, name) for name in names]


def read_case(out, name: str) -> tuple[nib.Nifti1Image, np.ndarray, nib.Nifti1Image, np.ndarray]:
    image, label = nib.load(out / "imagesTr" / f"{name}.nii.gz"), nib.load(out / "labelsTr" / f"{name}.nii.gz")
    return image, np.asanyarray(image.dataobj), label, np.asanyarray(label.dataobj)


def centroid(affine: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The mean RAS+ world coordinates (x, y, z) in mm of the voxels of ``mask`` (the affine is linear)."""
    return nib.affines.apply_affine(affine, np.argwhere(mask).mean(axis=0))


def test_writes_the_task03_layout_and_dataset_json(written):
    out, names = written
    assert names == NAMES
    assert sorted(p.name for p in out.iterdir()) == ["dataset.json", "imagesTr", "labelsTr"]
    for folder in ("imagesTr", "labelsTr"):
        assert sorted(p.name for p in (out / folder).iterdir()) == [f"{n}.nii.gz" for n in NAMES]
    assert not [p for p in out.parent.iterdir() if p.name != out.name]  # no staging folder left beside it
    dataset = json.loads((out / "dataset.json").read_text())
    assert dataset["name"] == "Liver" and dataset["modality"] == {"0": "CT"}
    assert dataset["labels"] == {"0": "background", "1": "liver", "2": "cancer"}
    assert dataset["numTraining"] == 4 and dataset["test"] == []
    assert dataset["training"] == [
        {"image": f"./imagesTr/{n}.nii.gz", "label": f"./labelsTr/{n}.nii.gz"} for n in NAMES
    ]
    assert [item["case"] for item in find_task03_cases(out)] == NAMES
    assert len(liver_datalist(out, split="all", check=True)) == 4  # the Task03 reader accepts every pair


def test_volumes_share_an_lps_grid_with_the_given_spacing(cases):
    expected = synthetic_liver_affine((64, 64, 40), (1.5, 1.5, 4.0))
    assert np.allclose(expected[:3, :3], np.diag([-1.5, -1.5, 4.0]))
    for image, ct, label, mask in cases:
        assert ct.shape == mask.shape == (64, 64, 40)
        assert ct.dtype == np.int16 and image.get_data_dtype() == np.int16
        assert mask.dtype == np.uint8 and label.get_data_dtype() == np.uint8
        assert np.array_equal(image.affine, label.affine) and np.allclose(image.affine, expected)
        assert nib.aff2axcodes(image.affine) == nib.aff2axcodes(label.affine) == ("L", "P", "S")
        assert np.allclose(image.header.get_zooms(), (1.5, 1.5, 4.0))
        for volume in (image, label):
            assert int(volume.header["qform_code"]) == int(volume.header["sform_code"]) == 1


def test_liver_in_every_case_tumour_in_most_but_not_all(cases):
    with_tumour = 0
    for _, _, _, mask in cases:
        assert set(np.unique(mask).tolist()) <= {0, 1, 2}
        assert (mask == 1).sum() > 1000
        with_tumour += int((mask == 2).any())
    assert with_tumour == 3  # (4 + 1) // 4 = 1 case without


def test_liver_spans_a_good_part_of_the_slices_but_not_all(cases):
    for _, _, _, mask in cases:
        shown = (mask > 0).any(axis=(0, 1))
        assert not shown[0] and not shown[-1]
        assert 0.3 <= shown.mean() <= 0.9
        assert np.all(np.diff(np.flatnonzero(shown)) == 1)  # one run of neighbouring slices


def test_intensities_look_like_contrast_ct(cases):
    for _, ct, _, mask in cases:
        assert abs(np.median(ct[:4, :4]) + 1000) < 10  # air in the corners
        body = ct > -500
        assert 0.3 < body.mean() < 0.9
        assert ((ct > -150) & (ct < -50)).sum() > 0.02 * body.sum()  # fat
        assert np.all(ct.max(axis=(0, 1)) > 300)  # the spine on every slice
        assert 90 < ct[mask == 1].mean() < 140
        assert 5 <= ct[mask == 1].std() <= 30


def test_tumours_lie_in_the_liver_and_are_darker(cases):
    for _, ct, _, mask in cases:
        if not (mask == 2).any():
            continue
        organ = np.argwhere(mask > 0)
        tumour = np.argwhere(mask == 2)
        assert np.all(tumour.min(axis=0) >= organ.min(axis=0)) and np.all(tumour.max(axis=0) <= organ.max(axis=0))
        assert ct[mask == 2].mean() < ct[mask == 1].mean() - 20


def test_liver_is_on_the_patients_right(cases):
    # RAS+ world coordinates: x grows towards the patient's right, y towards the front
    for image, ct, _, mask in cases:
        liver, body, spine = (centroid(image.affine, m) for m in (mask > 0, ct > -500, ct > 300))
        assert liver[0] > body[0] + 5
        assert spine[1] < body[1] - 5  # the spine is at the back
        assert liver[1] > spine[1] + 10  # the liver well in front of it


def test_liver_is_on_the_right_after_reorienting_to_ras(written):
    transforms = pytest.importorskip("monai.transforms")
    out, _ = written
    load = transforms.Compose(
        [
            transforms.LoadImaged(keys=["image", "label"], ensure_channel_first=True, image_only=True),
            transforms.Orientationd(keys=["image", "label"], axcodes="RAS"),
        ]
    )
    for item in find_task03_cases(out):
        data = load(item)
        image, label = np.asarray(data["image"][0]), np.asarray(data["label"][0])
        assert nib.aff2axcodes(np.asarray(data["image"].affine)) == ("R", "A", "S")
        liver, body = np.argwhere(label > 0), np.argwhere(image > -500)
        assert liver[:, 0].mean() > body[:, 0].mean()  # axis 0 now runs towards the patient's right


def test_same_seed_same_files_other_seed_other_files(tmp_path):
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        write_synthetic_liver(tmp_path / name, n_cases=2, shape=(32, 32, 12), spacing=(2.0, 2.0, 5.0), seed=seed)
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.nii.gz"))
    assert len(files) == 4
    for file in files:
        a, b, c = (np.asanyarray(nib.load(tmp_path / name / file).dataobj) for name in "abc")
        assert np.array_equal(a, b) and not np.array_equal(a, c)
        assert (tmp_path / "a" / file).read_bytes() == (tmp_path / "b" / file).read_bytes()
    first = synthetic_liver_case(np.random.default_rng(1), (32, 32, 12), n_tumours=2)
    again = synthetic_liver_case(np.random.default_rng(1), (32, 32, 12), n_tumours=2)
    assert all(np.array_equal(x, y) for x, y in zip(first, again))


def test_refuses_a_non_empty_out_dir_and_accepts_an_empty_one(tmp_path):
    out = tmp_path / "liver"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="liver"):
        write_synthetic_liver(out, n_cases=1, shape=(16, 16, 8))
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert write_synthetic_liver(empty, n_cases=1, shape=(16, 16, 8)) == ["liver_0"]
    assert sorted(p.name for p in empty.rglob("*.nii.gz")) == ["liver_0.nii.gz", "liver_0.nii.gz"]


def test_a_failure_leaves_nothing_behind(tmp_path, monkeypatch):
    import bundle_tools.data.synthetic_liver as module

    calls = []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return synthetic_liver_case(*args, **kwargs)

    monkeypatch.setattr(module, "synthetic_liver_case", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        module.write_synthetic_liver(tmp_path / "liver", n_cases=3, shape=(16, 16, 8))
    assert list(tmp_path.iterdir()) == []


def test_bad_arguments_are_refused(tmp_path):
    for kwargs in ({"n_cases": 0}, {"shape": (64, 64)}, {"shape": (64, 12, 40)}, {"spacing": (1.0, 0.0, 1.0)}):
        with pytest.raises(ValueError):
            write_synthetic_liver(tmp_path / "a", **kwargs)
    with pytest.raises(ValueError):
        synthetic_liver_case(np.random.default_rng(0), n_tumours=-1)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "shape, spacing",
    [((16, 16, 8), (3.0, 3.0, 8.0)), ((96, 80, 24), (0.8, 0.9, 2.5)), ((256, 256, 120), (0.8, 0.8, 2.5))],
)
def test_other_grids_work(shape, spacing):
    ct, mask = synthetic_liver_case(np.random.default_rng(0), shape, spacing, n_tumours=3)
    assert ct.shape == mask.shape == shape and ct.dtype == np.int16 and mask.dtype == np.uint8
    assert (mask == 1).any() and (mask == 2).any()
    affine = synthetic_liver_affine(shape, spacing)
    assert centroid(affine, mask > 0)[0] > centroid(affine, ct > -500)[0]


def test_cli_writes_the_dataset(tmp_path):
    out = tmp_path / "cli"
    command = [sys.executable, str(REPO_ROOT / "tools" / "make_synthetic_liver.py"), "--out", str(out)]
    command += ["--n_cases", "2", "--shape", "[24,24,10]", "--spacing", "[2.0,2.0,5.0]", "--seed", "3"]
    result = subprocess.run(command, capture_output=True, text=True, check=True, cwd=REPO_ROOT)
    assert str(out) in result.stdout
    assert json.loads((out / "dataset.json").read_text())["numTraining"] == 2
    image = nib.load(out / "imagesTr" / "liver_1.nii.gz")
    assert image.shape == (24, 24, 10) and np.allclose(image.header.get_zooms(), (2.0, 2.0, 5.0))
