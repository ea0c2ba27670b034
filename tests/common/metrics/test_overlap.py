import numpy as np
import pytest
import torch

from bundle_common.metrics.overlap import volume_dice


def test_dice_by_hand():
    label = np.zeros((1, 4, 4, 2))
    label[0, :2, :2, 0] = 1  # 4 voxels on slice 0
    prediction = np.zeros_like(label)
    prediction[0, :2, :1, 0] = 1  # 2 of them
    prediction[0, 3, 3, 1] = 1  # and 1 voxel on slice 1 that is not tumour
    assert volume_dice(prediction, label) == pytest.approx(2 * 2 / (3 + 4))
    assert volume_dice(torch.as_tensor(prediction), torch.as_tensor(label)) == pytest.approx(4 / 7)


def test_volume_dice_pools_slices_instead_of_averaging_them():
    label = np.zeros((1, 2, 2, 2))
    label[0, :, :, 0] = 1  # 4 voxels on slice 0, slice 1 empty
    prediction = label.copy()
    prediction[0, 0, 0, 1] = 1  # one false positive on the empty slice
    # per slice: 1.0 and 0.0 (mean 0.5); over the volume: 2 * 4 / (5 + 4)
    assert volume_dice(prediction, label) == pytest.approx(8 / 9)


def test_patient_without_tumour():
    empty = np.zeros((1, 3, 3, 2))
    assert volume_dice(empty, empty) == 1.0
    one = empty.copy()
    one[0, 1, 1, 1] = 1
    assert volume_dice(one, empty) == 0.0
    assert volume_dice(empty, one) == 0.0


def test_any_positive_value_is_foreground_and_shapes_must_match():
    assert volume_dice(np.array([0.0, 0.4, 1.0]), np.array([0, 1, 1])) == pytest.approx(1.0)  # > 0 is foreground
    with pytest.raises(ValueError, match="differ in shape"):
        volume_dice(np.zeros((2, 2)), np.zeros((2, 3)))


@pytest.mark.parametrize("case", ["overlap", "both_empty", "one_empty"])
def test_volume_dice_agrees_with_monai_compute_dice(case):
    from monai.metrics import compute_dice

    rng = np.random.default_rng(0)
    prediction, label = rng.random((2, 12, 10, 8)) > 0.6
    if case == "both_empty":
        prediction[:], label[:] = False, False
    elif case == "one_empty":
        label[:] = False
    as_batch = [torch.as_tensor(a)[None, None].float() for a in (prediction, label)]
    expected = float(compute_dice(*as_batch, include_background=True, ignore_empty=False))
    assert volume_dice(prediction, label) == pytest.approx(expected, abs=1e-6)
