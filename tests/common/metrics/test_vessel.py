import math

import numpy as np
import pytest
import torch

from bundle_common.metrics.vessel import confusion_figures, fov_confusion, fov_pixels, roc_auc

# A 4x4 image whose FOV drops the four corners. The corners would change every count if they were scored:
# (0,0) p=.9 l=1 -> tp, (0,3) p=.1 l=0 -> tn, (3,0) p=.95 l=0 -> fp, (3,3) p=.9 l=1 -> tp.
PROB = np.array(
    [
        [0.9, 0.6, 0.2, 0.1],
        [0.5, 0.4, 0.7, 0.0],
        [0.3, 0.8, 0.5, 0.2],
        [0.95, 0.05, 0.6, 0.9],
    ],
    dtype=np.float32,
)[None]
LABEL = np.array([[1, 1, 0, 0], [1, 0, 0, 0], [0, 1, 1, 0], [0, 1, 0, 1]], dtype=np.uint8)[None]
FOV = np.array([[0, 1, 1, 0], [1, 1, 1, 1], [1, 1, 1, 1], [0, 1, 1, 0]], dtype=np.uint8)[None]
# Inside the FOV (12 pixels), at threshold 0.5:
#   (0,1) .6 l1 tp   (0,2) .2 l0 tn   (1,0) .5 l1 tp (== threshold)   (1,1) .4 l0 tn   (1,2) .7 l0 fp
#   (1,3) .0 l0 tn   (2,0) .3 l0 tn   (2,1) .8 l1 tp   (2,2) .5 l1 tp (== threshold)   (2,3) .2 l0 tn
#   (3,1) .05 l1 fn  (3,2) .6 l0 fp
# -> tp = 4, fp = 2, fn = 1, tn = 5


def test_fov_confusion_ignores_pixels_outside_the_fov():
    assert fov_confusion(PROB, LABEL, FOV) == (4, 2, 1, 5)
    # the same image scored everywhere: the corners add tp 2, fp 1, tn 1
    assert fov_confusion(PROB, LABEL, np.ones_like(FOV)) == (6, 3, 1, 6)


def test_threshold_is_inclusive():
    # (1,0) and (2,2) sit exactly on 0.5: positive at 0.5, missed just above it -> tp 4 - 2 = 2, fn 1 + 2 = 3
    assert fov_confusion(PROB, LABEL, FOV, threshold=0.5) == (4, 2, 1, 5)
    assert fov_confusion(PROB, LABEL, FOV, threshold=0.5000001) == (2, 2, 3, 5)
    # at 0.7 only .8 (tp) and .7 (fp) stay positive: tp 1, fp 1, fn 5 - 1 = 4, tn 7 - 1 = 6
    assert fov_confusion(PROB, LABEL, FOV, threshold=0.7) == (1, 1, 4, 6)


def test_confusion_figures_by_hand():
    figures = confusion_figures(4, 2, 1, 5)
    assert figures["dice"] == pytest.approx(8 / 11)  # 2*4 / (2*4 + 2 + 1)
    assert figures["accuracy"] == pytest.approx(0.75)  # (4 + 5) / 12
    assert figures["sensitivity"] == pytest.approx(0.8)  # 4 / (4 + 1)
    assert figures["specificity"] == pytest.approx(5 / 7)  # 5 / (5 + 2)
    assert all(isinstance(v, float) for v in figures.values())


def test_confusion_figures_empty_denominators():
    # no positives in prediction nor label: dice 1.0, sensitivity undefined
    figures = confusion_figures(0, 0, 0, 9)
    assert figures["dice"] == 1.0 and figures["accuracy"] == 1.0 and figures["specificity"] == 1.0
    assert math.isnan(figures["sensitivity"])
    # only positive labels: specificity undefined
    figures = confusion_figures(3, 0, 1, 0)
    assert figures["sensitivity"] == 0.75 and math.isnan(figures["specificity"])
    # no pixels at all
    figures = confusion_figures(0, 0, 0, 0)
    assert figures["dice"] == 1.0 and math.isnan(figures["accuracy"])
    # predicted positives without positive labels: dice 0 (2*0 / (0 + 2 + 0))
    assert confusion_figures(0, 2, 0, 5)["dice"] == 0.0
    with pytest.raises(ValueError, match="non-negative"):
        confusion_figures(1, -1, 0, 0)


