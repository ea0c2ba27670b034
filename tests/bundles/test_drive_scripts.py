"""The DRIVE bundle's own code (scripts/) for its experiments (docs/experiments/)."""

import numpy as np
import pytest
import torch
from skimage.exposure import equalize_adapthist

from tests.conftest import load_bundle_script

clahe = load_bundle_script("drive_vessel_segmentation", "clahe")


def _picture(seed=0, size=(3, 40, 48)):
    """A random RGB picture in [0, 1] whose green channel has a dim left half and a bright right half."""
    rgb = torch.rand(size, generator=torch.Generator().manual_seed(seed))
    rgb[1, :, : size[2] // 2] *= 0.2
    return rgb


def test_green_clahe_is_scikit_images_clahe_of_the_green_channel():
    rgb = _picture()
    out = clahe.green_clahe(rgb)
    assert out.shape == (1, 40, 48) and out.dtype == torch.float32
    expected = equalize_adapthist(rgb[1].double().numpy(), clip_limit=0.01)
    np.testing.assert_allclose(out[0].numpy(), expected, atol=1e-6)
    assert out.min() >= 0 and out.max() <= 1
    # equalisation lifts the dim half: its mean rises towards the bright half's
    assert out[0, :, :24].mean() - out[0, :, 24:].mean() > rgb[1, :, :24].mean() - rgb[1, :, 24:].mean()


def test_green_clahed_replaces_or_appends():
    rgb = _picture(1)
    replaced = clahe.GreenCLAHEd("image")({"image": rgb, "mask": torch.ones(1, 40, 48)})
    appended = clahe.GreenCLAHEd("image", append=True)({"image": rgb})["image"]
    assert replaced["image"].shape == (1, 40, 48) and "mask" in replaced
    assert appended.shape == (4, 40, 48)
    assert torch.equal(appended[:3], rgb) and torch.equal(appended[3:], replaced["image"])
    with pytest.raises(ValueError, match=r"expected a \(3, H, W\) RGB picture"):
        clahe.GreenCLAHEd("image")({"image": rgb[:1]})


def test_channel_subset_feeds_the_network_its_channels_only():
    x = torch.arange(2 * 4 * 3 * 3, dtype=torch.float32).reshape(2, 4, 3, 3)
    seen = []

    class Record(torch.nn.Module):
        def forward(self, t):
            seen.append(t)
            return t.sum(dim=1, keepdim=True)

    out = clahe.ChannelSubset(Record(), [3])(x)
    assert torch.equal(seen[0], x[:, 3:]) and torch.equal(out, x[:, 3:])
    clahe.ChannelSubset(Record(), [0, 1, 2])(x)
    assert torch.equal(seen[1], x[:, :3])
