import math

import numpy as np
import pytest

from bundle_common.metrics.bootstrap import bootstrap_intervals, paired_difference, weighted_mean, weighted_median
from bundle_common.metrics.vessel import binned_roc_auc, roc_auc


def test_interval_of_a_mean_matches_a_resampling_by_hand():
    values = np.array([0.2, 0.5, 0.9, 0.4, 0.7])
    low, high = bootstrap_intervals(lambda w: {"mean": weighted_mean(values, w)}, 5, resamples=4000, seed=3)["mean"]
    rng = np.random.default_rng(3)  # the same draws, as indices: the means of resampled cases
    draws = rng.multinomial(5, np.full(5, 0.2), size=4000)
    by_hand = np.percentile([np.repeat(values, d).mean() for d in draws], [2.5, 97.5])
    assert (low, high) == pytest.approx(tuple(by_hand))
    assert low < values.mean() < high


def test_equal_cases_give_a_point_and_no_case_gives_nan():
    assert bootstrap_intervals(lambda w: {"m": weighted_mean([0.8] * 4, w)}, 4)["m"] == pytest.approx((0.8, 0.8))
    low, high = bootstrap_intervals(lambda w: {"m": weighted_mean([], w)}, 0)["m"]
    assert math.isnan(low) and math.isnan(high)


def test_resamples_with_a_nan_figure_are_left_out():
    # the figure is NaN whenever case 0 is not drawn; the interval comes from the other resamples only
    intervals = bootstrap_intervals(lambda w: {"m": 1.0 if w[0] > 0 else math.nan}, 3, resamples=200)
    assert intervals["m"] == (1.0, 1.0)


def test_weighted_median_is_the_median_of_the_repeats():
    values, weights = [3.0, 1.0, 2.0, 10.0], [2, 0, 1, 1]
    assert weighted_median(values, weights) == np.median([3.0, 3.0, 2.0, 10.0])
    assert math.isnan(weighted_median(values, [0, 0, 0, 0]))


def test_binned_auc_equals_the_exact_auc_of_binned_scores():
    rng = np.random.default_rng(0)
    labels = rng.random(5000) < 0.3
    scores = np.clip(rng.normal(0.4 + 0.3 * labels, 0.2), 0, 0.999)
    binned = np.floor(scores * 100).astype(int)
    histograms = [np.bincount(binned[labels == v], minlength=100) for v in (True, False)]
    assert binned_roc_auc(*histograms) == pytest.approx(roc_auc(binned, labels))
    assert math.isnan(binned_roc_auc(np.zeros(3), np.ones(3)))


def test_a_paired_difference_cancels_what_the_cases_share():
    """Two runs whose per-case figures differ by a constant 0.01 on cases of very different difficulty: the paired
    interval is that constant, while the unpaired intervals of the two runs overlap widely."""
    a = np.array([0.2, 0.9, 0.5, 0.7, 0.35, 0.8])
    b = a + 0.01
    result = paired_difference(lambda w: weighted_mean(a, w), lambda w: weighted_mean(b, w), len(a))
    assert result["difference"] == pytest.approx(0.01)
    assert (result["difference_ci95_low"], result["difference_ci95_high"]) == pytest.approx((0.01, 0.01))
    unpaired = bootstrap_intervals(lambda w: {"a": weighted_mean(a, w)}, len(a))["a"]
    assert unpaired[1] - unpaired[0] > 0.2