def test_torch_and_numpy_inputs_agree():
    tensors = [torch.from_numpy(a) for a in (PROB, LABEL, FOV)]
    assert fov_confusion(*tensors) == fov_confusion(PROB, LABEL, FOV) == (4, 2, 1, 5)
    assert fov_confusion(tensors[0], LABEL, tensors[2].bool()) == (4, 2, 1, 5)
    scores_t, labels_t = fov_pixels(*tensors)
    scores_n, labels_n = fov_pixels(PROB, LABEL, FOV)
    np.testing.assert_array_equal(scores_t, scores_n)
    np.testing.assert_array_equal(labels_t, labels_n)
    assert roc_auc(torch.from_numpy(scores_n), torch.from_numpy(labels_n)) == roc_auc(scores_n, labels_n)


def test_fov_pixels():
    scores, labels = fov_pixels(PROB.astype(np.float64), LABEL, FOV)
    assert scores.dtype == np.float32 and labels.dtype == bool
    assert scores.shape == labels.shape == (12,)  # 16 pixels less 4 corners
    # row-major order of the FOV pixels
    np.testing.assert_allclose(scores, [0.6, 0.2, 0.5, 0.4, 0.7, 0.0, 0.3, 0.8, 0.5, 0.2, 0.05, 0.6], rtol=1e-6)
    np.testing.assert_array_equal(labels, [1, 0, 1, 0, 0, 0, 0, 1, 1, 0, 1, 0])
    # FOV positives: .6 .5 .8 .5 .05; negatives: .2 .4 .7 .0 .3 .2 .6. Negatives below each positive (ties half):
    # .6 -> 5 + 0.5 (the tied .6), .5 -> 5, .8 -> 7, .5 -> 5, .05 -> 1: 23.5 of 5 * 7 = 35 pairs
    assert roc_auc(scores, labels) == pytest.approx(23.5 / 35)


def test_shape_mismatch_is_named():
    with pytest.raises(ValueError, match=r"\(1, 4, 4\), \(4, 4\) and \(1, 4, 4\)"):
        fov_confusion(PROB, LABEL[0], FOV)
    with pytest.raises(ValueError, match="same shape"):
        fov_pixels(PROB, LABEL, FOV[..., :3])
    with pytest.raises(ValueError, match="same size, got 3 and 2"):
        roc_auc([0.1, 0.2, 0.3], [0, 1])


def test_roc_auc_by_hand():
    # positives .35 (beats .1, loses to .4) and .8 (beats both): 1 + 2 = 3 of 2 * 2 = 4 pairs
    assert roc_auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == 0.75
    # ties across classes: positive .5 beats .2 and ties .5 (1 + 0.5), positive .9 beats both (2): 3.5 / 4
    assert roc_auc(np.array([0.2, 0.5, 0.5, 0.9]), np.array([0, 1, 0, 1])) == 0.875
    # every score tied: each of the 2 * 2 pairs counts half
    assert roc_auc([0.5] * 4, [True, False, True, False]) == 0.5
    # 3 positives at .7, 2 negatives at .7 and 1 at .1: 3 * 1 wins + 3 * 2 ties / 2 = 6 of 3 * 3 = 9 pairs
    assert roc_auc([0.7, 0.7, 0.7, 0.7, 0.7, 0.1], [1, 1, 1, 0, 0, 0]) == pytest.approx(6 / 9)


def test_roc_auc_extremes():
    assert roc_auc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]) == 1.0
    assert roc_auc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1]) == 0.0
    assert math.isnan(roc_auc([0.1, 0.5, 0.9], [1, 1, 1]))
    assert math.isnan(roc_auc([0.1, 0.5, 0.9], [0, 0, 0]))
    assert math.isnan(roc_auc([], []))
    with pytest.raises(ValueError, match="NaN"):
        roc_auc([0.1, float("nan")], [0, 1])


def test_roc_auc_is_the_share_of_won_pairs_with_ties_as_half():
    """The Mann-Whitney definition, counted pair by pair, on scores with many ties (float64 and float32)."""
    rng = np.random.default_rng(0)
    labels = rng.random(2_000) < 0.15
    scores = np.round(np.clip(rng.normal(0.4 + 0.2 * labels, 0.2), 0, 1), 2)  # about 100 distinct values
    pos, neg = scores[labels][:, None], scores[~labels][None, :]
    pairs = ((pos > neg) + 0.5 * (pos == neg)).mean()
    assert roc_auc(scores, labels) == pytest.approx(pairs, abs=1e-12)
    assert roc_auc(scores.astype(np.float32), labels) == pytest.approx(pairs, abs=1e-12)


def test_roc_auc_on_a_split_sized_pool():
    """Five million pooled pixels (a DRIVE split's FOV): uninformative scores give 0.5."""
    rng = np.random.default_rng(1)
    labels = rng.random(5_000_000) < 0.12
    scores = rng.random(5_000_000).astype(np.float32)
    assert roc_auc(scores, labels) == pytest.approx(0.5, abs=0.01)
