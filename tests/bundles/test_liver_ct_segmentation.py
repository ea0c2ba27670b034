"""The two liver bundles and the coarse -> fine cascade end to end through ``python -m monai.bundle``, on tiny
synthetic volumes in the Task03_Liver layout."""

import json
import shutil
from functools import partial

import nibabel as nib
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
    shared_dataset,
    tracking_options,
)

COARSE = REPO_ROOT / "bundles" / "liver_ct_coarse_segmentation"
FINE = REPO_ROOT / "bundles" / "liver_ct_fine_segmentation"
coarse_run = partial(run_workflow, COARSE)
fine_run = partial(run_workflow, FINE)
N_CASES = 4
SMALL = {"roi_size": [32, 32, 32], "sw_batch_size": 2}  # windows for tiny volumes
SMALL_CASCADE = {**SMALL, "coarse#config#roi_size": [32, 32, 32]}  # inference.yaml: the coarse bundle's config read
SMALL_CASCADE_EVALUATE = {**SMALL, "cascade#coarse#config#roi_size": [32, 32, 32]}  # evaluate.yaml reads inference.yaml
TINY_TRAINING = {"val_interval": 1, "num_workers": 0, "progress_bar": False, **SMALL}  # both stages, and experiments
TINY_FINE_TRAINING = {**TINY_TRAINING, "patch_size": [32, 32, 32]}


@pytest.fixture(scope="module")
def synthetic_liver(tmp_path_factory):
    """4 CTs of 64 x 64 x 40 voxels at 1.5 x 1.5 x 4 mm, LPS-oriented, with liver and (mostly) tumours."""
    from bundle_tools.data.synthetic_liver import write_synthetic_liver

    folder = tmp_path_factory.mktemp("synthetic_liver") / "Task03_Liver"
    cases = write_synthetic_liver(folder, n_cases=N_CASES, seed=0)
    return folder, cases


@pytest.fixture(scope="module")
def coarse_trained(synthetic_liver, tmp_path_factory):
    work = tmp_path_factory.mktemp("coarse_train")
    result = coarse_run(
        "train",
        dataset_dir=synthetic_liver[0],
        epochs=2,
        ckpt_dir=work / "ckpt",
        output_dir=work / "logs",
        **tracking_options(work),
        **TINY_TRAINING,
    )
    return work / "ckpt" / "model.pt", result


@pytest.fixture(scope="module")
def fine_trained(synthetic_liver, tmp_path_factory):
    work = tmp_path_factory.mktemp("fine_train")
    result = fine_run(
        "train",
        dataset_dir=synthetic_liver[0],
        epochs=2,
        ckpt_dir=work / "ckpt",
        output_dir=work / "logs",
        **tracking_options(work),
        **TINY_FINE_TRAINING,
    )
    return work / "ckpt" / "model.pt", result


def test_both_stages_train_and_keep_their_best_checkpoint(coarse_trained, fine_trained):
    for (ckpt, result), metric in ((coarse_trained, "val_liver_dice"), (fine_trained, "val_mean_dice")):
        assert sorted(p.name for p in ckpt.parent.iterdir()) == ["model.pt"]
        assert f"Epoch[2] Metrics -- {metric}" in result.stdout + result.stderr


def test_coarse_evaluate_scores_in_the_original_space(coarse_trained, synthetic_liver, tmp_path):
    folder, cases = synthetic_liver
    coarse_run(
        "evaluate", dataset_dir=folder, output_dir=tmp_path, eval_split="all", ckpt_path=coarse_trained[0], **SMALL
    )
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert {k for k in metrics if "_ci95_" not in k} == {"liver_dice", "n_cases"} and metrics["n_cases"] == N_CASES
    rows = read_csv_rows(tmp_path / "per_case.csv")
    assert [r["case"] for r in rows] == cases
    assert metrics["liver_dice"] == pytest.approx(np.mean([float(r["liver_dice"]) for r in rows]))
    for row, case in zip(rows, cases):  # label voxels counted on the original label, not a resampled one
        label = np.asanyarray(nib.load(folder / "labelsTr" / f"{case}.nii.gz").dataobj)
        assert int(row["liver_label_voxels"]) == int(np.count_nonzero(label))


