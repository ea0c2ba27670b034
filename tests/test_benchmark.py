"""Smoke test of tools/benchmark.py: it runs on tiny data and writes its two files. Speed itself is never asserted."""

import json
import subprocess
import sys

from bundle_common.benchmark import FIELDS
from bundle_common.bundle_cli import REPO_ROOT


def test_quick_benchmark_of_one_bundle_writes_json_and_markdown(tmp_path):
    command = [sys.executable, str(REPO_ROOT / "tools" / "benchmark.py"), "--quick", "--out", str(tmp_path)]
    result = subprocess.run([*command, "--bundles", "['mnist_classification']"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((tmp_path / "benchmark.json").read_text())
    assert report["quick"] is True and report["device"].startswith(("cpu: ", "cuda: "))
    figures = report["bundles"]["mnist_classification"]
    assert report["torch_compile"] is False and figures["torch_compile"] is False  # eager unless --compile
    required = ("train_samples_per_s", "reference_samples_per_s", "train_ratio", "data_wait_fraction")
    required += ("infer_ms_eager", "infer_ms_torchscript", "peak_rss_mb")
    assert all(figures[k] > 0 for k in required), figures
    assert figures["train_ratio"] == round(figures["train_samples_per_s"] / figures["reference_samples_per_s"], 3)
    assert 0 < figures["data_wait_fraction"] < 1
    table = (tmp_path / "benchmark.md").read_text().splitlines()
    assert table[0].startswith(f"Device: {report['device']}. Command: `python tools/benchmark.py --quick --out")
    assert table[2] == "| bundle | " + " | ".join(FIELDS) + " |"
    assert table[4].startswith("| mnist_classification | ") and table[4].count("|") == len(FIELDS) + 2
