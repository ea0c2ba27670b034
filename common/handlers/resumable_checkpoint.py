"""A training checkpoint that a killed run resumes from exactly: weights, optimizer, schedule, progress, randomness."""

from __future__ import annotations

import copy
import os
import random
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from ignite.engine import Engine, Events
from monai.handlers import CheckpointSaver
from monai.transforms import Randomizable

from ..errors import BundleInputError
from ..io import atomic_path

__all__ = ["ResumableCheckpoint", "random_transforms", "random_states", "set_random_states"]


def random_transforms(transforms: Any) -> list[Randomizable]:
    """Every :class:`~monai.transforms.Randomizable` reachable from ``transforms`` (a transform, a ``Compose`` or a
    list of them, and the random transforms they hold as attributes), in a fixed order."""
    found: list[Randomizable] = []
    seen: set[int] = set()

    def visit(item: Any) -> None:
        if id(item) in seen:
            return
        seen.add(id(item))
        if isinstance(item, (list, tuple)):
            for child in item:
                visit(child)
            return
        if isinstance(item, Randomizable):
            found.append(item)
        if callable(item) and hasattr(item, "__dict__") and not isinstance(item, torch.nn.Module):
            for value in vars(item).values():
                if isinstance(value, (Randomizable, list, tuple)) or hasattr(value, "transforms"):
                    visit(value)

    visit(transforms)
    return found


def _numpy_state(state: tuple) -> tuple:
    """A NumPy ``RandomState`` state with its key array as a tensor, which a ``weights_only=True`` load accepts."""
    name, keys, *rest = state
    return (name, torch.from_numpy(np.asarray(keys, dtype=np.int64)), *rest)


def _numpy_state_back(state: tuple) -> tuple:
    name, keys, *rest = state
    return (name, keys.numpy().astype(np.uint32), *rest)


def random_states(transforms: Any = None) -> dict:
    """The global random states of torch, NumPy and Python, and that of each random transform in ``transforms``."""
    return {
        "torch": torch.get_rng_state(),
        "numpy": _numpy_state(np.random.get_state()),
        "python": random.getstate(),
        "transforms": [_numpy_state(t.R.get_state()) for t in random_transforms(transforms)],
    }


def set_random_states(states: Mapping, transforms: Any = None) -> None:
    """Restore what :func:`random_states` returned (for the same ``transforms``)."""
    torch.set_rng_state(states["torch"])
    np.random.set_state(_numpy_state_back(states["numpy"]))
    random.setstate(states["python"])
    found = random_transforms(transforms)
    if len(found) != len(states["transforms"]):
        raise ValueError(f"the checkpoint holds {len(states['transforms'])} random transform states, not {len(found)}.")
    for transform, state in zip(found, states["transforms"]):
        transform.R.set_state(_numpy_state_back(state))