def _assert_same_grid(written, source):
    out, ref = nib.load(written), nib.load(source)
    assert out.shape == ref.shape
    np.testing.assert_allclose(out.affine, ref.affine, atol=1e-4)
    assert out.get_data_dtype() == np.uint8
    return np.asanyarray(out.dataobj)


def test_coarse_inference_writes_masks_in_the_input_grid(coarse_trained, synthetic_liver, tmp_path):
    folder, cases = synthetic_liver
    coarse_run("inference", input_dir=folder, output_dir=tmp_path, ckpt_path=coarse_trained[0], **SMALL)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"{c}_liver.nii.gz" for c in cases] + [f"{c}_views.png" for c in cases]
    )
    mask = _assert_same_grid(tmp_path / f"{cases[0]}_liver.nii.gz", folder / "imagesTr" / f"{cases[0]}.nii.gz")
    assert set(np.unique(mask)) <= {0, 1}
    assert Image.open(tmp_path / f"{cases[0]}_views.png").mode == "RGB"


def test_cascade_evaluate_scores_liver_and_tumour(coarse_trained, fine_trained, synthetic_liver, tmp_path):
    folder, cases = synthetic_liver
    fine_run(
        "evaluate",
        dataset_dir=folder,
        output_dir=tmp_path,
        eval_split="all",
        ckpt_path=fine_trained[0],
        coarse_ckpt_path=coarse_trained[0],
        **SMALL_CASCADE_EVALUATE,
    )
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert {k for k in metrics if "_ci95_" not in k} == {"liver_dice", "tumor_dice", "tumor_dice_global", "n_cases"}
    assert metrics["n_cases"] == N_CASES
    rows = read_csv_rows(tmp_path / "per_case.csv")
    assert [r["case"] for r in rows] == cases
    assert metrics["tumor_dice"] == pytest.approx(np.mean([float(r["tumor_dice"]) for r in rows]))
    for row, case in zip(rows, cases):
        label = np.asanyarray(nib.load(folder / "labelsTr" / f"{case}.nii.gz").dataobj)
        assert int(row["tumor_label_voxels"]) == int(np.count_nonzero(label == 2))


def test_cascade_evaluate_default_split_and_bad_label(coarse_trained, fine_trained, synthetic_liver, tmp_path):
    folder, cases = synthetic_liver
    options = {"ckpt_path": fine_trained[0], "coarse_ckpt_path": coarse_trained[0], **SMALL_CASCADE_EVALUATE}
    fine_run("evaluate", dataset_dir=folder, output_dir=tmp_path / "val", **options)
    assert json.loads((tmp_path / "val" / "metrics.json").read_text())["n_cases"] == 1  # 20 % of 4 volumes
    broken = tmp_path / "broken"
    shutil.copytree(folder, broken)
    label_file = broken / "labelsTr" / f"{cases[1]}.nii.gz"
    label = nib.load(label_file)
    data = np.asanyarray(label.dataobj).copy()
    data[0, 0, 0] = 3
    nib.save(nib.Nifti1Image(data, label.affine, label.header), label_file)
    result = fine_run(
        "evaluate", dataset_dir=broken, output_dir=tmp_path / "out", eval_split="all", check=False, **options
    )
    assert result.returncode != 0
    assert f"{cases[1]}.nii.gz" in result.stderr and "3" in result.stderr
    assert not (tmp_path / "out").exists()


