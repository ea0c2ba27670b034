"""The fine liver bundle's own code (scripts/): the coarse-looking mask its coarse-mask-channel experiment trains on."""

import importlib.util
from pathlib import Path

import pytest
import torch
from monai.data import MetaTensor

SCRIPT = Path(__file__).resolve().parents[2] / "bundles" / "liver_ct_fine_segmentation" / "scripts" / "coarse_mask.py"


def _load_script():
    spec = importlib.util.spec_from_file_location("fine_liver_coarse_mask", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


RandCoarseMaskd = _load_script().RandCoarseMaskd


def _cube_label(shape=(24, 24, 24), start=8, end=16):
    label = torch.zeros(1, *shape)
    label[0, start:end, start:end, start:end] = 2  # any label above 0 is foreground
    return label


def test_coarse_mask_from_label_without_growth_is_the_blocky_foreground():
    label = _cube_label()
    out = RandCoarseMaskd(keys="label", factor=4, min_radius=0, max_radius=0)({"label": label})
    mask = out["coarse_mask"]
    assert mask.shape == label.shape and mask.dtype == torch.float32
    assert torch.equal(mask, (label > 0).float())  # a cube on the coarse grid's blocks comes back exactly
    assert out["label"] is label


def test_coarse_mask_grows_and_shrinks_by_whole_coarse_voxels():
    label = _cube_label()
    grown = RandCoarseMaskd(keys="label", factor=4, min_radius=1, max_radius=1)({"label": label})["coarse_mask"]
    assert grown.sum() == 16**3  # 2 coarse voxels a side become 4: 16 fine voxels
    assert grown[0, 4:20, 4:20, 4:20].all()
    shrunk = RandCoarseMaskd(keys="label", factor=2, min_radius=-1, max_radius=-1)({"label": label})["coarse_mask"]
    assert shrunk.sum() == 4**3 and shrunk[0, 10:14, 10:14, 10:14].all()  # 4 coarse voxels a side become 2


def test_coarse_mask_radius_is_drawn_from_the_range_and_metadata_kept():
    label = MetaTensor(_cube_label(), meta={"filename_or_obj": "liver_1"})
    transform = RandCoarseMaskd(keys="label", factor=4, min_radius=-1, max_radius=1)
    transform.set_random_state(seed=0)
    sizes = {int(transform({"label": label})["coarse_mask"].sum()) for _ in range(30)}
    assert sizes == {0, 8**3, 16**3}  # shrunk away, unchanged, grown
    assert transform({"label": label})["coarse_mask"].meta["filename_or_obj"] == "liver_1"


def test_coarse_mask_refuses_bad_settings():
    with pytest.raises(ValueError, match="one label key"):
        RandCoarseMaskd(keys=["a", "b"])
    with pytest.raises(ValueError, match="factor"):
        RandCoarseMaskd(keys="label", factor=0.5)
    with pytest.raises(ValueError, match="min_radius"):
        RandCoarseMaskd(keys="label", min_radius=2, max_radius=1)
