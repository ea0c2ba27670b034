"""The DRIVE bundle end to end through ``python -m monai.bundle``, on a tiny synthetic DRIVE-layout set."""

import json
from functools import partial

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from bundle_tools.bundle_cli import REPO_ROOT, run_bundle, run_workflow
from bundle_tools.export import load_network
from tests.conftest import (
    assert_shipped_figures_reproduce,
    assert_tracked,
    export_round_trip_diff,
    read_csv_rows,
    tracking_options,
)

BUNDLE = REPO_ROOT / "bundles" / "drive_vessel_segmentation"
CONFIGS = BUNDLE / "configs"
bundle_run = partial(run_workflow, BUNDLE)  # bundle_run("evaluate", dataset_dir=..., ...)
SUMMARY = {"dice", "auc", "accuracy", "sensitivity", "specificity", "dice_per_image_mean", "n_cases"}
# one epoch of one of two folds, a few patches: the fold trainings of the tests below
TINY_FOLD = {
    "num_folds": 2,
    "epochs": 1,
    "val_interval": 1,
    "patches_per_image": 4,
    "batch_size": 4,
    "progress_bar": False,
}


@pytest.fixture(scope="module")
def synthetic_drive(tmp_path_factory):
    """5 training and 2 test pictures of 120 x 128 pixels in the DRIVE layout."""
    from bundle_tools.data.synthetic_drive import write_synthetic_drive

    folder = tmp_path_factory.mktemp("synthetic_drive")
    write_synthetic_drive(folder, n_training=5, n_test=2, seed=0, height=128, width=120)
    return folder


@pytest.fixture(scope="module")
def trained(synthetic_drive, tmp_path_factory):
    work = tmp_path_factory.mktemp("drive_train")
    result = bundle_run(
        "train",
        dataset_dir=synthetic_drive,
        epochs=2,
        val_interval=1,
        patches_per_image=4,
        batch_size=4,
        ckpt_dir=work / "ckpt",
        output_dir=work / "logs",
        **tracking_options(work),
        progress_bar=False,
    )
    return work, result


def test_train_keeps_best_checkpoint(trained):
    work, result = trained
    assert sorted(p.name for p in (work / "ckpt").iterdir()) == ["model.pt"]
    assert any(p.name.startswith("events.out.tfevents") for p in (work / "logs").iterdir())
    assert "Epoch[2] Metrics -- val_dice" in result.stdout + result.stderr


@pytest.mark.parametrize("tta", [False, True])
def test_evaluate_writes_fov_figures(trained, synthetic_drive, tmp_path, tta):
    work, _ = trained
    bundle_run(
        "evaluate",
        dataset_dir=synthetic_drive,
        output_dir=tmp_path,
        ckpt_path=work / "ckpt" / "model.pt",
        tta=tta,
    )
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert {k for k in metrics if "_ci95_" not in k} == SUMMARY and metrics["n_cases"] == 2
    assert {k for k in metrics if "_ci95_" in k} == {
        f"{n}_ci95_{e}" for n in SUMMARY - {"n_cases"} for e in ("low", "high")
    }
    rows = read_csv_rows(tmp_path / "per_case.csv")
    assert [r["case"] for r in rows] == ["01_test", "02_test"]
    assert metrics["dice_per_image_mean"] == pytest.approx(np.mean([float(r["dice"]) for r in rows]))
    assert 0.0 <= metrics["auc"] <= 1.0 and 0.0 <= metrics["accuracy"] <= 1.0


