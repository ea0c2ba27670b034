"""The liver box of the fine stage's training (fixed and random margins), and the crop/paste round trip of the
cascade."""

import numpy as np
import pytest
import torch
from monai.data import MetaTensor
from monai.transforms import Compose, CropForegroundd, Invertd, Orientationd, Spacingd

from bundle_common.transforms import ForegroundCropd, RandForegroundCropd, jittered_box


def _volume_with_box(shape=(20, 18, 12), start=(5, 6, 3), end=(12, 10, 8)):
    label = torch.zeros((1, *shape))
    label[0, start[0] : end[0], start[1] : end[1], start[2] : end[2]] = 1
    image = torch.arange(label.numel(), dtype=torch.float32).reshape(label.shape)
    return {"image": image, "label": label}


def test_jittered_box_grows_shrinks_and_stays_inside():
    margins = np.array([[2, -1, 10], [3, -2, 10]])
    start, end = jittered_box([5, 6, 3], [12, 10, 8], [20, 18, 12], margins)
    assert start == [3, 7, 0] and end == [15, 8, 12]
    start, end = jittered_box([5, 6, 3], [6, 7, 4], [20, 18, 12], np.full((2, 3), -5))
    assert start == [5, 6, 3] and end == [6, 7, 4]  # shrunk past itself: the box's last voxel


def test_fixed_margin_crops_to_the_box_plus_margin():
    crop = RandForegroundCropd(["image", "label"], source_key="label", min_margin=2, max_margin=2)
    out = crop(_volume_with_box())
    assert out["image"].shape == (1, 11, 8, 9)
    assert out["label"].sum() == 7 * 4 * 5  # the whole box is inside the crop
    assert out["image"][0, 0, 0, 0] == _volume_with_box()["image"][0, 3, 4, 1]


def test_random_margins_vary_and_are_reproducible():
    crop = RandForegroundCropd(["image", "label"], source_key="label", min_margin=-2, max_margin=4)
    crop.set_random_state(0)
    shapes = {tuple(crop(_volume_with_box())["image"].shape) for _ in range(10)}
    assert len(shapes) > 1
    for shape in shapes:  # box 7 x 4 x 5, each side moved by -2..4 voxels
        assert all(size - 4 <= s <= size + 8 for s, size in zip(shape[1:], (7, 4, 5)))
    again = RandForegroundCropd(["image", "label"], source_key="label", min_margin=-2, max_margin=4)
    again.set_random_state(0)
    crop.set_random_state(0)
    assert crop(_volume_with_box())["image"].shape == again(_volume_with_box())["image"].shape


def test_empty_source_leaves_the_data_uncropped():
    data = _volume_with_box()
    data["label"].zero_()
    out = RandForegroundCropd(["image", "label"], source_key="label", min_margin=0, max_margin=3)(data)
    assert out["image"].shape == data["image"].shape


@pytest.mark.parametrize("margin", [0, 2, 6, [2, 0, 5]])
@pytest.mark.parametrize("start,end", [((5, 6, 3), (12, 10, 8)), ((0, 0, 0), (20, 3, 12)), ((18, 1, 10), (20, 17, 11))])
def test_fixed_margin_crops_as_monai_crop_foreground(start, end, margin):
    data = _volume_with_box(start=start, end=end)
    ours = ForegroundCropd(["image", "label"], source_key="label", margin=margin)(data)
    monai = CropForegroundd(["image", "label"], source_key="label", margin=margin, allow_smaller=True)(data)
    for key in ("image", "label"):
        assert torch.equal(torch.as_tensor(ours[key]), torch.as_tensor(monai[key])), key


def test_fixed_margin_leaves_an_empty_source_uncropped():
    """Where MONAI's CropForegroundd returns empty arrays."""
    data = _volume_with_box()
    data["label"].zero_()
    monai = CropForegroundd(["image", "label"], source_key="label", margin=3, allow_smaller=True)(data)
    assert monai["image"].numel() == 0
    assert ForegroundCropd(["image", "label"], source_key="label", margin=3)(data)["image"].shape == data["image"].shape


def test_cropping_to_the_widest_margin_first_changes_no_random_box():
    """The fine stage caches the box plus ``max_margin``: the random box cut from it is the one cut from the whole
    volume, for boxes anywhere (against the edges too) and margins that shrink or grow them."""
    rng = np.random.default_rng(0)
    shape, smaller = (20, 18, 12), 0
    for trial in range(40):
        start = [int(rng.integers(0, s - 1)) for s in shape]
        end = [int(rng.integers(a + 1, s + 1)) for a, s in zip(start, shape)]
        data = _volume_with_box(shape, start, end)
        low, high = int(rng.integers(-3, 2)), int(rng.integers(2, 8))
        whole = RandForegroundCropd(["image", "label"], source_key="label", min_margin=low, max_margin=high)
        boxed = RandForegroundCropd(["image", "label"], source_key="label", min_margin=low, max_margin=high)
        whole.set_random_state(trial)
        boxed.set_random_state(trial)
        cached = ForegroundCropd(["image", "label"], source_key="label", margin=high)(data)
        smaller += cached["image"].numel() < data["image"].numel()
        for _ in range(5):
            expected, got = whole(data), boxed(cached)
            for key in ("image", "label"):
                assert torch.equal(torch.as_tensor(got[key]), torch.as_tensor(expected[key])), (trial, key)
    assert smaller > 30  # the cache mostly holds less than the volume


def test_bad_margin_range_is_refused():
    with pytest.raises(ValueError, match="min_margin"):
        RandForegroundCropd(["image"], source_key="label", min_margin=3, max_margin=1)


def test_crop_and_paste_back_round_trip_exactly():
    """The cascade's crop (reorient, resample, box) taken back by Invertd gives the same values where the box was and
    zero elsewhere, on the input's grid and affine."""
    affine = torch.diag(torch.tensor([-1.5, -1.5, 4.0, 1.0], dtype=torch.float64))
    affine[:3, 3] = torch.tensor([100.0, 80.0, -50.0], dtype=torch.float64)
    data = _volume_with_box()
    image = MetaTensor(data["image"], affine=affine)
    mask = MetaTensor(data["label"], affine=affine)
    preprocessing = Compose(
        [
            Orientationd(["image", "mask"], axcodes="RAS"),
            Spacingd(["image", "mask"], pixdim=[1.5, 1.5, 4.0], mode=["nearest", "nearest"]),
            CropForegroundd(["image", "mask"], source_key="mask", margin=1, allow_smaller=True),
        ]
    )
    out = preprocessing({"image": image, "mask": mask})
    assert out["image"].shape == (1, 9, 6, 7)
    pasted = Invertd("pred", preprocessing, orig_keys="image", nearest_interp=True)(
        {"image": out["image"], "pred": out["image"].clone()}
    )["pred"]
    assert pasted.shape == image.shape
    assert torch.allclose(pasted.affine, affine)
    inside = torch.zeros_like(data["label"], dtype=torch.bool)
    inside[0, 4:13, 5:11, 2:9] = True
    assert torch.equal(pasted.as_tensor()[inside], data["image"][inside])
    assert not pasted.as_tensor()[~inside].any()
