"""The coarse stage as a transform: its mask comes back to the grid of the image it was given."""

import logging

import pytest
import torch
from monai.data import MetaTensor
from monai.inferers import SimpleInferer
from monai.transforms import Compose, Orientationd, ScaleIntensityRanged, Spacingd

from bundle_common.metrics.overlap import volume_dice
from bundle_common.networks import load_weights
from bundle_common.transforms import CoarseMaskd


class Threshold(torch.nn.Module):
    """Two-channel logits that call a voxel foreground where its (scaled) intensity is above 0.5."""

    def __init__(self):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.tensor(20.0))

    def forward(self, x):
        return torch.cat([-(x - 0.5) * self.scale, (x - 0.5) * self.scale], dim=1)


def _ct(shape=(48, 40, 10), box=((10, 34), (8, 26), (3, 7)), hu=200.0):
    """A volume in an LPS-like, anisotropic grid, bright inside ``box`` (plus a small bright speck elsewhere)."""
    array = torch.full((1, *shape), -500.0)
    (x0, x1), (y0, y1), (z0, z1) = box
    array[0, x0:x1, y0:y1, z0:z1] = hu
    array[0, 42:45, 34:37, 8:9] = hu  # a second, smaller component
    affine = torch.diag(torch.tensor([-0.8, -0.8, 3.0, 1.0], dtype=torch.float64))
    return MetaTensor(array, affine=affine, meta={"filename_or_obj": "ct.nii.gz"})


def _coarse(**kwargs):
    preprocessing = Compose(
        [
            Orientationd("image", axcodes="RAS"),
            Spacingd("image", pixdim=[2.4, 2.4, 3.0], mode="bilinear"),
            ScaleIntensityRanged("image", a_min=-200, a_max=250, b_min=0.0, b_max=1.0, clip=True),
        ]
    )
    return CoarseMaskd("image", network=Threshold(), preprocessing=preprocessing, inferer=SimpleInferer(), **kwargs)


def test_mask_comes_back_to_the_image_grid():
    ct = _ct()
    out = _coarse()({"image": ct})
    mask = out["coarse_mask"]
    assert mask.shape == ct.shape and mask.dtype == torch.uint8
    assert torch.allclose(mask.affine, ct.affine)
    truth = torch.zeros_like(ct, dtype=torch.uint8)
    truth[0, 10:34, 8:26, 3:7] = 1
    assert volume_dice(mask, truth) > 0.85  # a flipped or shifted mask scores far less
    assert not mask[0, 40:48, 32:40, 7:10].any()  # only the largest component is kept
    assert torch.equal(out["image"], ct)  # the image itself is untouched


def test_without_largest_component_both_parts_stay():
    mask = _coarse(largest_component=False)({"image": _ct()})["coarse_mask"]
    assert mask[0, 10:34, 8:26, 3:7].float().mean() > 0.8
    assert mask[0, 40:48, 32:40, 7:10].any()


def test_nothing_found_means_the_whole_image(caplog):
    ct = _ct(hu=-500.0)
    with caplog.at_level(logging.WARNING):
        mask = _coarse()({"image": ct})["coarse_mask"]
    assert bool(mask.all())
    assert "ct.nii.gz" in caplog.text and "no foreground" in caplog.text


def test_weights_load_bare_or_under_model(tmp_path):
    network = Threshold()
    torch.save({"scale": torch.tensor(3.0)}, tmp_path / "bare.pt")
    torch.save({"model": {"scale": torch.tensor(5.0)}}, tmp_path / "nested.pt")
    assert load_weights(network, tmp_path / "bare.pt").scale.item() == 3.0
    assert load_weights(network, tmp_path / "nested.pt").scale.item() == 5.0
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        load_weights(network, tmp_path / "missing.pt")
    coarse = _coarse(ckpt_path=tmp_path / "bare.pt")
    assert coarse.network.scale.item() == 3.0 and not coarse.network.training


def test_one_key_only():
    with pytest.raises(ValueError, match="one image key"):
        CoarseMaskd(["a", "b"], network=Threshold(), preprocessing=Compose([]), inferer=SimpleInferer())


class Silent(torch.nn.Module):
    """A coarse model that finds nothing (background everywhere)."""

    def forward(self, x):
        return torch.cat([torch.full_like(x, 9.0), torch.full_like(x, -9.0)], dim=1)


def test_out_of_fold_each_case_is_segmented_by_its_fold_member_alone(caplog):
    from bundle_common.networks import ProbabilityMeanEnsemble

    ensemble = ProbabilityMeanEnsemble([Threshold(), Silent()], activation="softmax")
    transform = _coarse(fold_key="fold")
    transform.network = ensemble
    ct = _ct()
    by_fold_0 = transform({"image": ct, "fold": 0})["coarse_mask"]  # the threshold model: the box
    assert by_fold_0[0, 10:34, 8:26, 3:7].float().mean() > 0.8 and not by_fold_0.all()
    with caplog.at_level(logging.WARNING):
        by_fold_1 = transform({"image": ct, "fold": torch.tensor([1])})["coarse_mask"]
    assert bool(by_fold_1.all()) and "no foreground" in caplog.text  # the silent model: nothing, so everything
    assert ensemble.member == -1  # back to the mean after each case


def test_out_of_fold_with_one_coarse_model_warns_once(caplog):
    transform = _coarse(fold_key="fold")
    with caplog.at_level(logging.WARNING):
        for fold in (0, 1):
            transform({"image": _ct(), "fold": fold})
    assert caplog.text.count("the coarse stage is one model") == 1
