import torch
from monai.inferers import SlidingWindowInferer

from bundle_common.inferers import FlipAveragingInferer


def test_flip_averaging_undoes_each_flip():
    def left_biased(x):  # a "network" that is not flip-equivariant: it copies the column to its left
        return torch.roll(x, shifts=1, dims=-1)

    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    out = FlipAveragingInferer(flip_axes=((), (1,)))(x, left_biased)
    expected = (torch.roll(x, 1, -1) + torch.roll(x, -1, -1)) / 2  # the flipped pass shifts the other way
    torch.testing.assert_close(out, expected)


def test_equivariant_network_is_unchanged_and_activation_is_averaged():
    x = torch.randn(2, 1, 8, 8)
    identity = FlipAveragingInferer(SlidingWindowInferer(roi_size=(4, 4), sw_batch_size=2))(x, lambda t: t * 2)
    torch.testing.assert_close(identity, x * 2)
    probabilities = FlipAveragingInferer(activation=torch.sigmoid)(x, lambda t: t)
    torch.testing.assert_close(probabilities, torch.sigmoid(x))
