import copy
import logging

import pytest
import torch
from monai.networks.nets import UNet

from bundle_common.errors import BundleInputError
from bundle_common.networks import (
    ProbabilityMeanEnsemble,
    checkpoints_to_score,
    fold_checkpoints,
    fold_pairs,
    load_model,
    load_weights,
    start_from,
)


def _unet(seed: int, out_channels: int = 1) -> torch.nn.Module:
    torch.manual_seed(seed)
    return UNet(2, 3, out_channels, channels=(4, 8), strides=(2,), num_res_units=1).eval()


def _save(network, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(network.state_dict(), path)
    return path


@torch.no_grad()
def test_an_ensemble_of_identical_models_equals_the_model():
    model, x = _unet(0), torch.randn(2, 3, 16, 16)
    ensemble = ProbabilityMeanEnsemble([copy.deepcopy(model) for _ in range(5)]).eval()
    assert torch.allclose(torch.sigmoid(ensemble(x)), torch.sigmoid(model(x)), atol=1e-6)


@torch.no_grad()
@pytest.mark.parametrize("activation", ["sigmoid", "softmax"])
def test_the_ensemble_averages_probabilities_not_logits(activation):
    torch.manual_seed(0)
    members = [torch.nn.Conv2d(3, 2, 1) for _ in range(3)]
    for scale, m in zip((1.0, 10.0, 30.0), members):  # logits of different scales: their mean and the mean of the
        m.weight.data *= scale  # probabilities part ways
    x = torch.randn(1, 3, 16, 16)
    ensemble = ProbabilityMeanEnsemble(members, activation).eval()
    act = (lambda t: torch.softmax(t, 1)) if activation == "softmax" else torch.sigmoid
    expected = torch.stack([act(m(x)) for m in members]).mean(0)
    assert torch.allclose(act(ensemble(x)), expected.clamp(1e-6, 1 - 1e-6), atol=1e-5)
    assert not torch.allclose(act(torch.stack([m(x) for m in members]).mean(0)), expected, atol=1e-3)


@torch.no_grad()
def test_a_member_answers_alone_when_chosen():
    members, x = [_unet(1), _unet(2)], torch.randn(1, 3, 16, 16)
    ensemble = ProbabilityMeanEnsemble(members).eval()
    ensemble.member = 1
    assert torch.equal(ensemble(x), members[1](x))
    ensemble.member = 2
    with pytest.raises(ValueError, match="out of range"):
        ensemble(x)


@torch.no_grad()
def test_fold_pairs_scores_a_fold_with_its_own_pair_and_the_whole_with_all():
    first, second, x = [_unet(1), _unet(2)], [_unet(3), _unet(4)], torch.randn(1, 3, 16, 16)
    pairs = fold_pairs(first, second).eval()
    pairs.member = 1  # fold 1's pair: first[1] and second[1] only
    expected = (torch.sigmoid(first[1](x)) + torch.sigmoid(second[1](x))) / 2
    assert torch.allclose(torch.sigmoid(pairs(x)), expected, atol=1e-5)
    pairs.member = -1  # the whole: the mean of all four
    expected = torch.stack([torch.sigmoid(m(x)) for m in first + second]).mean(0)
    assert torch.allclose(torch.sigmoid(pairs(x)), expected, atol=1e-5)
    with pytest.raises(ValueError, match="as many folds"):
        fold_pairs(first, second[:1])


@torch.no_grad()
def test_fold_pairs_of_three_recipes_weigh_each_a_third():
    first, second, third = [_unet(1), _unet(2)], [_unet(3), _unet(4)], [_unet(5), _unet(6)]
    x = torch.randn(1, 3, 16, 16)
    groups = fold_pairs(first, second, third).eval()
    groups.member = 0  # fold 0: first[0], second[0] and third[0]
    expected = torch.stack([torch.sigmoid(m[0](x)) for m in (first, second, third)]).mean(0)
    assert torch.allclose(torch.sigmoid(groups(x)), expected, atol=1e-5)
    with pytest.raises(ValueError, match="got 2 and 2 and 1"):
        fold_pairs(first, second, third[:1])


@torch.no_grad()
def test_the_ensemble_exports_to_torchscript_with_the_same_output(tmp_path):
    ensemble, x = ProbabilityMeanEnsemble([_unet(1), _unet(2)]).eval(), torch.randn(1, 3, 16, 16)
    torch.jit.save(torch.jit.script(ensemble), tmp_path / "ensemble.ts")
    scripted = torch.jit.load(tmp_path / "ensemble.ts")
    assert torch.allclose(scripted(x), ensemble(x), atol=1e-5)
    scripted.member = 0
    assert torch.equal(scripted(x), _unet(1)(x))


def test_checkpoints_to_score(tmp_path, caplog):
    models = tmp_path / "models"
    _save(_unet(0), models / "model.pt")
    assert checkpoints_to_score(models) == [models / "model.pt"]  # no folds: the model as today
    for k in (0, 1):
        _save(_unet(k), models / f"fold{k}" / "model.pt")
    with caplog.at_level(logging.WARNING):
        assert checkpoints_to_score(models, num_folds=3) == [models / "model.pt"]  # not all folds: not an ensemble
    assert "folds [0, 1] of 3" in caplog.text
    with pytest.raises(BundleInputError, match="fold2"):
        checkpoints_to_score(models, num_folds=3, out_of_fold=True)
    _save(_unet(2), models / "fold2" / "model.pt")
    (models / "fold10").mkdir()  # a folder without a model is not a fold
    assert list(fold_checkpoints(models)) == [0, 1, 2]
    assert checkpoints_to_score(models, num_folds=3) == [models / f"fold{k}" / "model.pt" for k in range(3)]
    assert checkpoints_to_score(models, ckpt_path=models / "fold1" / "model.pt", num_folds=3) == [
        models / "fold1" / "model.pt"
    ]


@torch.no_grad()
def test_load_model_gives_the_plain_network_for_one_checkpoint_and_the_ensemble_for_several(tmp_path):
    x = torch.randn(1, 3, 16, 16)
    paths = [_save(_unet(k), tmp_path / f"fold{k}" / "model.pt") for k in range(2)]
    one = load_model(_unet(9), paths[:1]).eval()
    assert type(one) is UNet and torch.equal(one(x), _unet(0)(x))
    both = load_model(_unet(9), paths).eval()
    assert isinstance(both, ProbabilityMeanEnsemble)
    both.member = 1
    assert torch.equal(both(x), _unet(1)(x))
    with pytest.raises(FileNotFoundError, match="nothing.pt"):
        load_model(_unet(9), [paths[0], tmp_path / "nothing.pt"])


def test_load_weights_reads_bare_and_nested_state_dicts(tmp_path):
    state = _unet(4).state_dict()
    torch.save({"model": state}, tmp_path / "nested.pt")
    loaded = load_weights(_unet(5), tmp_path / "nested.pt")
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in state.items())


