import csv
import json
import math

import numpy as np
import pytest
import torch

from bundle_common.handlers import FOVVesselReport
from tests.conftest import decollating_engine

KEYS = ["dice", "auc", "accuracy", "sensitivity", "specificity", "dice_per_image_mean", "n_cases"]


def _image_a():
    """FOV: the inner 4x4 (16 pixels). Vessel: column 2 (4 pixels), predicted with columns 3 of rows 1-2.

    Inside the FOV: tp 4, fp 2 (column 3, rows 1-2), fn 0, tn 16 - 6 = 10. The border (outside the FOV) is
    predicted vessel without being labelled, which would add 20 fp if it were scored.
    """
    fov = torch.zeros(1, 6, 6)
    fov[:, 1:5, 1:5] = 1
    label = torch.zeros(1, 6, 6)
    label[:, 1:5, 2] = 1
    pred = torch.full((1, 6, 6), 0.9)
    pred[:, 1:5, 1:5] = 0.1
    pred[:, 1:5, 2] = 0.9
    pred[:, 1:3, 3] = 0.9
    return pred, label, fov


def _image_b():
    """FOV: all but row 0 (30 pixels). Vessel: row 3 (6 pixels), of which columns 0-1 are predicted.

    Inside the FOV: tp 2, fp 0, fn 4, tn 30 - 6 = 24. Row 0 (outside) is labelled vessel and missed: 6 more fn.
    """
    fov = torch.ones(1, 6, 6)
    fov[:, 0] = 0
    label = torch.zeros(1, 6, 6)
    label[:, 3] = 1
    label[:, 0] = 1
    pred = torch.full((1, 6, 6), 0.1)
    pred[:, 3, :2] = 0.9
    return pred, label, fov


def _batches():
    pred_a, label_a, fov_a = _image_a()
    pred_b, label_b, fov_b = _image_b()
    return [
        {
            # image a: the FOV in the output wins over a wrong one in the batch; image b: the FOV only in the batch
            "items": [{"case": "21_training", "mask": torch.ones(1, 6, 6)}, {"case": "22_training", "mask": fov_b}],
            "outputs": [{"pred": pred_a, "label": label_a, "mask": fov_a}, {"pred": pred_b, "label": label_b}],
        }
    ]


def _rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_pooled_and_per_image_figures(tmp_path):
    engine = decollating_engine()
    FOVVesselReport(tmp_path).attach(engine)
    engine.run(_batches())

    written = json.loads((tmp_path / "metrics.json").read_text())
    metrics = {k: v for k, v in written.items() if "_ci95_" not in k}
    assert list(metrics) == KEYS
    for name in KEYS[:-1]:  # every figure has its bootstrap interval over the two images, around the figure
        assert written[f"{name}_ci95_low"] <= metrics[name] + 1e-3 <= written[f"{name}_ci95_high"] + 2e-3
    # pooled: tp 4 + 2 = 6, fp 2 + 0 = 2, fn 0 + 4 = 4, tn 10 + 24 = 34, 46 FOV pixels
    assert metrics["dice"] == pytest.approx(2 / 3)  # 2*6 / (2*6 + 2 + 4) = 12 / 18
    assert metrics["accuracy"] == pytest.approx(40 / 46)  # (6 + 34) / 46
    assert metrics["sensitivity"] == pytest.approx(0.6)  # 6 / (6 + 4)
    assert metrics["specificity"] == pytest.approx(34 / 36)  # 34 / (34 + 2)
    # pooled AUC: positives 6 at .9 and 4 at .1, negatives 2 at .9 and 34 at .1;
    # 6*34 wins + (6*2 + 4*34) ties / 2 = 204 + 74 = 278 of 10 * 36 = 360 pairs
    assert metrics["auc"] == pytest.approx(278 / 360)
    # per image dice 0.8 (a) and 0.5 (b): their mean 0.65 is not the pooled 2/3
    assert metrics["dice_per_image_mean"] == pytest.approx(0.65)
    assert metrics["n_cases"] == 2

    rows = _rows(tmp_path / "per_case.csv")
    assert list(rows[0]) == [
        "case",
        "dice",
        "auc",
        "accuracy",
        "sensitivity",
        "specificity",
        "fov_pixels",
        "vessel_fraction",
        "tp",
        "fp",
        "fn",
        "tn",
    ]
    a, b = ({k: v if k == "case" else float(v) for k, v in row.items()} for row in rows)
    assert a["case"] == "21_training" and b["case"] == "22_training"
    # a: tp 4, fp 2, fn 0, tn 10; AUC: 4 positives at .9 beat 10 negatives at .1 and tie 2 at .9: (40 + 4) / 48
    assert a == pytest.approx(
        {
            "case": "21_training",
            "dice": 0.8,  # 8 / (8 + 2 + 0)
            "auc": 44 / 48,
            "accuracy": 14 / 16,
            "sensitivity": 1.0,
            "specificity": 10 / 12,
            "fov_pixels": 16,
            "vessel_fraction": 0.25,  # 4 / 16
            **{"tp": 4, "fp": 2, "fn": 0, "tn": 10},
        }
    )
    # b: tp 2, fp 0, fn 4, tn 24; AUC: 2 positives at .9 beat all 24 negatives, 4 at .1 tie them: (48 + 48) / 144
    assert b == pytest.approx(
        {
            "case": "22_training",
            "dice": 0.5,  # 4 / (4 + 0 + 4)
            "auc": 96 / 144,
            "accuracy": 26 / 30,
            "sensitivity": 2 / 6,
            "specificity": 1.0,
            "fov_pixels": 30,
            "vessel_fraction": 0.2,  # 6 / 30
            **{"tp": 2, "fp": 0, "fn": 4, "tn": 24},
        }
    )

    for name in KEYS[:-1]:
        assert engine.state.metrics[name] == pytest.approx(metrics[name])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json", "per_case.csv"]  # no temporary files left