def test_evaluate_validation_split_and_bad_folder(trained, synthetic_drive, tmp_path):
    work, _ = trained
    bundle_run(
        "evaluate",
        dataset_dir=synthetic_drive,
        output_dir=tmp_path / "val",
        eval_split="validation",
        ckpt_path=work / "ckpt" / "model.pt",
    )
    assert json.loads((tmp_path / "val" / "metrics.json").read_text())["n_cases"] == 1
    (synthetic_drive / "test" / "mask" / "02_test_mask.gif").rename(tmp_path / "moved.gif")
    try:
        result = bundle_run(
            "evaluate",
            dataset_dir=synthetic_drive,
            output_dir=tmp_path / "out",
            check=False,
        )
    finally:
        (tmp_path / "moved.gif").rename(synthetic_drive / "test" / "mask" / "02_test_mask.gif")
    assert result.returncode != 0
    assert "02_test_mask.gif: missing field-of-view mask" in result.stderr
    assert not (tmp_path / "out").exists()


def test_inference_writes_full_size_pngs(trained, synthetic_drive, tmp_path):
    work, _ = trained
    inputs = synthetic_drive / "test" / "images"
    bundle_run(
        "inference",
        input_dir=inputs,
        output_dir=tmp_path,
        ckpt_path=work / "ckpt" / "model.pt",
    )
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [f"0{i}_test_{kind}.png" for i in (1, 2) for kind in ("mask", "overlay", "prob")]
    mask = np.array(Image.open(tmp_path / "01_test_mask.png"))
    fov = np.array(Image.open(synthetic_drive / "test" / "mask" / "01_test_mask.gif")) > 0
    assert mask.shape == (128, 120) and set(np.unique(mask)) <= {0, 255}
    assert not mask[~fov].any()  # nothing outside the field of view
    assert np.array(Image.open(tmp_path / "01_test_overlay.png")).shape == (128, 120, 3)


def test_torchscript_export_round_trips(tmp_path):
    inputs = torch.randn(1, 3, 192, 192, generator=torch.Generator().manual_seed(0))
    assert export_round_trip_diff(BUNDLE, tmp_path / "model.ts", inputs) <= 1e-4


def test_workflows_share_network_and_intensity_definitions():
    configs = {n: yaml.safe_load((CONFIGS / f"{n}.yaml").read_text()) for n in ("train", "evaluate", "inference")}
    for key in ("network_def", "intensity_transforms", "roi_size", "sw_batch_size", "threshold", "device", "amp"):
        assert configs["train"][key] == configs["evaluate"][key] == configs["inference"][key], key
    assert configs["train"]["validate"]["inferer"] == configs["evaluate"]["sliding_window"]


def test_shipped_weights_size_and_shape():
    """models/model.pt and the five folds of the shipped ensemble, each under 25 MB, as metadata.json lists them."""
    meta = json.loads((CONFIGS / "metadata.json").read_text())
    assert meta["ensemble"]["checkpoints"] == [f"models/fold{k}/model.pt" for k in range(5)]
    for weights in [BUNDLE / "models" / "model.pt", *(BUNDLE / c for c in meta["ensemble"]["checkpoints"])]:
        assert weights.stat().st_size < 25 * 2**20
        network = load_network(CONFIGS / "inference.yaml", weights)
        assert network(torch.zeros(1, 3, 96, 96)).shape == (1, 1, 96, 96)


def test_inference_on_a_loose_picture_estimates_the_fov(trained, synthetic_drive, tmp_path):
    work, _ = trained
    inputs = tmp_path / "in"
    inputs.mkdir()
    Image.open(synthetic_drive / "test" / "images" / "01_test.tif").resize((100, 110)).save(inputs / "photo.jpg")
    bundle_run(
        "inference",
        input_dir=inputs,
        output_dir=tmp_path / "out",
        ckpt_path=work / "ckpt" / "model.pt",
        tta=False,
    )
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "photo_mask.png",
        "photo_overlay.png",
        "photo_prob.png",
    ]
    prob = np.array(Image.open(tmp_path / "out" / "photo_prob.png"))
    assert prob.shape == (110, 100)
    assert prob[0, 0] == 0 and prob[-1, -1] == 0  # the black corners fall outside the estimated FOV


