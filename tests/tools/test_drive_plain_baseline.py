"""Smoke test of tools/drive_plain_baseline.py on a tiny synthetic DRIVE set: it trains, scores the validation
pictures inside the FOV and writes its report and weights. What it scores on real data is in the DRIVE docs."""

import json
import subprocess
import sys

from bundle_tools.bundle_cli import REPO_ROOT
from bundle_tools.data.synthetic_drive import write_synthetic_drive


def test_plain_baseline_writes_validation_figures_for_the_bundles_split(tmp_path):
    write_synthetic_drive(tmp_path / "drive", n_training=5, n_test=0, seed=0)
    command = [sys.executable, str(REPO_ROOT / "tools" / "drive_plain_baseline.py"), "--dataset_dir"]
    command += [str(tmp_path / "drive"), "--out", str(tmp_path / "out"), "--steps", "2", "--batch_size", "2"]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((tmp_path / "out" / "baseline.json").read_text())
    assert report["settings"]["steps"] == 2 and report["train_s"] > 0
    assert set(report["validation"]) == {"dice", "auc", "accuracy", "sensitivity", "specificity"}
    assert all(0 <= value <= 1 for value in report["validation"].values()), report["validation"]
    assert len(report["validation_per_image"]) == 1  # 20% of 5 pictures, the bundle's validation split
    assert (tmp_path / "out" / "model.pt").stat().st_size > 0
