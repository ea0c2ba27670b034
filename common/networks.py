"""Networks with their weights: loading a checkpoint, and the mean of several models' probabilities (fold ensembles).

A bundle that ships cross-validation folds keeps them as ``models/fold<k>/model.pt`` beside ``models/model.pt``;
:func:`checkpoints_to_score` says which of them an evaluation or inference run uses, and :func:`load_model` builds
the one network (a plain model, or a :class:`ProbabilityMeanEnsemble` of the folds) that the run's inferer sees.
"""

from __future__ import annotations

import copy
import logging
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch

from .errors import BundleInputError

__all__ = [
    "ProbabilityMeanEnsemble",
    "checkpoints_to_score",
    "fold_checkpoints",
    "load_model",
    "load_weights",
    "start_from",
]

logger = logging.getLogger(__name__)

_FOLD_FOLDER = re.compile(r"fold(\d+)")


def load_weights(network: torch.nn.Module, ckpt_path: str | os.PathLike) -> torch.nn.Module:
    """Load a state dict saved by MONAI's ``CheckpointSaver`` (bare, or under ``"model"``) with ``weights_only``."""
    network.load_state_dict(_state_dict(ckpt_path))
    return network


def _state_dict(ckpt_path: str | os.PathLike) -> Mapping:
    if not os.path.isfile(ckpt_path):
        raise FileNotFoundError(f"{ckpt_path}: checkpoint does not exist.")
    state = torch.load(ckpt_path, map_location="cpu", weights_only=True)
    if isinstance(state, Mapping) and isinstance(state.get("model"), Mapping):
        state = state["model"]
    return state


def start_from(network: torch.nn.Module, ckpt_path: str | os.PathLike | None = None) -> torch.nn.Module:
    """Fine-tuning: ``network`` with the weights of ``ckpt_path`` wherever a tensor has the same name and shape
    (MONAI's ``copy_model_state``); the others (a new head with another number of classes, say) keep their fresh
    initialisation and are named in one log line. ``None``: the network as it is, for training from random weights.

    Only weights: the optimizer, the schedule and the epoch start afresh (``--resume`` is what goes on with those).
    MONAI's ``CheckpointLoader(strict_shape=False)`` would do it as a handler, but loads nothing from the bare state
    dict its own ``CheckpointSaver`` writes for one network (MONAI 1.6)."""
    if ckpt_path is None:
        return network
    from monai.networks.utils import copy_model_state

    if not os.path.isfile(ckpt_path):
        raise BundleInputError(f"{ckpt_path}: no checkpoint to fine-tune from.")
    source = _state_dict(ckpt_path)
    target = network.state_dict()
    _, loaded, fresh = copy_model_state(network, source, inplace=True)
    if not loaded:
        raise BundleInputError(
            f"{ckpt_path}: no tensor of it fits this network; it is not a checkpoint of this bundle."
        )
    kept = [f"{k} {tuple(target[k].shape)}" + (f" (checkpoint {tuple(source[k].shape)})" if k in source else "")
            for k in fresh]  # fmt: skip
    logger.info(
        f"fine-tuning from {ckpt_path}: {len(loaded)} of {len(target)} tensors loaded"
        + (f"; kept fresh, other shape or absent there: {', '.join(kept)}" if kept else "")
    )
    return network


class ProbabilityMeanEnsemble(torch.nn.Module):
    """The mean of several networks' probabilities, given back as logits so that a single model's post-processing
    (sigmoid or softmax, threshold or argmax, flip averaging) applies unchanged.

    ``sigmoid``: ``logit(mean_k sigmoid(f_k(x)))``; ``softmax``: ``log(mean_k softmax(f_k(x)))`` along channels, whose
    softmax is that mean again. Probabilities are clamped to ``[eps, 1 - eps]`` first, so the logits stay finite.

    Setting ``member`` to ``k`` (``-1``: none, the default) makes the ensemble answer with member ``k``'s own output
    instead: an out-of-fold evaluation scores every case with the model of its fold this way
    (:class:`bundle_common.handlers.OutOfFoldMember` sets it from each batch's fold).
    """

    def __init__(self, members: Sequence[torch.nn.Module], activation: str = "sigmoid", eps: float = 1e-6):
        super().__init__()
        if activation not in ("sigmoid", "softmax"):
            raise ValueError(f"activation must be 'sigmoid' or 'softmax', got {activation!r}.")
        if len(members) == 0:
            raise ValueError("ProbabilityMeanEnsemble needs at least one member.")
        self.members = torch.nn.ModuleList(members)
        self.softmax = activation == "softmax"
        self.eps = float(eps)
        self.member = -1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.member >= len(self.members):
            raise ValueError(f"member {self.member} out of range for {len(self.members)} models.")
        total = torch.zeros(0)
        for index, network in enumerate(self.members):
            if self.member < 0:
                logits = network(x)
                prob = torch.softmax(logits.float(), dim=1) if self.softmax else torch.sigmoid(logits.float())
                total = prob if index == 0 else total + prob
            elif index == self.member:
                total = network(x)
        if self.member >= 0:
            return total
        mean = (total / len(self.members)).clamp(self.eps, 1.0 - self.eps)
        return torch.log(mean) if self.softmax else torch.log(mean) - torch.log1p(-mean)


