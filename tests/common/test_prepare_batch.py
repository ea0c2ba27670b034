import math

import pytest
import torch
import torch.nn.functional as F

from bundle_common.prepare_batch import RandAffinePrepareBatch, _grid_3d, _rotations_3d, warp_batch


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


@pytest.mark.parametrize(
    "settings",
    [
        {"prob": 1.5},
        {"flip_prob": -0.1},
        {"flip_prob": [0.0, 1.5]},
        {"flip_prob": [0.5, 0.5, 0.5]},
        {"rot90_prob": 2},
        {"translate_range": [1.0, 2.0, 3.0]},
        {"spatial_dims": 4},
        {"spatial_dims": 3, "shear_range": 0.1},
        {"spatial_dims": 3, "rot90_prob": 0.5},
        {"spatial_dims": 3, "flip_prob": [0.5, 0.5]},
        {"spatial_dims": 3, "rotate_range": [0.1, 0.2]},
    ],
)
def test_bad_settings_are_refused(settings):
    with pytest.raises(ValueError):
        RandAffinePrepareBatch(**settings)


def test_flips_on_both_axes_turn_the_picture_and_its_label_half_round():
    image, label = torch.rand(2, 3, 8, 8), (torch.rand(2, 1, 8, 8) > 0.5).float()
    augment = RandAffinePrepareBatch(prob=0.0, flip_prob=1.0, label_mode="nearest")
    warped, warped_label = augment({"image": image, "label": label})
    torch.testing.assert_close(warped, torch.flip(image, dims=(2, 3)), atol=1e-5, rtol=0)
    assert torch.equal(warped_label, torch.flip(label, dims=(2, 3)))


@pytest.mark.parametrize("axis", [0, 1])
def test_a_flip_probability_per_axis_flips_that_spatial_axis_alone(axis):
    image, label = torch.rand(3, 2, 7, 10), (torch.rand(3, 1, 7, 10) > 0.5).float()
    flip_prob = [1.0, 0.0] if axis == 0 else [0.0, 1.0]  # as RandFlipd's spatial_axis: 0 height, 1 width
    augment = RandAffinePrepareBatch(prob=0.0, flip_prob=flip_prob, label_mode="nearest")
    warped, warped_label = augment({"image": image, "label": label})
    torch.testing.assert_close(warped, torch.flip(image, dims=(2 + axis,)), atol=1e-5, rtol=0)
    assert torch.equal(warped_label, torch.flip(label, dims=(2 + axis,)))


@pytest.mark.parametrize("axis", [0, 1])
def test_a_range_per_axis_acts_on_that_spatial_axis_alone(axis):
    # scaling only the height keeps the centre row (scaling only the width, the centre column) as it was
    image = torch.rand(8, 1, 9, 11)
    scale_range = [0.4, 0.0] if axis == 0 else [0.0, 0.4]
    warped, _ = RandAffinePrepareBatch(prob=1.0, scale_range=scale_range, seed=4)({"image": image, "label": None})
    kept, changed = (warped[:, :, 4, :], warped[:, :, :, 5]) if axis == 0 else (warped[:, :, :, 5], warped[:, :, 4, :])
    original = (image[:, :, 4, :], image[:, :, :, 5]) if axis == 0 else (image[:, :, :, 5], image[:, :, 4, :])
    torch.testing.assert_close(kept, original[0], atol=1e-5, rtol=0)
    assert not torch.allclose(changed, original[1], atol=1e-3)


def test_quarter_turns_are_exact_and_cover_one_to_three_turns():
    augment = RandAffinePrepareBatch(prob=0.0, rot90_prob=1.0, seed=2)
    image = torch.rand(1, 1, 6, 6).expand(60, 1, 6, 6)
    warped, _ = augment({"image": image, "label": None})
    turns = set()
    for sample in warped:
        matches = [k for k in range(4) if torch.allclose(sample, torch.rot90(image[0], k, dims=(1, 2)), atol=1e-5)]
        assert len(matches) == 1 and matches[0] != 0  # each sample one whole quarter turn, never none
        turns.add(matches[0])
    assert turns == {1, 2, 3}