def test_second_run_starts_fresh_and_names_are_configurable(tmp_path):
    pred_b, label_b, fov_b = _image_b()
    batch = {
        "items": [{"name": "22_training", "fov": fov_b}],
        "outputs": [{"prob": pred_b, "seg": label_b}],
    }
    engine = decollating_engine()
    report = FOVVesselReport(
        tmp_path / "out",
        threshold=0.95,  # nothing reaches it: tp 0, fp 0, fn 6, tn 24
        pred_key="prob",
        label_key="seg",
        fov_key="fov",
        case_key="name",
        metrics_file="vessels.json",
        cases_file="cases.csv",
    )
    report.attach(engine)
    engine.run([batch, batch])
    assert json.loads((tmp_path / "out" / "vessels.json").read_text())["n_cases"] == 2
    engine.run([batch])
    metrics = json.loads((tmp_path / "out" / "vessels.json").read_text())
    assert metrics["n_cases"] == 1 and metrics["dice"] == 0.0 and metrics["sensitivity"] == 0.0
    assert metrics["auc"] == pytest.approx(96 / 144)  # the AUC does not depend on the threshold
    assert [r["case"] for r in _rows(tmp_path / "out" / "cases.csv")] == ["22_training"]


def test_undefined_figures_are_null_in_json(tmp_path):
    # no vessel labelled or predicted in the FOV: dice 1.0, sensitivity and AUC undefined
    fov = torch.ones(1, 6, 6)
    batch = {
        "items": [{"case": "empty", "mask": fov}],
        "outputs": [{"pred": torch.zeros(1, 6, 6), "label": torch.zeros(1, 6, 6)}],
    }
    engine = decollating_engine()
    FOVVesselReport(tmp_path).attach(engine)
    engine.run([batch])
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["dice"] == 1.0 and metrics["specificity"] == 1.0
    assert metrics["auc"] is None and metrics["sensitivity"] is None
    assert math.isnan(engine.state.metrics["auc"])
    assert _rows(tmp_path / "per_case.csv")[0]["auc"] == "nan"


def test_missing_fov_and_collated_outputs_are_named(tmp_path):
    pred, label, _ = _image_a()
    engine = decollating_engine()
    FOVVesselReport(tmp_path).attach(engine)
    batch = {"items": [{"case": "21_training"}], "outputs": [{"pred": pred, "label": label}]}
    with pytest.raises(KeyError, match="no FOV mask 'mask' found"):
        engine.run([batch])
    engine = decollating_engine()
    FOVVesselReport(tmp_path).attach(engine)
    with pytest.raises(TypeError, match="decollate=True"):
        engine.run([{"items": {"case": ["x"]}, "outputs": {"pred": pred[None], "label": label[None]}}])
    assert list(tmp_path.iterdir()) == []


def test_weights_count_images_as_if_repeated(tmp_path):
    """summarise(weights) is what the bootstrap resamples: image b twice and image a not at all equals a report
    that saw image b twice (its AUC from the histograms, that of the scores rounded down to 1/1000)."""
    pred_a, label_a, fov_a = _image_a()
    pred_b, label_b, fov_b = _image_b()
    weighted, repeated = FOVVesselReport(tmp_path / "w"), FOVVesselReport(tmp_path / "r")
    weighted.add("a", pred_a, label_a, fov_a)
    weighted.add("b", pred_b, label_b, fov_b)
    repeated.add("b", pred_b, label_b, fov_b)
    repeated.add("b again", pred_b, label_b, fov_b)
    figures, expected = weighted.summarise(np.array([0.0, 2.0])), repeated.summary()
    for name in ("dice", "auc", "accuracy", "sensitivity", "specificity", "dice_per_image_mean"):
        assert figures[name] == pytest.approx(expected[name], abs=1e-3), name


def test_the_reported_auc_is_exact_and_every_resample_uses_the_histograms(tmp_path):
    """Two pixels in one histogram bin (0.1001, a background pixel, below 0.1009, a vessel pixel): the exact AUC ranks
    them, the binned one counts them as a tie. The written figure is exact; a resample, even one that draws every
    image once, is binned (an all-ones draw used to be scored exactly, pixel by pixel: half the draws of a 2-picture
    split, which made its evaluation take 95 s instead of 9 s, on another scale than the other draws)."""
    pred = torch.tensor([[[0.1001, 0.1009], [0.05, 0.9]]])
    label = torch.tensor([[[0.0, 1.0], [0.0, 1.0]]])
    report = FOVVesselReport(tmp_path)
    report.add("a", pred, label, torch.ones(1, 2, 2))
    assert report.summary()["auc"] == pytest.approx(1.0)
    assert report.summarise(np.ones(1))["auc"] == pytest.approx(0.875)  # one tied pair of four counts half
    engine = decollating_engine()
    FOVVesselReport(tmp_path / "run").attach(engine)
    engine.run([{"items": [{"case": "a", "mask": torch.ones(1, 2, 2)}], "outputs": [{"pred": pred, "label": label}]}])
    written = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert written["auc"] == pytest.approx(1.0)
    assert written["auc_ci95_low"] == written["auc_ci95_high"] == pytest.approx(0.875)  # one image: every draw is it