def fold_pairs(
    first: Sequence[torch.nn.Module],
    second: Sequence[torch.nn.Module],
    *more: Sequence[torch.nn.Module],
    activation: str = "sigmoid",
) -> ProbabilityMeanEnsemble:
    """Two (or more) recipes' fold models as one ensemble of pairs: member ``k`` is the mean of ``first[k]``,
    ``second[k]`` and fold ``k`` of every further recipe, each weighing the same.

    Out of fold, a case of fold ``k`` is then scored by its own fold's models; the whole is the mean of all of them
    (each pair weighs the same). Recipe comparisons use it to measure what a second recipe adds to the first.
    """
    recipes = (first, second, *more)
    if len({len(folds) for folds in recipes}) != 1:
        counts = " and ".join(str(len(folds)) for folds in recipes)
        raise ValueError(f"fold_pairs needs as many folds in each recipe, got {counts}.")
    pairs = [ProbabilityMeanEnsemble(list(members), activation) for members in zip(*recipes)]
    return ProbabilityMeanEnsemble(pairs, activation)


def fold_checkpoints(models_dir: str | os.PathLike) -> dict[int, Path]:
    """``{k: models_dir/fold<k>/model.pt}`` for every fold folder that holds a ``model.pt``."""
    found = {}
    for folder in Path(models_dir).glob("fold*"):
        match = _FOLD_FOLDER.fullmatch(folder.name)
        if match and (folder / "model.pt").is_file():
            found[int(match.group(1))] = folder / "model.pt"
    return dict(sorted(found.items()))


def checkpoints_to_score(
    models_dir: str | os.PathLike,
    ckpt_path: str | os.PathLike | None = None,
    num_folds: int = 5,
    out_of_fold: bool = False,
) -> list[Path]:
    """The checkpoints a run scores, in fold order.

    - ``ckpt_path`` given: that one file (never an ensemble).
    - ``out_of_fold``: the ``num_folds`` fold models; a missing one is a :class:`BundleInputError` naming it.
    - otherwise the shipped models: all ``num_folds`` folds when ``models_dir`` holds every one of them (their
      ensemble), else ``models_dir/model.pt`` (folds present but not all of them are named in a warning).
    """
    if ckpt_path is not None:
        return [Path(ckpt_path)]
    folds = fold_checkpoints(models_dir)
    wanted = list(range(num_folds))
    missing = [k for k in wanted if k not in folds]
    if out_of_fold:
        if missing:
            where = ", ".join(str(Path(models_dir) / f"fold{k}" / "model.pt") for k in missing)
            raise BundleInputError(f"out-of-fold evaluation needs all {num_folds} fold models; missing: {where}.")
        return [folds[k] for k in wanted]
    if not missing:
        return [folds[k] for k in wanted]
    if folds:
        logger.warning(
            f"{models_dir}: folds {sorted(folds)} of {num_folds} present, not all of them; scoring model.pt alone."
        )
    return [Path(models_dir) / "model.pt"]


def load_model(
    network_def: torch.nn.Module, checkpoints: Sequence[str | os.PathLike], activation: str = "sigmoid"
) -> torch.nn.Module:
    """``network_def`` with the weights of the one checkpoint, or a :class:`ProbabilityMeanEnsemble` of copies of it,
    one per checkpoint, when there are several. Each file is checked to exist before any is read."""
    checkpoints = [Path(c) for c in checkpoints]
    for path in checkpoints:
        if not path.is_file():
            raise FileNotFoundError(f"{path}: checkpoint does not exist.")
    if len(checkpoints) == 1:
        logger.info(f"weights loaded from {checkpoints[0]}")
        return load_weights(network_def, checkpoints[0])
    members = [load_weights(copy.deepcopy(network_def), path) for path in checkpoints]
    logger.info(
        f"ensemble of {len(members)} models, {activation} probabilities averaged: " + ", ".join(map(str, checkpoints))
    )
    return ProbabilityMeanEnsemble(members, activation)
