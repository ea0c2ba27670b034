import numpy as np

from bundle_common.overlays import outline, outline_overlay


def test_outline_of_a_square_is_its_ring():
    mask = np.zeros((7, 7), bool)
    mask[1:6, 1:6] = True
    ring = mask.copy()
    ring[2:5, 2:5] = False
    np.testing.assert_array_equal(outline(mask), ring)
    edge = np.ones((3, 3), bool)  # touching the picture's edge counts as border
    assert outline(edge).sum() == 8 and not outline(edge)[1, 1]


def test_outline_overlay_colours():
    picture = np.full((6, 6, 3), 50, np.uint8)
    prediction = np.zeros((6, 6), bool)
    prediction[0:3, 0:3] = True
    label = np.zeros((6, 6), bool)
    label[0:3, 0:6] = True
    drawn = outline_overlay(picture, prediction, label)
    assert drawn[1, 1].tolist() == [50, 50, 50]  # inside both outlines: untouched
    assert drawn[2, 0].tolist() == [255, 255, 0]  # on both outlines: yellow
    assert drawn[1, 2].tolist() == [255, 0, 0]  # prediction's outline only: red
    assert drawn[0, 4].tolist() == [0, 255, 0]  # label's outline only: green
    assert outline_overlay(picture, prediction)[0, 4].tolist() == [50, 50, 50]