def test_cascade_inference_pastes_labels_into_the_input_grid(coarse_trained, fine_trained, synthetic_liver, tmp_path):
    folder, cases = synthetic_liver
    plain = tmp_path / "in"
    plain.mkdir()
    for case in cases[:2]:  # a plain folder of CTs, no labels
        shutil.copy(folder / "imagesTr" / f"{case}.nii.gz", plain / f"{case}.nii.gz")
    fine_run(
        "inference",
        input_dir=plain,
        output_dir=tmp_path / "out",
        ckpt_path=fine_trained[0],
        coarse_ckpt_path=coarse_trained[0],
        **SMALL_CASCADE,
    )
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        [f"{c}_seg.nii.gz" for c in cases[:2]] + [f"{c}_views.png" for c in cases[:2]]
    )
    seg = _assert_same_grid(tmp_path / "out" / f"{cases[0]}_seg.nii.gz", plain / f"{cases[0]}.nii.gz")
    assert set(np.unique(seg)) <= {0, 1, 2}


def test_coarse_mask_channel_experiment_still_trains_and_scores_the_cascade(coarse_trained, synthetic_liver, tmp_path):
    """The tried-and-not-kept experiment of docs/README.md (docs/experiments/): composed over the bundle's own train
    and evaluate files it trains a two-channel fine model and scores the cascade, so its figures stay reproducible."""
    experiments = FINE / "docs" / "experiments"
    train_files = [str(FINE / "configs" / "train.yaml"), str(experiments / "coarse_mask_channel_train.yaml")]
    run_bundle(
        "run",
        config_file=train_files,
        bundle_root=FINE,
        dataset_dir=synthetic_liver[0],
        epochs=1,
        ckpt_dir=tmp_path / "ckpt",
        output_dir=tmp_path / "logs",
        **TINY_FINE_TRAINING,
    )
    weights = torch.load(tmp_path / "ckpt" / "model.pt", weights_only=True)
    first_conv = next(v for k, v in weights.items() if k.endswith("conv.weight") and v.ndim == 5)
    assert first_conv.shape[1] == 2  # CT and coarse mask
    evaluate_files = [str(FINE / "configs" / "evaluate.yaml"), str(experiments / "coarse_mask_channel_evaluate.yaml")]
    run_bundle(
        "run",
        config_file=evaluate_files,
        bundle_root=FINE,
        dataset_dir=synthetic_liver[0],
        output_dir=tmp_path / "eval",
        eval_split="all",
        ckpt_path=tmp_path / "ckpt" / "model.pt",
        coarse_ckpt_path=coarse_trained[0],
        **SMALL_CASCADE_EVALUATE,
    )
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert metrics["n_cases"] == N_CASES and 0 <= metrics["liver_dice"] <= 1


@pytest.mark.parametrize("bundle", [COARSE, FINE], ids=["coarse", "fine"])
def test_torchscript_export_round_trips(bundle, tmp_path):
    inputs = torch.rand(1, 1, 96, 96, 96, generator=torch.Generator().manual_seed(0))  # a real sliding window
    assert export_round_trip_diff(bundle, tmp_path / "model.ts", inputs) <= 1e-4


def _configs(bundle):
    return {
        n: yaml.safe_load((bundle / "configs" / f"{n}.yaml").read_text()) for n in ("train", "evaluate", "inference")
    }


def _after_loading(config):
    """The preprocessing transforms of a config after reading the file and putting its channel first."""
    loading = ("LoadImaged", "EnsureChannelFirstd")
    return [t for t in config["preprocessing"]["transforms"] if t["_target_"] not in loading]


