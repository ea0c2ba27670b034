"""The LGG bundle's own code (scripts/) and its experiment of the dataset authors' choices (docs/experiments/)."""

import sys

import torch
from monai.inferers import SliceInferer

from bundle_tools.bundle_cli import REPO_ROOT, run_bundle
from tests.conftest import load_bundle_script

BUNDLE = REPO_ROOT / "bundles" / "brain_mri_lgg_segmentation"
head_crop = load_bundle_script("brain_mri_lgg_segmentation", "head_crop")


def _stack(shape=(3, 64, 64, 5)):
    """A 'head' (bright) in rows 10..49 and columns 20..39 of a dark picture, slightly different per channel."""
    image = torch.zeros(shape)
    image[:, 10:50, 20:40] = torch.arange(1, shape[0] + 1).reshape(-1, 1, 1, 1).float()
    return image


def test_the_head_box_is_the_square_around_the_bright_part():
    assert head_crop.head_box(_stack()) == (10, 10, 40)  # 40 rows; 20 columns grown by 10 on each side
    assert head_crop.head_box(torch.zeros(3, 16, 12, 2)) == (0, 0, 16)  # nothing bright: the whole picture


def test_cropping_to_the_head_fills_the_square_and_pads_with_the_minimum():
    image, label = _stack(), torch.zeros(1, 64, 64, 5)
    label[0, 20:30, 25:35, 2] = 1
    out = head_crop.HeadCropd(keys=["image", "label"], size=(80, 80))({"image": image, "label": label})
    assert out["image"].shape == (3, 80, 80, 5) and out["label"].shape == (1, 80, 80, 5)
    assert torch.equal(torch.unique(out["label"]), torch.tensor([0.0, 1.0]))  # nearest: still a label
    # the box is rows 10..49, columns 10..49: the label's rows 20..29 land at (20-10)*2 .. (30-10)*2 of 80
    rows = torch.nonzero(out["label"][0, :, :, 2].any(dim=1)).flatten()
    assert rows.min() == 20 and rows.max() == 39


def test_the_inferer_pastes_the_prediction_back_into_the_original_frame():
    """A network that marks the bright part: the pasted prediction marks it in the original frame, background
    elsewhere, whatever size the head is resized to."""

    def network(x):
        return torch.where(x[:, :1] > x[:, :1].mean(), 10.0, -10.0)

    image = _stack((3, 64, 64, 5))
    inferer = head_crop.HeadCropInferer(SliceInferer(spatial_dim=2, roi_size=(96, 96)), size=(96, 96))
    logits = inferer(image[None], network)
    assert logits.shape == (1, 1, 64, 64, 5)
    bright = image[0] > 0
    agree = ((logits[0, 0] > 0) == bright).float().mean()
    assert agree > 0.99  # only resampling at the edge of the head may differ
    assert (logits[0, 0, :, :10] < 0).all() and (logits[0, 0, :, 50:] < 0).all()  # outside the box: background


def test_the_experiment_trains_and_scores_in_the_original_frame(tmp_path):
    from bundle_tools.data.synthetic_lgg import write_synthetic_lgg

    data = tmp_path / "kaggle_3m"
    write_synthetic_lgg(data)
    experiments = BUNDLE / "docs" / "experiments"
    run_bundle(
        "run",
        config_file=[str(BUNDLE / "configs" / "train.yaml"), str(experiments / "authors_choices_train.yaml")],
        bundle_root=BUNDLE,
        dataset_dir=data,
        epochs=1,
        val_interval=1,
        ckpt_dir=tmp_path / "ckpt",
        output_dir=tmp_path / "train",
        progress_bar=False,
    )
    run_bundle(
        "run",
        config_file=[str(BUNDLE / "configs" / "evaluate.yaml"), str(experiments / "authors_choices_evaluate.yaml")],
        bundle_root=BUNDLE,
        dataset_dir=data,
        eval_split="all",
        ckpt_path=tmp_path / "ckpt" / "model.pt",
        output_dir=tmp_path / "eval",
    )
    assert (tmp_path / "eval" / "metrics.json").is_file()


def test_the_experiment_draws_slices_in_proportion_to_tumour_area(monkeypatch):
    """The experiment's sampler, as its config builds it, on one patient: a slice with 3 times the tumour area of
    another is drawn about 3 times as often; a slice without tumour now and then (a tenth of the mean area); the last
    slice too (MONAI's RandWeightedCropd never draws it)."""
    from monai.bundle import ConfigParser

    monkeypatch.syspath_prepend(str(BUNDLE))  # as monai.bundle run does: the bundle's scripts/ package
    for name in [m for m in sys.modules if m == "scripts" or m.startswith("scripts.")]:
        monkeypatch.delitem(sys.modules, name)  # another bundle's scripts/, imported by an earlier test
    parser = ConfigParser()
    experiment = BUNDLE / "docs" / "experiments" / "authors_choices_train.yaml"
    parser.read_config([BUNDLE / "configs" / "train.yaml", experiment])
    sampling = parser.get_parsed_content("tumour_sampling")
    sampling.set_random_state(seed=0)
    label = torch.zeros(1, 8, 8, 3)
    label[0, :2, :3, 0] = 1  # 6 pixels
    label[0, :6, :3, 1] = 1  # 18 pixels; slice 2 has none
    slice_of_area = {6: 0, 18: 1, 0: 2}
    counts = torch.zeros(3)
    for _ in range(1000):
        for sample in sampling({"image": label.clone(), "label": label.clone()}):
            counts[slice_of_area[int(sample["label"].sum())]] += 1
    share = counts / counts.sum()
    # weights: 6 + 0.8, 18 + 0.8, 0.8 (0.1 x mean area: 24 pixels / 3 slices)
    expected = torch.tensor([6.8, 18.8, 0.8]) / 26.4
    assert torch.allclose(share, expected, atol=0.03), share
