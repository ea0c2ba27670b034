"""A NaN or infinite loss stops training with one clear line and exit status 1; the checkpoints of the epochs
before it stay as they were."""

from __future__ import annotations

import math

import pytest
import torch
from ignite.engine import Engine

from bundle_common.errors import NonFiniteLossError
from bundle_common.handlers import StopOnNonFiniteLoss
from tests.reliability.test_resume import BATCH, train


def test_nan_weights_in_epoch_two_stop_training_and_keep_epoch_one(tiny_mnist_dir, tmp_path):
    poison = tmp_path / "poison.yaml"  # what an exploding update does: every weight NaN when epoch 2 starts
    poison.write_text(
        "run:\n"
        "- _target_: bundle_common.errors.report_input_errors_briefly\n"
        '- "$@train#trainer.add_event_handler(ignite.engine.Events.EPOCH_STARTED(once=2), '
        "lambda engine: [p.data.fill_(float('nan')) for p in @network.parameters()])\"\n"
        "- $@train#trainer.run()\n"
    )
    result = train(tiny_mnist_dir, tmp_path, poison, check=False)
    last = tmp_path / "runs" / "last.pt"
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    first_iteration_of_epoch_two = math.ceil(216 / BATCH) + 1  # 216 training digits in the tiny set
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: training stopped: the loss is nan at epoch 2, iteration {first_iteration_of_epoch_two}; "
        f"the last good checkpoint is {last} (try a lower learning rate)."
    )
    saved = torch.load(last, map_location="cpu", weights_only=True)
    assert saved["trainer"]["epoch"] == 1
    assert all(torch.isfinite(t).all() for t in saved["model"].values())
    best = torch.load(tmp_path / "models" / "model.pt", map_location="cpu", weights_only=True)
    assert all(torch.isfinite(t).all() for t in best.values())


@pytest.mark.parametrize("loss", [math.inf, -math.inf, math.nan])
def test_non_finite_loss_raises_and_finite_passes(loss):
    engine = Engine(lambda e, b: [{"loss": torch.tensor(loss)}])
    StopOnNonFiniteLoss().attach(engine)
    with pytest.raises(NonFiniteLossError, match="epoch 1, iteration 1"):
        engine.run([0], max_epochs=1)
    fine = Engine(lambda e, b: [{"loss": torch.tensor(0.5)}])
    StopOnNonFiniteLoss().attach(fine)
    assert fine.run([0, 0], max_epochs=2).iteration == 4