def test_each_bundle_keeps_one_view_of_a_ct():
    coarse, fine = _configs(COARSE), _configs(FINE)
    for key in ("network_def", "pixdim", "hu_window", "roi_size", "sw_batch_size", "device", "amp"):
        assert coarse["train"][key] == coarse["evaluate"][key] == coarse["inference"][key], key
        assert fine["train"][key] == fine["inference"][key], key
    assert _after_loading(coarse["evaluate"]) == coarse["inference"]["view_transforms"]
    assert coarse["train"]["validate"]["inferer"] == coarse["evaluate"]["inferer"] == coarse["inference"]["inferer"]
    assert fine["train"]["validate"]["inferer"] == fine["inference"]["inferer"]
    assert fine["train"]["roi_margin_mm"] == fine["inference"]["roi_margin_mm"]
    # the fine evaluate.yaml defines no cascade of its own: it reads inference.yaml, passing on its settings
    cascade = fine["evaluate"]["cascade"]
    assert cascade["config_file"] == "$@bundle_root + '/configs/inference.yaml'"
    for key in ("roi_size", "sw_batch_size", "largest_component", "num_folds", "coarse_ckpt_path", "ckpt_path"):
        assert fine["evaluate"][key] == fine["inference"][key] and cascade[key] == f"@{key}", key
    assert not {"network_def", "pixdim", "hu_window", "coarse"} & set(fine["evaluate"])


def _fine_training_dataset(dataset_dir, **settings):
    from monai.bundle import ConfigParser

    parser = ConfigParser()
    parser.read_config(FINE / "configs" / "train.yaml")
    parser.update({"bundle_root": str(FINE), "dataset_dir": str(dataset_dir), "num_workers": 0, "val_fraction": 0.0})
    parser.update({"patch_size": [32, 32, 32], **settings})
    parser.get_parsed_content("initialize")
    return parser.get_parsed_content("train#dataset")


@pytest.mark.parametrize("data", ["synthetic", "shared"])
def test_fine_training_caches_the_liver_box_and_draws_the_same_patches(data, synthetic_liver):
    """The fine stage's training cache holds the labelled liver's box grown by the widest random margin, its label in
    bytes, not the resampled volume; the random patches cut from it are those cut from the volume, bit for bit."""
    from monai.data import get_track_meta, set_track_meta

    folder = synthetic_liver[0] if data == "synthetic" else shared_dataset("liver/Task03_Liver")
    whole_volume = "$@base_transforms + @train#random_transforms + @intensity_transforms + @train#plain_tensors"
    boxed = _fine_training_dataset(folder)
    whole = _fine_training_dataset(folder, **{"train#dataset#transform#transforms": whole_volume})
    assert len(boxed) == len(whole) >= 2
    for cached, volume in zip(boxed._cache, whole._cache):
        assert cached["label"].dtype == torch.uint8
        assert cached["image"].numel() < volume["image"].numel()
        assert cached["label"].sum() == volume["label"].sum()  # the whole liver is inside
    track_meta = get_track_meta()
    set_track_meta(False)  # as train.yaml's run does once the caches are filled
    try:
        for _ in range(5):
            for i in range(len(boxed)):
                for got, expected in zip(boxed[i], whole[i]):
                    for key in ("image", "label"):
                        assert torch.equal(got[key], expected[key]), (i, key)
    finally:
        set_track_meta(track_meta)


def test_the_cascade_runs_the_coarse_bundle_as_it_is():
    """The fine bundle's first stage is built from the coarse bundle's own inference.yaml, read where it lies: its
    network with its shipped weights, its view of a CT and its inferer; nothing of it is copied into the fine files."""
    from monai.bundle import ConfigParser

    fine_files = (FINE / "configs" / f"{n}.yaml" for n in ("evaluate", "inference"))
    assert all("UNet" not in yaml.safe_dump(yaml.safe_load(f.read_text()).get("coarse", {})) for f in fine_files)
    parser = ConfigParser()
    parser.read_config(FINE / "configs" / "inference.yaml")
    parser["bundle_root"] = str(FINE)
    mask = parser.get_parsed_content("coarse#mask")
    coarse = ConfigParser()
    coarse.read_config(COARSE / "configs" / "inference.yaml")
    coarse["bundle_root"] = str(COARSE)
    shipped = coarse.get_parsed_content("model")  # the coarse bundle's own choice: its folds' ensemble, or model.pt
    assert type(mask.network) is type(shipped)
    expected = shipped.state_dict()
    assert all(torch.equal(v.cpu(), expected[k]) for k, v in mask.network.state_dict().items())
    view = [type(t).__name__ for t in coarse.get_parsed_content("preprocessing").transforms[2:]]
    assert [type(t).__name__ for t in mask.preprocessing.transforms] == view
    assert mask.preprocessing.transforms[1].spacing_transform.pixdim.tolist() == coarse["pixdim"]
    assert mask.inferer.roi_size == coarse.get_parsed_content("inferer").roi_size