def test_fine_tuning_loads_every_tensor_that_fits_and_names_the_rest(tmp_path, caplog):
    shipped = _unet(0, out_channels=1)
    _save(shipped, tmp_path / "model.pt")
    same = start_from(_unet(1, out_channels=1), tmp_path / "model.pt")
    assert all(torch.equal(a, b) for a, b in zip(same.state_dict().values(), shipped.state_dict().values()))
    fresh = _unet(2, out_channels=3)  # a new head: 3 classes instead of 1
    before = copy.deepcopy(fresh.state_dict())
    with caplog.at_level(logging.INFO, logger="bundle_common.networks"):
        tuned = start_from(fresh, tmp_path / "model.pt")
    state, source = tuned.state_dict(), shipped.state_dict()
    differing = [k for k in state if state[k].shape != source[k].shape]
    assert differing  # the last layer's weights and bias
    for key in state:
        expected = before[key] if key in differing else source[key]
        assert torch.equal(state[key], expected), key
    (line,) = [r.getMessage() for r in caplog.records if "fine-tuning from" in r.getMessage()]
    assert all(key in line for key in differing) and f"{len(state) - len(differing)} of {len(state)}" in line


def test_fine_tuning_without_a_checkpoint_or_from_a_stranger(tmp_path):
    network = _unet(0)
    assert start_from(network, None) is network
    with pytest.raises(BundleInputError, match="no checkpoint to fine-tune from"):
        start_from(network, tmp_path / "missing.pt")
    torch.save(torch.nn.Linear(2, 2).state_dict(), tmp_path / "other.pt")
    with pytest.raises(BundleInputError, match="no tensor of it fits this network"):
        start_from(network, tmp_path / "other.pt")
