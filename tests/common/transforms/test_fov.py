import numpy as np
import pytest
import torch

from bundle_common.transforms import NormalizeInFOV, NormalizeInFOVd


def test_statistics_come_from_inside_the_fov_only():
    image = torch.tensor([[[1.0, 3.0], [100.0, -50.0]], [[2.0, 2.0], [9.0, 9.0]]])  # (2, 2, 2)
    mask = torch.tensor([[[1, 1], [0, 0]]])
    out = NormalizeInFOV()(image, mask)
    # channel 0 inside: [1, 3], mean 2, std (unbiased) sqrt(2); channel 1 inside: [2, 2], std 0 -> clamped
    np.testing.assert_allclose(out[0, 0].numpy(), [-1 / np.sqrt(2), 1 / np.sqrt(2)], rtol=1e-6)
    np.testing.assert_allclose(out[1, 0].numpy(), [0.0, 0.0])
    assert out[:, 1].abs().sum() == 0  # outside the FOV


def test_dictionary_version_and_errors():
    data = {"image": torch.rand(3, 4, 5), "mask": torch.ones(1, 4, 5)}
    out = NormalizeInFOVd("image", mask_key="mask")(data)
    assert out["image"].mean(dim=(1, 2)).abs().max() < 1e-5 and out["mask"] is data["mask"]
    with pytest.raises(ValueError, match="FOV mask is empty"):
        NormalizeInFOV()(torch.rand(3, 4, 5), torch.zeros(1, 4, 5))
    with pytest.raises(ValueError, match=r"differ in size"):
        NormalizeInFOV()(torch.rand(3, 4, 5), torch.ones(1, 5, 4))
