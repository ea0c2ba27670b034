"""Out-of-fold evaluation: every case scored by the one fold model that did not train on it."""

from __future__ import annotations

import torch

__all__ = ["OutOfFoldMember"]


class OutOfFoldMember:
    """Before each iteration, point the evaluator's :class:`~bundle_common.networks.ProbabilityMeanEnsemble` at the
    member of the batch's fold (``batch[fold_key]``, from a datalist's ``oof`` split); after the run, back to the mean.

    A handler rather than an inferer argument, so that it works whatever the inferer (MONAI's ``SliceInferer`` does
    not pass extra arguments on to the network). Raises ``ValueError`` when a batch mixes folds or has none, and
    ``TypeError`` when the network is not an ensemble.
    """

    def __init__(self, fold_key: str = "fold"):
        self.fold_key = fold_key

    def attach(self, engine) -> None:
        from ignite.engine import Events

        engine.add_event_handler(Events.ITERATION_STARTED, self._select)
        engine.add_event_handler(Events.COMPLETED, self._restore)

    @staticmethod
    def _ensemble(engine):
        network = getattr(engine.network, "module", engine.network)  # DistributedDataParallel wraps it
        if not hasattr(network, "member"):
            raise TypeError(f"out-of-fold evaluation needs the fold ensemble, got {type(network).__name__}.")
        return network

    def _select(self, engine) -> None:
        batch = engine.state.batch
        if not isinstance(batch, dict) or self.fold_key not in batch:
            raise ValueError(f"out-of-fold evaluation: the batch has no {self.fold_key!r} (use the 'oof' split).")
        folds = torch.as_tensor(batch[self.fold_key]).flatten().unique()
        if folds.numel() != 1:
            raise ValueError(f"a batch must come from one fold, got folds {folds.tolist()}: use batch_size 1.")
        self._ensemble(engine).member = int(folds[0])

    def _restore(self, engine) -> None:
        self._ensemble(engine).member = -1