def test_shipped_figures_reproduce_on_the_shared_data(tmp_path):
    """metadata.json's eval_metrics, and the same figures in docs/README.md, are what the out-of-fold evaluate
    command shown there prints for the shipped folds: each of the 20 shared training pictures scored by the fold
    model that did not train on it, flip averaging on (the default); the shared folder has no test/, so
    ``--eval_split test`` (the default) cannot run on it."""
    assert_shipped_figures_reproduce("drive_vessel_segmentation", "drive", tmp_path, eval_split="oof")


@pytest.fixture(scope="module")
def folds(synthetic_drive, tmp_path_factory):
    """Two cross-validation folds of the 5 synthetic training pictures, one epoch each, in ``work/models/fold<k>``
    as a bundle that ships folds keeps them."""
    work = tmp_path_factory.mktemp("drive_folds")
    for k in (0, 1):
        bundle_run(
            "train",
            dataset_dir=synthetic_drive,
            fold=k,
            ckpt_dir=work / "models" / f"fold{k}",
            output_dir=work / f"logs{k}",
            **TINY_FOLD,
        )
    return work


def _pooled_dice(rows) -> float:
    """The F1 of all FOV pixels of ``rows`` together, from each row's confusion counts."""
    tp, fp, fn = (sum(int(r[k]) for r in rows) for k in ("tp", "fp", "fn"))
    return 2 * tp / (2 * tp + fp + fn)


def test_out_of_fold_evaluation_scores_each_picture_with_its_own_fold(folds, synthetic_drive, tmp_path):
    from bundle_common.data.splits import fold_of_groups

    options = {"dataset_dir": synthetic_drive, "num_folds": 2, "tta": False}
    oof = tmp_path / "oof"
    run_bundle(
        "run", config_file=CONFIGS / "evaluate.yaml", bundle_root=folds, output_dir=oof, eval_split="oof", **options
    )
    rows = {r["case"]: r for r in read_csv_rows(oof / "per_case.csv")}
    expected_folds = fold_of_groups([f"{i:02d}_training" for i in range(21, 26)], 2)
    assert {case: int(r["fold"]) for case, r in rows.items()} == expected_folds
    for k in (0, 1):  # the same figures as that fold's model on its own validation pictures
        bundle_run(
            "evaluate",
            output_dir=tmp_path / f"fold{k}",
            eval_split="validation",
            fold=k,
            ckpt_path=folds / "models" / f"fold{k}" / "model.pt",
            **options,
        )
        for r in read_csv_rows(tmp_path / f"fold{k}" / "per_case.csv"):
            assert int(rows[r["case"]]["fold"]) == k
            for name in ("dice", "auc", "sensitivity"):
                assert float(rows[r["case"]][name]) == pytest.approx(float(r[name]), abs=1e-6), (r["case"], name)
    metrics = json.loads((oof / "metrics.json").read_text())
    assert metrics["n_cases"] == 5
    assert metrics["dice"] == pytest.approx(_pooled_dice(rows.values()), abs=1e-4)
    assert metrics["dice_ci95_low"] <= metrics["dice"] <= metrics["dice_ci95_high"]


def test_the_two_recipes_experiment_pairs_each_fold_with_its_own_fold(folds, synthetic_drive, tmp_path):
    """docs/experiments/two_recipes_evaluate.yaml, with the same folds as both recipes: each picture's pair is its own
    fold's model twice, so the out-of-fold figures are the plain ones; a pair of different folds would change them."""
    options = {"dataset_dir": synthetic_drive, "bundle_root": folds, "num_folds": 2, "tta": False, "eval_split": "oof"}
    run_bundle("run", config_file=CONFIGS / "evaluate.yaml", output_dir=tmp_path / "plain", **options)
    experiment = BUNDLE / "docs" / "experiments" / "two_recipes_evaluate.yaml"
    run_bundle(
        "run",
        config_file=[str(CONFIGS / "evaluate.yaml"), str(experiment)],
        output_dir=tmp_path / "pairs",
        second_models_dir=folds / "models",
        second_network_def="@network_def",
        **options,
    )
    plain = {r["case"]: r for r in read_csv_rows(tmp_path / "plain" / "per_case.csv")}
    pairs = {r["case"]: r for r in read_csv_rows(tmp_path / "pairs" / "per_case.csv")}
    assert pairs.keys() == plain.keys() and len(plain) == 5
    for case, row in plain.items():
        assert pairs[case]["fold"] == row["fold"]
        for name in ("dice", "auc"):
            assert float(pairs[case][name]) == pytest.approx(float(row[name]), abs=1e-5), (case, name)


