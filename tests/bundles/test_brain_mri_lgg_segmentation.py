"""The LGG bundle end to end through ``python -m monai.bundle``, on a tiny synthetic kaggle_3m-layout set."""

import json
import shutil
from functools import partial

import numpy as np
import pytest
import torch
import yaml
from monai.bundle import ConfigParser
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

BUNDLE = REPO_ROOT / "bundles" / "brain_mri_lgg_segmentation"
CONFIGS = BUNDLE / "configs"
EXPERIMENTS = BUNDLE / "docs" / "experiments"
bundle_run = partial(run_workflow, BUNDLE)  # bundle_run("evaluate", dataset_dir=..., ...)
N_PATIENTS, N_SLICES = 5, 6
TINY_TRAINING = {"slices_per_patient": 2, "val_interval": 1, "batch_size": 4, "progress_bar": False}


@pytest.fixture(scope="module")
def synthetic_lgg(tmp_path_factory):
    """5 patients of 6 slices (256 x 256) in the kaggle_3m layout, one of them without tumour."""
    from bundle_tools.data.synthetic_lgg import write_synthetic_lgg

    folder = tmp_path_factory.mktemp("synthetic_lgg") / "kaggle_3m"
    patients = write_synthetic_lgg(folder, n_patients=N_PATIENTS, n_slices=N_SLICES, seed=0, n_without_tumour=1)
    return folder, patients


@pytest.fixture(scope="module")
def trained(synthetic_lgg, tmp_path_factory):
    work = tmp_path_factory.mktemp("lgg_train")
    result = bundle_run(
        "train",
        dataset_dir=synthetic_lgg[0],
        epochs=2,
        ckpt_dir=work / "ckpt",
        output_dir=work / "logs",
        **tracking_options(work),
        **TINY_TRAINING,
    )
    return work, result


def test_train_keeps_best_checkpoint(trained):
    work, result = trained
    assert sorted(p.name for p in (work / "ckpt").iterdir()) == ["model.pt"]
    assert any(p.name.startswith("events.out.tfevents") for p in (work / "logs").iterdir())
    assert "Epoch[2] Metrics -- val_dsc_per_volume_mean" in result.stdout + result.stderr


@pytest.mark.parametrize("tta", [False, True])
def test_evaluate_writes_per_patient_figures(trained, synthetic_lgg, tmp_path, tta):
    work, _ = trained
    folder, patients = synthetic_lgg
    bundle_run(
        "evaluate",
        dataset_dir=folder,
        output_dir=tmp_path,
        eval_split="all",
        ckpt_path=work / "ckpt" / "model.pt",
        tta=tta,
    )
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert {k for k in metrics if "_ci95_" not in k} == {"dsc_per_volume_mean", "dsc_per_volume_median", "n_cases"}
    rows = read_csv_rows(tmp_path / "per_case.csv")
    assert [r["case"] for r in rows] == sorted(patients) and metrics["n_cases"] == N_PATIENTS
    assert all(int(r["slices"]) == N_SLICES for r in rows)
    assert metrics["dsc_per_volume_mean"] == pytest.approx(np.mean([float(r["dsc"]) for r in rows]))
    assert metrics["dsc_per_volume_median"] == pytest.approx(np.median([float(r["dsc"]) for r in rows]))
    assert Image.open(tmp_path / "dsc_per_case.png").format == "PNG"


def test_slice_context_trains_a_2_5d_network_that_evaluate_and_inference_run(synthetic_lgg, tmp_path):
    """--slice_context 1 (tried, not shipped; docs/README.md): 9 input channels in all three workflows."""
    folder, patients = synthetic_lgg
    common = {"slice_context": 1, "ckpt_path": tmp_path / "ckpt" / "model.pt"}
    bundle_run(
        "train",
        dataset_dir=folder,
        epochs=1,
        slice_context=1,
        ckpt_dir=tmp_path / "ckpt",
        output_dir=tmp_path / "logs",
        **TINY_TRAINING,
    )
    weights = torch.load(common["ckpt_path"], weights_only=True)
    assert next(v for k, v in weights.items() if k.endswith("conv.weight")).shape[1] == 9
    bundle_run("evaluate", dataset_dir=folder, output_dir=tmp_path / "eval", eval_split="all", **common)
    assert json.loads((tmp_path / "eval" / "metrics.json").read_text())["n_cases"] == N_PATIENTS
    bundle_run("inference", input_dir=folder / patients[0], output_dir=tmp_path / "pred", **common)
    assert len(list((tmp_path / "pred" / patients[0]).glob("*_mask.png"))) == N_SLICES


