"""tools/compare_per_case.py: two evaluations of the same cases compared, paired per case."""

import csv
import json
import subprocess
import sys

import pytest

from bundle_tools.bundle_cli import REPO_ROOT


def _write(path, rows):
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def _compare(*args):
    return subprocess.run(
        [sys.executable, str(REPO_ROOT / "tools" / "compare_per_case.py"), *map(str, args)],
        capture_output=True,
        text=True,
    )


def test_pooled_dice_difference_by_hand(tmp_path):
    # A: tp 8 fp 2 fn 2 and tp 1 fp 1 fn 3 -> pooled 18 / 26; B: the second case improved to tp 3 fp 1 fn 1 -> 22 / 28
    a = _write(tmp_path / "a.csv", [{"case": "x", "tp": 8, "fp": 2, "fn": 2}, {"case": "y", "tp": 1, "fp": 1, "fn": 3}])
    b = _write(tmp_path / "b.csv", [{"case": "y", "tp": 3, "fp": 1, "fn": 1}, {"case": "x", "tp": 8, "fp": 2, "fn": 2}])
    result = _compare("--a", a, "--b", b, "--figure", "pooled_dice", "--out", tmp_path / "cmp.json")
    assert result.returncode == 0, result.stderr
    written = json.loads((tmp_path / "cmp.json").read_text())
    assert written["a"] == pytest.approx(18 / 26) and written["b"] == pytest.approx(22 / 28)
    assert written["difference"] == pytest.approx(22 / 28 - 18 / 26)
    assert written["difference_ci95_low"] >= 0.0  # no resample makes B worse: it never loses a case
    assert written["n_cases"] == 2


def test_column_mean_counts_cases_and_different_cases_are_refused(tmp_path):
    a = _write(tmp_path / "a.csv", [{"case": c, "dsc": v} for c, v in zip("pqr", (0.5, 0.7, 0.9))])
    b = _write(tmp_path / "b.csv", [{"case": c, "dsc": v} for c, v in zip("pqr", (0.6, 0.7, 0.8))])
    result = _compare("--a", a, "--b", b, "--figure", "dsc", "--out", tmp_path / "cmp.json")
    written = json.loads((tmp_path / "cmp.json").read_text())
    assert written["difference"] == pytest.approx(0.0, abs=1e-12)
    assert (written["cases_b_higher"], written["cases_b_lower"], written["cases_same"]) == (1, 1, 1)
    other = _write(tmp_path / "c.csv", [{"case": "s", "dsc": 0.1}])
    result = _compare("--a", a, "--b", other, "--figure", "dsc")
    assert result.returncode != 0 and "different cases" in result.stderr