def test_the_clahe_experiment_trains_green_channel_folds_and_scores_their_mean_with_the_rgb_folds(
    folds, synthetic_drive, tmp_path
):
    """docs/experiments/clahe_green.yaml over train.yaml and evaluate.yaml (fold models reading one channel), and
    rgb_and_clahe_evaluate.yaml: each picture scored out of fold by its fold's RGB and CLAHE models together (and
    three_recipes_evaluate.yaml, with the RGB folds standing in for the full-resolution ones)."""
    experiments = BUNDLE / "docs" / "experiments"
    clahe_train = [str(CONFIGS / "train.yaml"), str(experiments / "clahe_green.yaml")]
    for k in (0, 1):
        run_bundle(
            "run",
            config_file=clahe_train,
            bundle_root=BUNDLE,
            dataset_dir=synthetic_drive,
            fold=k,
            ckpt_dir=tmp_path / "clahe" / f"fold{k}",
            output_dir=tmp_path / f"logs{k}",
            **TINY_FOLD,
        )
        weights = torch.load(tmp_path / "clahe" / f"fold{k}" / "model.pt", map_location="cpu", weights_only=True)
        assert next(iter(weights.values())).shape[1] == 1  # the first convolution reads one channel
    options = {"dataset_dir": synthetic_drive, "bundle_root": BUNDLE, "num_folds": 2, "tta": False, "eval_split": "oof"}
    runs = {  # the configs, and where each run's fold models are
        "rgb": ([CONFIGS / "evaluate.yaml"], {"checkpoints#models_dir": folds / "models"}),
        "clahe": (
            [CONFIGS / "evaluate.yaml", experiments / "clahe_green.yaml"],
            {"checkpoints#models_dir": tmp_path / "clahe"},
        ),
        "both": (
            [CONFIGS / "evaluate.yaml", experiments / "rgb_and_clahe_evaluate.yaml"],
            {"checkpoints#models_dir": folds / "models", "clahe_models_dir": tmp_path / "clahe"},
        ),
        "three": (  # the RGB folds as the second recipe too: a third of the weight on CLAHE instead of half
            [CONFIGS / "evaluate.yaml"]
            + [experiments / f for f in ("rgb_and_clahe_evaluate.yaml", "two_recipes_evaluate.yaml")]
            + [experiments / "three_recipes_evaluate.yaml"],
            {
                "checkpoints#models_dir": folds / "models",
                "clahe_models_dir": tmp_path / "clahe",
                "second_models_dir": folds / "models",
                "second_network_def": "@network_def",
            },
        ),
    }
    rows = {}
    for name, (files, models) in runs.items():
        run_bundle("run", config_file=[str(f) for f in files], output_dir=tmp_path / name, **options, **models)
        rows[name] = {r["case"]: r for r in read_csv_rows(tmp_path / name / "per_case.csv")}
    assert rows["both"].keys() == rows["rgb"].keys() and len(rows["both"]) == 5
    for case, row in rows["both"].items():
        assert row["fold"] == rows["rgb"][case]["fold"] == rows["clahe"][case]["fold"]
    aucs = {name: [float(r["auc"]) for _, r in sorted(rows[name].items())] for name in runs}
    assert aucs["both"] != aucs["rgb"] and aucs["both"] != aucs["clahe"]  # both members count
    assert aucs["three"] not in (aucs["rgb"], aucs["clahe"], aucs["both"])  # three members, a third each