def test_evaluate_default_split_and_bad_folder(trained, synthetic_lgg, tmp_path):
    work, _ = trained
    folder, patients = synthetic_lgg
    bundle_run("evaluate", dataset_dir=folder, output_dir=tmp_path / "val", ckpt_path=work / "ckpt" / "model.pt")
    assert json.loads((tmp_path / "val" / "metrics.json").read_text())["n_cases"] == 1  # 20 % of 5 patients
    broken = tmp_path / "broken"
    shutil.copytree(folder, broken)
    (broken / patients[2] / f"{patients[2]}_3_mask.tif").unlink()
    result = bundle_run("evaluate", dataset_dir=broken, output_dir=tmp_path / "out", eval_split="all", check=False)
    assert result.returncode != 0
    assert f"{patients[2]}_3.tif: slice without its mask ({patients[2]}_3_mask.tif)" in result.stderr
    assert not (tmp_path / "out").exists()


def test_inference_writes_slices_overlays_and_gifs(trained, synthetic_lgg, tmp_path):
    work, _ = trained
    folder, patients = synthetic_lgg
    bundle_run("inference", input_dir=folder, output_dir=tmp_path, ckpt_path=work / "ckpt" / "model.pt")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(patients)
    patient = patients[0]
    names = sorted(p.name for p in (tmp_path / patient).iterdir())
    assert names == sorted(
        [f"{patient}.gif"] + [f"{patient}_{k}_{w}.png" for k in range(1, 7) for w in ("mask", "overlay")]
    )
    mask = np.array(Image.open(tmp_path / patient / f"{patient}_3_mask.png"))
    assert mask.shape == (256, 256) and set(np.unique(mask)) <= {0, 255}
    assert np.array(Image.open(tmp_path / patient / f"{patient}_3_overlay.png")).shape == (256, 256, 3)
    assert Image.open(tmp_path / patient / f"{patient}.gif").n_frames == N_SLICES


def test_inference_on_one_patient_folder_without_masks(trained, synthetic_lgg, tmp_path):
    work, _ = trained
    folder, patients = synthetic_lgg
    source = tmp_path / "in" / "someone"
    source.mkdir(parents=True)
    for k in (1, 2, 10):  # slice numbers with a gap and two digits: order by number
        Image.open(folder / patients[0] / f"{patients[0]}_{k if k < 10 else 3}.tif").resize((200, 180)).save(
            source / f"someone_{k}.tif"
        )
    bundle_run("inference", input_dir=source, output_dir=tmp_path / "out", ckpt_path=work / "ckpt" / "model.pt")
    out = tmp_path / "out" / "someone"
    assert np.array(Image.open(out / "someone_10_mask.png")).shape == (180, 200)
    assert Image.open(out / "someone.gif").n_frames == 3


@pytest.mark.parametrize("largest_component", [False, True])
def test_postprocessing_keeps_the_largest_component_only_when_asked(largest_component):
    parser = ConfigParser()
    parser.read_config(CONFIGS / "inference.yaml")
    parser["largest_component"] = largest_component
    logits = torch.full((1, 16, 16, 4), -5.0)
    logits[0, 2:8, 2:8, 0:2] = 5.0  # 72 voxels over two slices
    logits[0, 12:14, 12:14, 3] = 5.0  # 4 voxels on another slice
    pred = parser.get_parsed_content("postprocessing")({"pred": logits})["pred"]
    assert int(pred.sum()) == (72 if largest_component else 76)


def test_torchscript_export_round_trips(tmp_path):
    inputs = torch.randn(1, 3, 256, 256, generator=torch.Generator().manual_seed(0))
    assert export_round_trip_diff(BUNDLE, tmp_path / "model.ts", inputs) <= 1e-4


def test_workflows_share_network_and_pre_and_postprocessing():
    configs = {n: yaml.safe_load((CONFIGS / f"{n}.yaml").read_text()) for n in ("train", "evaluate", "inference")}
    keys = ("network_def", "intensity_transforms", "postprocessing", "roi_size", "sw_batch_size", "threshold")
    for key in (*keys, "largest_component", "device", "amp"):
        assert configs["train"][key] == configs["evaluate"][key] == configs["inference"][key], key
    assert configs["train"]["validate"]["inferer"] == configs["evaluate"]["slice_inferer"]
    for key in ("slice_inferer", "flip_tta", "inferer", "tta"):
        assert configs["evaluate"][key] == configs["inference"][key], key


