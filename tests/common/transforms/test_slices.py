import pytest
import torch
from monai.data import MetaTensor

from bundle_common.transforms import AdjacentSlicesToChannels, AdjacentSlicesToChannelsd


def _volume():
    # (2, 1, 1, 4): channel c of slice s holds 10 * c + s
    return torch.tensor([[[[0.0, 1, 2, 3]]], [[[10.0, 11, 12, 13]]]])


def test_neighbours_become_channel_blocks_with_edges_repeated():
    out = AdjacentSlicesToChannels(context=1)(_volume())
    assert out.shape == (6, 1, 1, 4)
    assert out[:, 0, 0, 0].tolist() == [0, 10, 0, 10, 1, 11]  # first slice: itself stands in for s - 1
    assert out[:, 0, 0, 2].tolist() == [1, 11, 2, 12, 3, 13]
    assert out[:, 0, 0, 3].tolist() == [2, 12, 3, 13, 3, 13]  # last slice: itself stands in for s + 1


def test_wider_context_and_single_slice_volume():
    out = AdjacentSlicesToChannels(context=2)(_volume())
    assert out.shape == (10, 1, 1, 4)
    assert out[0::2, 0, 0, 1].tolist() == [0, 0, 1, 2, 3]
    single = AdjacentSlicesToChannels(context=1)(torch.ones(3, 2, 2, 1))
    assert single.shape == (9, 2, 2, 1)


def test_context_zero_is_identity_and_bad_input_is_refused():
    volume = _volume()
    assert AdjacentSlicesToChannels(context=0)(volume) is volume
    with pytest.raises(ValueError, match="context"):
        AdjacentSlicesToChannels(context=-1)
    with pytest.raises(ValueError, match=r"\(C, H, W, S\)"):
        AdjacentSlicesToChannels(context=1)(torch.zeros(3, 4, 4))


def test_dictionary_version_keeps_metadata_and_other_keys():
    image = MetaTensor(_volume(), meta={"filename_or_obj": "p"})
    label = torch.zeros(1, 1, 1, 4)
    out = AdjacentSlicesToChannelsd(keys="image", context=1)({"image": image, "label": label})
    assert out["image"].shape == (6, 1, 1, 4)
    assert out["image"].meta["filename_or_obj"] == "p"
    assert out["label"] is label