def test_a_bundle_with_all_its_folds_evaluates_and_infers_with_their_ensemble(folds, synthetic_drive, tmp_path):
    options = {"config_file": CONFIGS / "evaluate.yaml", "bundle_root": folds, "num_folds": 2, "tta": False}
    log = run_bundle("run", dataset_dir=synthetic_drive, output_dir=tmp_path / "ensemble", **options)
    singles = []
    for k in (0, 1):
        ckpt = folds / "models" / f"fold{k}" / "model.pt"
        run_bundle("run", dataset_dir=synthetic_drive, output_dir=tmp_path / f"fold{k}", ckpt_path=ckpt, **options)
        singles.append(json.loads((tmp_path / f"fold{k}" / "metrics.json").read_text())["auc"])
    ensemble = json.loads((tmp_path / "ensemble" / "metrics.json").read_text())
    assert ensemble["n_cases"] == 2 and ensemble["auc"] not in singles  # neither fold alone
    assert "scoring model.pt alone" not in log.stderr
    run_bundle(
        "run",
        config_file=CONFIGS / "inference.yaml",
        bundle_root=folds,
        num_folds=2,
        input_dir=synthetic_drive / "test" / "images",
        output_dir=tmp_path / "pictures",
    )
    assert len(list((tmp_path / "pictures").glob("*_mask.png"))) == 2


def test_a_bad_fold_is_one_clear_error_and_writes_nothing(synthetic_drive, tmp_path):
    for fold, num_folds, message in (
        (5, 5, "--fold: expected an integer from 0 to 4"),
        (0, 6, "more folds than cases"),
    ):
        result = bundle_run(
            "train",
            dataset_dir=synthetic_drive,
            fold=fold,
            num_folds=num_folds,
            ckpt_dir=tmp_path / "models",
            output_dir=tmp_path / "logs",
            check=False,
        )
        assert result.returncode != 0 and message in result.stderr
        assert "Traceback" not in result.stderr
        assert not list(tmp_path.iterdir())


@torch.no_grad()
def test_the_fold_ensemble_exports_as_one_torchscript_module(folds, tmp_path):
    """The README's one-module export: ``model`` of inference.yaml (the ensemble, with the folds' weights) scripted,
    saved, loaded back and compared with the eager ensemble."""
    from monai.bundle import ConfigParser

    from bundle_common.networks import ProbabilityMeanEnsemble

    parser = ConfigParser()
    parser.read_config(str(CONFIGS / "inference.yaml"))
    parser["bundle_root"], parser["num_folds"] = str(folds), 2
    ensemble = parser.get_parsed_content("model").eval()
    assert isinstance(ensemble, ProbabilityMeanEnsemble) and len(ensemble.members) == 2
    torch.jit.save(torch.jit.script(ensemble), tmp_path / "ensemble.ts")
    inputs = torch.randn(1, 3, 96, 96, generator=torch.Generator().manual_seed(0))
    scripted = torch.jit.load(str(tmp_path / "ensemble.ts"), map_location="cpu").eval()
    assert float((scripted(inputs) - ensemble(inputs)).abs().max()) <= 1e-4


def test_train_and_evaluate_are_tracked_with_mlflow(trained, synthetic_drive, tmp_path):
    """``--tracking mlflow`` (MONAI's switch; the ``tracking`` extra): the training run with its loss per step, its
    validation figure per epoch and its executed config, and the evaluate run with the figures of metrics.json."""
    pytest.importorskip("mlflow")
    work = trained[0]
    options = {k: v for k, v in tracking_options(work).items() if k != "save_execute_config"}
    bundle_run(
        "evaluate", dataset_dir=synthetic_drive, ckpt_path=work / "ckpt" / "model.pt", output_dir=tmp_path, **options
    )
    assert_tracked(work, tmp_path, "val_dice", epochs=2)