@pytest.mark.parametrize("bundle,channels", [(COARSE, 2), (FINE, 3)], ids=["coarse", "fine"])
def test_shipped_weights_size_and_shape(bundle, channels):
    """models/model.pt and the two folds of the shipped ensemble, each under 25 MB, as metadata.json lists them."""
    meta = json.loads((bundle / "configs" / "metadata.json").read_text())
    folds = [f"models/fold{k}/model.pt" for k in range(2)]
    assert meta["ensemble"]["checkpoints"] == folds
    for weights in [bundle / "models" / "model.pt", *(bundle / c for c in folds)]:
        assert weights.stat().st_size < 25 * 2**20
        network = load_network(bundle / "configs" / "inference.yaml", weights)
        with torch.no_grad():
            assert network(torch.zeros(1, 1, 64, 64, 64)).shape == (1, channels, 64, 64, 64)


@pytest.mark.parametrize("bundle", [COARSE, FINE], ids=["coarse", "fine-cascade"])
def test_shipped_figures_reproduce_on_the_shared_volumes(bundle, tmp_path):
    """metadata.json's eval_metrics, and the same figures in docs/README.md, are what the out-of-fold evaluate command
    shown there prints for the shipped folds: each shared volume scored by the fold models (of both stages, for the
    cascade) that trained on the other."""
    assert_shipped_figures_reproduce(bundle.name, "liver/Task03_Liver", tmp_path, eval_split="oof")


def test_cascade_out_of_fold_routes_each_volume_to_its_fold(coarse_trained, fine_trained, synthetic_liver, tmp_path):
    """Two fine folds that are the same model: out of fold, each volume gets its fold number and the figures of
    that model on every volume; and the ensemble of the two (evaluate's default with both folds) scores the same."""
    from bundle_common.data.splits import fold_of_groups

    folder, cases = synthetic_liver
    bundle = tmp_path / FINE.name  # the two bundles side by side, the fine one with two fold models
    shutil.copytree(FINE / "configs", bundle / "configs")
    shutil.copytree(COARSE / "configs", tmp_path / COARSE.name / "configs")
    for k in (0, 1):
        (bundle / "models" / f"fold{k}").mkdir(parents=True)
        shutil.copy(fine_trained[0], bundle / "models" / f"fold{k}" / "model.pt")
    options = {"dataset_dir": folder, "coarse_ckpt_path": coarse_trained[0], "num_folds": 2, **SMALL_CASCADE_EVALUATE}
    config = bundle / "configs" / "evaluate.yaml"
    run_bundle("run", config_file=config, bundle_root=bundle, output_dir=tmp_path / "oof", eval_split="oof", **options)
    fine_run("evaluate", output_dir=tmp_path / "one", eval_split="all", ckpt_path=fine_trained[0], **options)
    run_bundle("run", config_file=config, bundle_root=bundle, output_dir=tmp_path / "ens", eval_split="all", **options)
    oof, one, ensemble = (read_csv_rows(tmp_path / name / "per_case.csv") for name in ("oof", "one", "ens"))
    assert {r["case"]: int(r["fold"]) for r in oof} == fold_of_groups(cases, 2)
    for a, b, c in zip(oof, one, ensemble):
        assert a["case"] == b["case"] == c["case"]
        for name in ("liver_dice", "tumor_dice"):
            assert float(a[name]) == pytest.approx(float(b[name])) and float(c[name]) == pytest.approx(float(b[name]))


