import math

import pytest
import torch

from bundle_common.prepare_batch import RandAffinePrepareBatch, warp_batch


def _affine(linear, shift):
    return torch.cat([torch.tensor(linear, dtype=torch.float32), torch.tensor(shift, dtype=torch.float32)[:, None]], 1)


def test_warp_translates_in_pixels_along_each_axis_of_a_non_square_image():
    image = torch.rand(1, 2, 10, 16)
    # output pixel p takes the input at p + (3, 2): the content moves 3 pixels left and 2 up
    shifted = warp_batch(image, _affine([[1, 0], [0, 1]], [3, 2])[None])
    torch.testing.assert_close(shifted[..., :-2, :-3], image[..., 2:, 3:], atol=1e-5, rtol=0)
    assert torch.all(shifted[..., -2:, :] == 0) and torch.all(shifted[..., :, -3:] == 0)  # padded with zeros


def test_warp_rotates_a_quarter_turn_about_the_centre():
    image = torch.rand(1, 1, 9, 9)
    quarter = warp_batch(image, _affine([[0, -1], [1, 0]], [0, 0])[None])
    torch.testing.assert_close(quarter, torch.rot90(image, k=1, dims=(2, 3)), atol=1e-5, rtol=0)


def test_each_sample_gets_its_own_affine_and_labels_are_untouched():
    augment = RandAffinePrepareBatch(prob=1.0, rotate_range=0.3, translate_range=2.0, scale_range=0.1, seed=1)
    image = torch.rand(4, 1, 12, 12).repeat_interleave(2, 0)  # pairs of identical images
    label = torch.arange(8)
    warped, same_label = augment({"image": image, "label": label})
    assert torch.equal(same_label, label)
    assert warped.shape == image.shape
    assert not torch.allclose(warped[0], warped[1])  # the same picture, warped two ways


def test_drawn_affines_stay_in_their_ranges_and_prob_chooses_the_samples():
    augment = RandAffinePrepareBatch(prob=0.5, rotate_range=0.2, seed=0)
    affines = augment.random_affines(2000)
    identity = torch.eye(2, 3)
    unchanged = torch.all(torch.isclose(affines, identity).flatten(1), dim=1)
    assert 0.45 < unchanged.float().mean() < 0.55
    angles = torch.atan2(affines[~unchanged, 1, 0], affines[~unchanged, 0, 0])
    assert angles.abs().max() <= 0.2 + 1e-6 and angles.abs().max() > 0.19
    torch.testing.assert_close(torch.linalg.det(affines[:, :, :2]), torch.ones(2000))  # rotations only


def test_prob_zero_leaves_the_batch_as_it_is():
    image = torch.rand(3, 1, 8, 8)
    warped, _ = RandAffinePrepareBatch(prob=0.0, rotate_range=math.pi)({"image": image, "label": torch.zeros(3)})
    torch.testing.assert_close(warped, image, atol=1e-5, rtol=0)


def test_state_dict_resumes_the_same_draws():
    augment = RandAffinePrepareBatch(prob=0.9, rotate_range=0.2, shear_range=0.15, translate_range=2.5, seed=3)
    augment.random_affines(16)
    state = augment.state_dict()
    expected = augment.random_affines(16)
    resumed = RandAffinePrepareBatch(prob=0.9, rotate_range=0.2, shear_range=0.15, translate_range=2.5, seed=99)
    resumed.load_state_dict(state)
    torch.testing.assert_close(resumed.random_affines(16), expected)


@pytest.mark.parametrize("settings", [{"prob": 1.5}, {"translate_range": [1.0, 2.0, 3.0]}])
def test_bad_settings_are_refused(settings):
    with pytest.raises(ValueError):
        RandAffinePrepareBatch(**settings)