def test_flip_and_turn_probabilities_choose_the_samples():
    affines = RandAffinePrepareBatch(prob=0.0, flip_prob=0.5, rot90_prob=0.5).random_affines(4000)
    unchanged = torch.all(torch.isclose(affines, torch.eye(2, 3)).flatten(1), dim=1)
    # unchanged only when neither axis flips and no turn is drawn (or a half turn meets a flip of both axes)
    assert 0.14 < unchanged.float().mean() < 0.20  # 1/8 + 1/2 * 1/3 * 1/4 = 0.1667
    assert torch.all(affines[:, :, :2].abs().round() == affines[:, :, :2].abs())  # symmetries only: entries 0, +-1


def test_segmentation_labels_move_with_their_pictures():
    # the picture is its own label: after the same warp, the label must equal the thresholded warped picture
    mask = torch.zeros(4, 1, 32, 32)
    mask[:, :, 8:20, 10:26] = 1.0
    augment = RandAffinePrepareBatch(
        prob=1.0, rotate_range=0.3, scale_range=0.15, flip_prob=0.5, rot90_prob=0.5, label_mode="nearest", seed=5
    )
    warped, warped_label = augment({"image": mask, "label": mask.clone()})
    assert set(warped_label.unique().tolist()) <= {0.0, 1.0}  # nearest: still a mask
    inside = (warped > 0.99) | (warped < 0.01)  # away from the interpolated edge, both agree
    assert torch.equal(warped_label[inside], (warped[inside] > 0.5).float())
    assert not torch.equal(warped_label, mask)


def test_labels_are_untouched_without_label_mode():
    label = torch.ones(2, 1, 8, 8)
    augment = RandAffinePrepareBatch(prob=1.0, rotate_range=1.0, flip_prob=1.0)
    _, same = augment({"image": label.clone(), "label": label})
    assert same is label


# 3D: (N, C, D, H, W) batches; affines in (x, y, z) = (width, height, depth) order


def test_the_3d_grid_is_affine_grids_to_rounding():
    theta = torch.randn(3, 3, 4) * 0.5
    for shape in [(3, 1, 7, 9, 11), (3, 2, 16, 16, 16), (3, 1, 1, 5, 4)]:
        torch.testing.assert_close(_grid_3d(theta, shape), F.affine_grid(theta, list(shape), align_corners=False))


def test_3d_warp_translates_in_voxels_along_each_axis():
    image = torch.rand(1, 2, 8, 10, 12)
    # output voxel (d, h, w) takes the input at (d + 1, h + 2, w + 3)
    shifted = warp_batch(image, _affine(torch.eye(3).tolist(), [3, 2, 1])[None])
    torch.testing.assert_close(shifted[..., :-1, :-2, :-3], image[..., 1:, 2:, 3:], atol=1e-5, rtol=0)
    assert torch.all(shifted[..., -1, :, :] == 0) and torch.all(shifted[..., -3:] == 0)


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_3d_quarter_turn_about_an_axis_turns_the_other_two(axis):
    # angles about x, y, z: array axis 2 (width), 1 (height), 0 (depth); a quarter turn about one of them is
    # torch.rot90 over the other two spatial axes of the array
    angles = torch.zeros(1, 3)
    angles[0, 2 - axis] = math.pi / 2
    rotation = _rotations_3d(angles)
    image = torch.rand(1, 1, 9, 9, 9)
    warped = warp_batch(image, torch.cat([rotation, torch.zeros(1, 3, 1)], 2))
    others = tuple(2 + d for d in range(3) if d != axis)
    matches = [k for k in (1, -1) if torch.allclose(warped, torch.rot90(image, k, dims=others), atol=1e-5)]
    assert len(matches) == 1


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_3d_rotate_range_per_axis_turns_about_that_axis_alone(axis):
    rotate_range = [0.0, 0.0, 0.0]
    rotate_range[axis] = 0.5
    affines = RandAffinePrepareBatch(prob=1.0, rotate_range=rotate_range, spatial_dims=3).random_affines(50)
    kept = 2 - axis  # the affine's coordinate of that array axis
    unit = torch.eye(3)[kept].expand(50, 3)
    torch.testing.assert_close(affines[:, kept, :3], unit)
    torch.testing.assert_close(affines[:, :3, kept], unit)
    assert not torch.allclose(affines[:, :3, :3], torch.eye(3).expand(50, 3, 3))


