import json

import numpy as np
import pytest
import torch
from monai.data import MetaTensor

from bundle_common.handlers import LabelDiceReport
from tests.conftest import decollating_engine, read_csv_rows


def _map(values) -> torch.Tensor:
    """A (1, 10, 1, 1) label map from ten values."""
    return torch.tensor(values, dtype=torch.float32).reshape(1, 10, 1, 1)


def _cases():
    """A: liver L {0..5}, P {0,1,2,4,6}, I 4 -> 8/11; tumour L {4,5}, P {4,6}, I 1 -> 0.5.
    B: perfect, liver 8 voxels, tumour 6 -> 1, 1. C: no tumour labelled or predicted -> tumour 1 (both empty).
    Tumour: mean (0.5 + 1 + 1) / 3 = 5/6, pooled 2 (1 + 6) / (2 + 2 + 6 + 6) = 0.875."""
    return [
        ("A", _map([1, 1, 1, 0, 2, 0, 2, 0, 0, 0]), _map([1, 1, 1, 1, 2, 2, 0, 0, 0, 0])),
        ("B", _map([2, 2, 2, 2, 2, 2, 1, 1, 0, 0]), _map([2, 2, 2, 2, 2, 2, 1, 1, 0, 0])),
        ("C", _map([1, 1, 0, 0, 0, 0, 0, 0, 0, 0]), _map([1, 1, 1, 0, 0, 0, 0, 0, 0, 0])),
    ]


def _run(report, cases):
    engine = decollating_engine()
    report.attach(engine)
    batches = [{"items": [{"case": name}], "outputs": [{"pred": pred, "label": label}]} for name, pred, label in cases]
    engine.run(batches, max_epochs=1)
    return engine


def test_report_by_hand(tmp_path):
    engine = _run(LabelDiceReport(tmp_path), _cases())
    liver = (8 / 11 + 1 + 2 * 2 / 5) / 3
    written = json.loads((tmp_path / "metrics.json").read_text())
    metrics = {k: v for k, v in written.items() if "_ci95_" not in k}
    assert [k for k in written if "_ci95_" in k] == [
        f"{name}_ci95_{end}" for name in ("liver_dice", "tumor_dice", "tumor_dice_global") for end in ("low", "high")
    ]
    assert metrics == {
        "liver_dice": pytest.approx(liver),
        "tumor_dice": pytest.approx(5 / 6),
        "tumor_dice_global": pytest.approx(0.875),
        "n_cases": 3,
    }
    assert list(metrics) == ["liver_dice", "tumor_dice", "tumor_dice_global", "n_cases"]
    rows = read_csv_rows(tmp_path / "per_case.csv")
    assert list(rows[0]) == [
        "case",
        "liver_dice",
        "tumor_dice",
        "liver_label_voxels",
        "liver_predicted_voxels",
        "tumor_label_voxels",
        "tumor_predicted_voxels",
    ]
    assert [(r["case"], float(r["liver_dice"]), float(r["tumor_dice"])) for r in rows] == [
        ("A", pytest.approx(8 / 11), 0.5),
        ("B", 1.0, 1.0),
        ("C", 0.8, 1.0),
    ]
    assert [[int(r[k]) for k in list(r)[3:]] for r in rows] == [[6, 5, 2, 2], [8, 8, 6, 6], [3, 2, 0, 0]]
    assert engine.state.metrics["tumor_dice_global"] == pytest.approx(0.875)
    assert "n_cases" not in engine.state.metrics


def test_pooled_tumour_without_any_tumour_is_one(tmp_path):
    report = LabelDiceReport(tmp_path)
    _run(report, _cases()[2:])
    assert report.summary() == {"liver_dice": 0.8, "tumor_dice": 1.0, "tumor_dice_global": 1.0, "n_cases": 1}


def test_coarse_stage_liver_only(tmp_path):
    """Prediction 0/1 against a 0/1/2 label: the tumour counts as liver. L {0..5}, P {0..4, 8}, I 5 -> 10/12."""
    pred = _map([1, 1, 1, 1, 1, 0, 0, 0, 1, 0])
    label = _map([1, 1, 2, 2, 1, 2, 0, 0, 0, 0])
    _run(LabelDiceReport(tmp_path, classes={"liver": [1, 2]}, pooled=[]), [("liver_0", pred, label)])
    written = json.loads((tmp_path / "metrics.json").read_text())
    # one case: every resample is that case, so the interval is the figure itself
    assert written == {
        "liver_dice": pytest.approx(10 / 12),
        "n_cases": 1,
        "liver_dice_ci95_low": pytest.approx(10 / 12),
        "liver_dice_ci95_high": pytest.approx(10 / 12),
    }
    rows = read_csv_rows(tmp_path / "per_case.csv")
    assert list(rows[0]) == ["case", "liver_dice", "liver_label_voxels", "liver_predicted_voxels"]


def test_case_name_from_the_image_file(tmp_path):
    engine = decollating_engine()
    report = LabelDiceReport(tmp_path)
    report.attach(engine)
    image = MetaTensor(torch.zeros(1, 4, 4, 4), meta={"filename_or_obj": "/data/imagesTr/liver_7.nii.gz"})
    pred = _map([0] * 10)
    engine.run([{"items": [{"image": image}], "outputs": [{"pred": pred, "label": pred}]}], max_epochs=1)
    assert [r["case"] for r in report.rows] == ["liver_7"]
    assert report.rows[0]["liver_dice"] == 1.0 and report.rows[0]["tumor_dice"] == 1.0


def test_shape_mismatch_names_the_case(tmp_path):
    with pytest.raises(ValueError, match="liver_3: prediction .* differ in shape"):
        LabelDiceReport(tmp_path).add("liver_3", np.zeros((1, 4, 4, 4)), np.zeros((1, 4, 4, 5)))


def test_pooled_classes_must_be_classes(tmp_path):
    with pytest.raises(ValueError, match="'vessel'"):
        LabelDiceReport(tmp_path, pooled=["vessel"])


def test_starts_afresh_and_no_case_is_nan(tmp_path):
    report = LabelDiceReport(tmp_path)
    _run(report, _cases()[:1])
    _run(report, _cases()[1:2])
    assert json.loads((tmp_path / "metrics.json").read_text())["n_cases"] == 1
    summary = LabelDiceReport(tmp_path / "empty").summary()
    assert summary["n_cases"] == 0 and all(np.isnan(summary[k]) for k in ("liver_dice", "tumor_dice_global"))
