"""Stop training at the first NaN or infinite loss, with a message, before anything is saved from it."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from ignite.engine import Engine, Events
from monai.handlers import from_engine

from ..errors import NonFiniteLossError

__all__ = ["StopOnNonFiniteLoss"]


class StopOnNonFiniteLoss:
    """After every iteration, raise :class:`~bundle_common.errors.NonFiniteLossError` if the loss is NaN or
    infinite. Unlike ignite's ``TerminateOnNan``, which ends the run as if it had completed (so end-of-run savers
    write the broken weights), the run fails with exit status 1 and the checkpoints of earlier epochs stay as they
    were; ``checkpoint`` names the one to resume from in the message.
    """

    def __init__(
        self,
        output_transform: Callable[[Any], Any] | None = None,
        checkpoint: str | None = None,
    ) -> None:
        self.output_transform = output_transform or from_engine(["loss"], first=True)
        self.checkpoint = checkpoint

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.ITERATION_COMPLETED, self)

    def __call__(self, engine: Engine) -> None:
        loss = self.output_transform(engine.state.output)
        if isinstance(loss, (tuple, list)):  # from_engine on an output that was not decollated
            loss = loss[0]
        value = float(loss.item() if hasattr(loss, "item") else loss)
        if math.isfinite(value):
            return
        where = f"epoch {engine.state.epoch}, iteration {engine.state.iteration}"
        kept = f"; the last good checkpoint is {self.checkpoint}" if self.checkpoint else ""
        raise NonFiniteLossError(f"training stopped: the loss is {value} at {where}{kept} (try a lower learning rate).")
