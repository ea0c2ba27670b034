import json

import numpy as np
import pytest
import torch
from PIL import Image

from bundle_common.handlers import VolumeDiceReport
from tests.conftest import decollating_engine, read_csv_rows


def _patients():
    """A: label 4 voxels, prediction 2 of them + 2 others: DSC 2*2/8 = 0.5. B: perfect, DSC 1. C: no tumour but
    one voxel predicted: DSC 0. Mean 0.5, median 0.5."""
    a_label = torch.zeros(1, 4, 4, 3)
    a_label[0, 0, :2, 0:2] = 1
    a_pred = torch.zeros_like(a_label)
    a_pred[0, 0, 0, 0:2] = 1
    a_pred[0, 3, 3, 1:3] = 1
    b_label = torch.zeros(1, 4, 4, 2)
    b_label[0, 1:3, 1:3, 1] = 1
    c_label = torch.zeros(1, 4, 4, 2)
    c_pred = c_label.clone()
    c_pred[0, 2, 2, 0] = 1
    return [("A", a_pred, a_label), ("B", b_label.clone(), b_label), ("C", c_pred, c_label)]


def test_report_by_hand(tmp_path):
    engine = decollating_engine()
    report = VolumeDiceReport(tmp_path)
    report.attach(engine)
    batches = [
        {"items": [{"patient": name}], "outputs": [{"pred": pred, "label": label}]} for name, pred, label in _patients()
    ]
    engine.run(batches, max_epochs=1)
    written = json.loads((tmp_path / "metrics.json").read_text())
    metrics = {k: v for k, v in written.items() if "_ci95_" not in k}
    assert metrics == {"dsc_per_volume_mean": pytest.approx(0.5), "dsc_per_volume_median": 0.5, "n_cases": 3}
    # the cases' Dice are 0.5, 1.0 and 0.0: every resample's mean and median lie in [0, 1], and the interval is wide
    assert 0.0 <= written["dsc_per_volume_mean_ci95_low"] < 0.5 < written["dsc_per_volume_mean_ci95_high"] <= 1.0
    assert written["dsc_per_volume_median_ci95_low"] == 0.0 and written["dsc_per_volume_median_ci95_high"] == 1.0
    rows = read_csv_rows(tmp_path / "per_case.csv")
    assert [(r["case"], float(r["dsc"]), int(r["slices"])) for r in rows] == [
        ("A", 0.5, 3),
        ("B", 1.0, 2),
        ("C", 0.0, 2),
    ]
    assert [(int(r["label_voxels"]), int(r["predicted_voxels"])) for r in rows] == [(4, 4), (4, 4), (0, 1)]
    assert engine.state.metrics["dsc_per_volume_mean"] == pytest.approx(0.5)
    chart = Image.open(tmp_path / "dsc_per_case.png")
    assert chart.format == "PNG" and chart.size[0] >= 600 and chart.size[1] >= 400


def test_report_starts_afresh_each_run(tmp_path):
    engine = decollating_engine()
    report = VolumeDiceReport(tmp_path, chart_file=None)
    report.attach(engine)
    name, pred, label = _patients()[1]
    engine.run([{"items": [{"patient": name}], "outputs": [{"pred": pred, "label": label}]}], max_epochs=1)
    engine.run([{"items": [{"patient": name}], "outputs": [{"pred": pred, "label": label}]}], max_epochs=1)
    assert json.loads((tmp_path / "metrics.json").read_text())["n_cases"] == 1
    assert not (tmp_path / "dsc_per_case.png").exists()


def test_report_needs_decollated_items(tmp_path):
    engine = decollating_engine()
    VolumeDiceReport(tmp_path).attach(engine)
    with pytest.raises(TypeError, match="decollate=True"):
        engine.run([{"items": {"patient": ["A"]}, "outputs": {"pred": np.zeros(1)}}], max_epochs=1)