@pytest.mark.parametrize("finetune", [True, False], ids=["finetuned", "from_random"])
def test_fine_tuning_starts_from_the_shipped_weights(finetune, synthetic_liver, tmp_path):
    """``train.yaml --finetune True`` (on synthetic CTs): the network the trainer steps with holds the shipped weights,
    so its first step's loss is the shipped model's loss on that batch; without it, a random network's."""
    from ignite.engine import Events
    from monai.bundle import ConfigParser

    parser = ConfigParser()
    parser.read_config(COARSE / "configs" / "train.yaml")
    parser.update({"bundle_root": str(COARSE), "dataset_dir": str(synthetic_liver[0]), "epochs": 1})
    parser.update({"finetune": finetune, "ckpt_dir": str(tmp_path / "ckpt"), "output_dir": str(tmp_path / "logs")})
    parser.update({**TINY_TRAINING, "val_interval": 5})
    parser.get_parsed_content("initialize")
    trainer = parser.get_parsed_content("train#trainer")
    shipped = load_network(COARSE / "configs" / "train.yaml", COARSE / "models" / "model.pt", COARSE).train()
    loss_function = parser.get_parsed_content("loss")
    first = {}

    @trainer.on(Events.ITERATION_COMPLETED(once=1))
    def keep_the_first_step(engine):
        items = engine.state.output  # decollated: one dict a patch, each with the step's loss
        image, label = (torch.stack([item[key] for item in items]) for key in ("image", "label"))
        with torch.no_grad():
            first["shipped"] = float(loss_function(shipped(image), label))
        first["trainer"] = float(items[0]["loss"])

    trainer.run()
    if finetune:
        assert first["trainer"] == pytest.approx(first["shipped"], rel=1e-4)
    else:
        assert abs(first["trainer"] - first["shipped"]) > 1e-3


@pytest.mark.parametrize("stage", ["coarse", "fine"])
def test_train_and_evaluate_are_tracked_with_mlflow(stage, coarse_trained, fine_trained, synthetic_liver, tmp_path):
    """``--tracking mlflow`` (MONAI's switch; the ``tracking`` extra) for both stages: the training run with its loss
    per step, its validation figure per epoch and its executed config; the evaluate run with metrics.json's figures."""
    pytest.importorskip("mlflow")
    trained = coarse_trained if stage == "coarse" else fine_trained
    work = trained[0].parent.parent
    options = {k: v for k, v in tracking_options(work).items() if k != "save_execute_config"}
    evaluate = {"dataset_dir": synthetic_liver[0], "eval_split": "all", "ckpt_path": trained[0], "output_dir": tmp_path}
    if stage == "coarse":
        coarse_run("evaluate", **evaluate, **SMALL, **options)
    else:
        fine_run("evaluate", **evaluate, coarse_ckpt_path=coarse_trained[0], **SMALL_CASCADE_EVALUATE, **options)
    assert_tracked(work, tmp_path, "val_liver_dice" if stage == "coarse" else "val_mean_dice", epochs=2)


@pytest.mark.parametrize("bundle,workflow", [(COARSE, "inference"), (COARSE, "evaluate"), (FINE, "train")])
def test_orientation_is_said_explicitly_so_monai_does_not_warn(bundle, workflow):
    """The configs name Orientationd's labels: MONAI's future default (the MetaTensor's space) warns on every run
    where they are left out."""
    import warnings

    from monai.bundle import ConfigParser

    parser = ConfigParser()
    parser.read_config(bundle / "configs" / f"{workflow}.yaml")
    parser["bundle_root"] = str(bundle)
    key = {"inference": "view_transforms", "evaluate": "preprocessing", "train": "base_transforms"}[workflow]
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        parser.get_parsed_content(key)