def test_shipped_weights_size_and_shape():
    """models/model.pt and the five folds of the shipped ensemble, each under 25 MB, as metadata.json lists them."""
    meta = json.loads((CONFIGS / "metadata.json").read_text())
    assert meta["ensemble"]["checkpoints"] == [f"models/fold{k}/model.pt" for k in range(5)]
    for weights in [BUNDLE / "models" / "model.pt", *(BUNDLE / c for c in meta["ensemble"]["checkpoints"])]:
        assert weights.stat().st_size < 25 * 2**20
        network = load_network(CONFIGS / "inference.yaml", weights)
        assert network(torch.zeros(1, 3, 256, 256)).shape == (1, 1, 256, 256)


def test_shipped_figures_reproduce_on_the_shared_data(tmp_path):
    """metadata.json's eval_metrics, and the same figures in docs/README.md, are what the out-of-fold evaluate
    command shown there prints for the shipped folds: each of the 31 shared patients scored by the fold model that
    did not train on it, with the defaults (flip averaging and the largest component on)."""
    assert_shipped_figures_reproduce("brain_mri_lgg_segmentation", "lgg/kaggle_3m", tmp_path, eval_split="oof")


def test_out_of_fold_evaluation_scores_each_patient_with_its_own_fold(synthetic_lgg, tmp_path):
    """Two folds of the 5 synthetic patients, one epoch each; out of fold, every patient is scored by the model
    that did not train on it, with the figures that model gives on its own validation patients."""
    from bundle_common.data.splits import fold_of_groups

    folder, patients = synthetic_lgg
    for k in (0, 1):
        bundle_run(
            "train",
            dataset_dir=folder,
            fold=k,
            num_folds=2,
            epochs=1,
            ckpt_dir=tmp_path / "models" / f"fold{k}",
            output_dir=tmp_path / f"logs{k}",
            **TINY_TRAINING,
        )
    options = {"dataset_dir": folder, "num_folds": 2, "tta": False}
    run_bundle(
        "run",
        config_file=CONFIGS / "evaluate.yaml",
        bundle_root=tmp_path,
        output_dir=tmp_path / "oof",
        eval_split="oof",
        **options,
    )
    rows = {r["case"]: r for r in read_csv_rows(tmp_path / "oof" / "per_case.csv")}
    assert {case: int(r["fold"]) for case, r in rows.items()} == fold_of_groups(sorted(rows), 2)
    assert len(rows) == N_PATIENTS
    for k in (0, 1):
        ckpt = tmp_path / "models" / f"fold{k}" / "model.pt"
        bundle_run(
            "evaluate", output_dir=tmp_path / f"f{k}", eval_split="validation", fold=k, ckpt_path=ckpt, **options
        )
        for r in read_csv_rows(tmp_path / f"f{k}" / "per_case.csv"):
            assert int(rows[r["case"]]["fold"]) == k and float(rows[r["case"]]["dsc"]) == pytest.approx(float(r["dsc"]))
    metrics = json.loads((tmp_path / "oof" / "metrics.json").read_text())
    assert metrics["dsc_per_volume_mean"] == pytest.approx(sum(float(r["dsc"]) for r in rows.values()) / N_PATIENTS)
    # docs/experiments/two_recipes_evaluate.yaml with the same folds as both recipes: each patient's pair is its own
    # fold's model twice, so the figures are the plain ones (a pair of different folds would change them)
    run_bundle(
        "run",
        config_file=[str(CONFIGS / "evaluate.yaml"), str(EXPERIMENTS / "two_recipes_evaluate.yaml")],
        bundle_root=tmp_path,
        output_dir=tmp_path / "pairs",
        eval_split="oof",
        second_models_dir=tmp_path / "models",
        **options,
    )
    pairs = {r["case"]: r for r in read_csv_rows(tmp_path / "pairs" / "per_case.csv")}
    assert pairs.keys() == rows.keys()
    for case, r in rows.items():
        assert pairs[case]["fold"] == r["fold"]
        assert float(pairs[case]["dsc"]) == pytest.approx(float(r["dsc"]), abs=1e-4)


def test_train_and_evaluate_are_tracked_with_mlflow(trained, synthetic_lgg, tmp_path):
    """``--tracking mlflow`` (MONAI's switch; the ``tracking`` extra): the training run with its loss per step, its
    validation figure per epoch and its executed config, and the evaluate run with the figures of metrics.json."""
    pytest.importorskip("mlflow")
    work = trained[0]
    options = {k: v for k, v in tracking_options(work).items() if k != "save_execute_config"}
    bundle_run(
        "evaluate", dataset_dir=synthetic_lgg[0], ckpt_path=work / "ckpt" / "model.pt", output_dir=tmp_path, **options
    )
    assert_tracked(work, tmp_path, "val_dsc_per_volume_mean", epochs=2)