def test_3d_draws_stay_in_their_ranges_and_prob_chooses_the_samples():
    augment = RandAffinePrepareBatch(prob=0.5, rotate_range=0.2, scale_range=0.1, spatial_dims=3, seed=0)
    affines = augment.random_affines(2000)
    unchanged = torch.all((affines == torch.eye(3, 4)).flatten(1), dim=1)
    assert 0.45 < unchanged.float().mean() < 0.55
    moved = affines[~unchanged, :, :3]
    scales = torch.linalg.svdvals(moved)  # rotation times scale: the singular values are the scales
    assert scales.max() <= 1.1 + 1e-5 and scales.min() >= 0.9 - 1e-5 and scales.max() > 1.09
    rotations = moved / torch.linalg.norm(moved, dim=1, keepdim=True)  # columns scaled back to unit length
    torch.testing.assert_close(torch.linalg.det(rotations), torch.ones(len(moved)))
    # the whole rotation turns by at most the three angles together
    turned = torch.arccos(((rotations.diagonal(dim1=1, dim2=2).sum(-1) - 1) / 2).clamp(-1, 1))
    assert turned.max() <= 0.6 + 1e-4 and turned.max() > 0.3


def test_3d_prepare_batch_warps_only_the_drawn_samples_and_their_labels():
    image = torch.rand(6, 1, 12, 12, 12)
    label = (torch.rand(6, 1, 12, 12, 12) > 0.5).float()
    augment = RandAffinePrepareBatch(
        prob=0.5, rotate_range=0.3, scale_range=0.1, label_mode="nearest", spatial_dims=3, seed=7
    )
    affines = RandAffinePrepareBatch(prob=0.5, rotate_range=0.3, scale_range=0.1, spatial_dims=3, seed=7)
    moved = ~torch.all((affines.random_affines(6) == torch.eye(3, 4)).flatten(1), dim=1)
    assert 0 < moved.sum() < 6  # seed 7 moves some, not all
    warped, warped_label = augment({"image": image, "label": label})
    assert torch.equal(warped[~moved], image[~moved]) and torch.equal(warped_label[~moved], label[~moved])
    for index in moved.nonzero()[:, 0]:
        assert not torch.allclose(warped[index], image[index], atol=1e-3)
        assert set(warped_label[index].unique().tolist()) <= {0.0, 1.0}  # nearest: still a mask


def test_3d_labels_move_with_their_pictures():
    mask = torch.zeros(4, 1, 24, 24, 24)
    mask[:, :, 6:16, 8:20, 5:15] = 1.0
    augment = RandAffinePrepareBatch(
        prob=1.0, rotate_range=0.3, scale_range=0.15, flip_prob=0.5, label_mode="nearest", spatial_dims=3, seed=5
    )
    warped, warped_label = augment({"image": mask, "label": mask.clone()})
    inside = (warped > 0.99) | (warped < 0.01)  # away from the interpolated edge, both agree
    assert torch.equal(warped_label[inside], (warped[inside] > 0.5).float())
    assert not torch.equal(warped_label, mask)


def test_3d_flip_per_axis_flips_that_axis_alone():
    image = torch.rand(2, 1, 5, 6, 7)
    for axis in range(3):
        flip_prob = [0.0, 0.0, 0.0]
        flip_prob[axis] = 1.0
        augment = RandAffinePrepareBatch(prob=0.0, flip_prob=flip_prob, spatial_dims=3)
        warped, _ = augment({"image": image, "label": None})
        torch.testing.assert_close(warped, torch.flip(image, dims=(2 + axis,)), atol=1e-5, rtol=0)


def test_3d_state_dict_resumes_the_same_draws():
    settings = {"prob": 0.7, "rotate_range": [0.1, 0.2, 0.3], "scale_range": 0.1, "translate_range": 2.0}
    augment = RandAffinePrepareBatch(**settings, spatial_dims=3, seed=3)
    augment.random_affines(8)
    state = augment.state_dict()
    expected = augment.random_affines(8)
    resumed = RandAffinePrepareBatch(**settings, spatial_dims=3, seed=11)
    resumed.load_state_dict(state)
    torch.testing.assert_close(resumed.random_affines(8), expected)