def _snapshot(obj: Any) -> Any:
    """``obj`` (nested mappings, lists and tuples) with every tensor copied to the CPU, so that training may go on
    changing its own tensors in place while the copy is written. Mappings keep their type and attributes (a
    ``state_dict``'s ``_metadata``)."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, Mapping):
        copied = copy.copy(obj)
        for key, value in obj.items():
            copied[key] = _snapshot(value)
        return copied
    if isinstance(obj, list):
        return [_snapshot(item) for item in obj]
    if isinstance(obj, tuple):
        return tuple(_snapshot(item) for item in obj)
    return obj


def _rank_and_world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _unwrap(obj: Any) -> Any:
    return obj.module if isinstance(obj, (torch.nn.DataParallel, torch.nn.parallel.DistributedDataParallel)) else obj


class ResumableCheckpoint:
    """Write ``path`` every ``interval`` epochs (and when training completes), atomically (a temporary file renamed
    into place, so a kill at any moment leaves the previous checkpoint whole), holding what training needs to go
    on exactly where it was:

    - the ``state_dict`` of each object in ``save_dict`` (networks unwrapped from DDP; optimizers, LR schedulers);
      an ignite ``Engine`` there (the validator) keeps its ``best_metric`` / ``best_metric_epoch``; a MONAI
      ``CheckpointSaver`` of the best weights keeps its best-so-far score, so a worse epoch after a resume does not
      overwrite them (when those weights were deleted between the runs, a warning says so and both best-so-far
      records start again);
    - the trainer's epoch and iteration, and its AMP grad scaler when it has one;
    - the random states of torch, NumPy, Python and of every random transform in ``transforms``, per rank.

    With ``resume=True`` it loads ``path`` when the trainer starts, and training goes on from the epoch after the
    saved one up to the configured ``max_epochs``. Only rank 0 writes; every rank loads.

    With ``background=True`` (the default) the state is copied (tensors to the CPU) at the end of the epoch and
    written by a thread while the next epoch trains; the next save, the end of the run and :meth:`wait` wait for
    it, and an error of the write is raised there (the thread is not a daemon: a run that fails still ends its
    write). A kill during that write leaves the previous checkpoint whole, which a resume then goes on from.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        save_dict: Mapping[str, Any],
        transforms: Any = None,
        resume: bool = False,
        interval: int = 1,
        map_location: Any = "cpu",
        background: bool = True,
    ) -> None:
        self.path = Path(path)
        self.save_dict = dict(save_dict)
        self.transforms = transforms
        self.resume = resume
        self.interval = interval
        self.map_location = map_location
        self.background = background
        self._writer: threading.Thread | None = None
        self._write_error: BaseException | None = None
        self._saved_iteration: int | None = None  # the run's end needs no second save of the last epoch's state

    def attach(self, engine: Engine) -> None:
        if self.resume:
            engine.add_event_handler(Events.STARTED, self.load)
        engine.add_event_handler(Events.EPOCH_COMPLETED(every=self.interval), self.save)
        engine.add_event_handler(Events.COMPLETED, self.save)
        engine.add_event_handler(Events.COMPLETED, self.wait)

    @staticmethod
    def _state_of(obj: Any) -> Any:
        if isinstance(obj, Engine):
            return {"best_metric": obj.state.best_metric, "best_metric_epoch": obj.state.best_metric_epoch}
        if isinstance(obj, CheckpointSaver):
            tracker = obj._key_metric_checkpoint  # the best-so-far list MONAI's saver restores with load_state_dict
            return tracker.state_dict() if tracker is not None else None
        return _unwrap(obj).state_dict()

    @staticmethod
    def _restore(obj: Any, state: Any) -> None:
        if isinstance(obj, Engine):
            obj.state.best_metric = state["best_metric"]
            obj.state.best_metric_epoch = state["best_metric_epoch"]
        elif isinstance(obj, CheckpointSaver):
            if state is not None:
                obj.load_state_dict(state)
        else:
            _unwrap(obj).load_state_dict(state)

    def save(self, engine: Engine) -> None:
        if engine.state.iteration == self._saved_iteration:  # the same on every rank: all skip together
            return
        self._saved_iteration = engine.state.iteration
        rank, world = _rank_and_world()
        local = random_states(self.transforms)
        states: list = [local]
        if world > 1:  # every rank takes part; rank 0 writes them all
            states = [None] * world
            dist.all_gather_object(states, local)
        if rank != 0:
            return
        checkpoint = {name: self._state_of(obj) for name, obj in self.save_dict.items()}
        checkpoint["trainer"] = {"epoch": engine.state.epoch, "iteration": engine.state.iteration}
        scaler = getattr(engine, "scaler", None)
        if scaler is not None:
            checkpoint["scaler"] = scaler.state_dict()
        checkpoint["random_states"] = states
        self.wait()
        if not self.background:
            self._write(checkpoint)
            return
        self._writer = threading.Thread(target=self._write_in_background, args=(_snapshot(checkpoint),))
        self._writer.start()

    def _write(self, checkpoint: dict) -> None:
        with atomic_path(self.path) as tmp, open(tmp, "wb") as stream:
            torch.save(checkpoint, stream)
            stream.flush()
            os.fsync(stream.fileno())

    def _write_in_background(self, checkpoint: dict) -> None:
        try:
            self._write(checkpoint)
        except BaseException as error:  # raised again in the training thread, by wait()
            self._write_error = error

    def wait(self, engine: Engine | None = None) -> None:
        """Wait until the checkpoint being written (if any) is in place; raise what its write raised."""
        if self._writer is not None:
            self._writer.join()
            self._writer = None
        error, self._write_error = self._write_error, None
        if error is not None:
            raise error

    def _lost_best_weights(self, checkpoint: Mapping) -> list[Path]:
        """The files that a ``CheckpointSaver`` in ``save_dict`` recorded as its best weights and that no longer
        exist (deleted between the runs): its next better epoch would fail to replace them."""
        lost = []
        for name, obj in self.save_dict.items():
            if isinstance(obj, CheckpointSaver) and checkpoint[name] is not None:
                fixed = getattr(obj._key_metric_checkpoint.save_handler, "filename", None)  # key_metric_filename
                files = (Path(obj.save_dir) / (fixed or filename) for _, filename in checkpoint[name]["_saved"])
                lost += [file for file in files if not file.is_file()]
        return lost

    def load(self, engine: Engine) -> None:
        if not self.path.is_file():
            raise BundleInputError(f"{self.path}: no checkpoint to resume from (train without --resume first).")
        checkpoint = torch.load(self.path, map_location=self.map_location, weights_only=True)
        missing = [name for name in self.save_dict if name not in checkpoint]
        if missing:
            raise BundleInputError(f"{self.path}: not a checkpoint of this training (no {', '.join(missing)}).")
        lost = self._lost_best_weights(checkpoint)
        for name, obj in self.save_dict.items():
            if lost and isinstance(obj, (Engine, CheckpointSaver)):
                continue  # the best-so-far record points at weights that are gone: it starts again
            self._restore(obj, checkpoint[name])
        if lost:
            engine.logger.warning(
                f"resume: the best weights so far ({', '.join(map(str, lost))}) are gone; the best-so-far record "
                "starts again, so the run ends with the best weights of the epochs after "
                f"{checkpoint['trainer']['epoch']}."
            )
        engine.state.epoch = checkpoint["trainer"]["epoch"]
        engine.state.iteration = checkpoint["trainer"]["iteration"]
        scaler = getattr(engine, "scaler", None)
        if scaler is not None and "scaler" in checkpoint:
            scaler.load_state_dict(checkpoint["scaler"])
        rank, _ = _rank_and_world()
        states = checkpoint["random_states"]
        set_random_states(states[rank % len(states)], self.transforms)
        engine.logger.info(f"resumed from {self.path} after epoch {engine.state.epoch}")
