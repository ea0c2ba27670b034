import logging
import random
import threading

import numpy as np
import pytest
import torch
from ignite.engine import Engine, Events
from monai.handlers import CheckpointSaver
from monai.transforms import Compose, OneOf, RandAffined, RandFlipd, RandGaussianNoised

from bundle_common.errors import BundleInputError
from bundle_common.handlers import ResumableCheckpoint
from bundle_common.handlers import resumable_checkpoint as module
from bundle_common.handlers.resumable_checkpoint import random_states, random_transforms, set_random_states


def augmentation() -> Compose:
    keys = ["image"]
    return Compose(
        [
            RandFlipd(keys, prob=0.5),
            Compose([RandAffined(keys, prob=1.0, rotate_range=0.3)]),
            OneOf([RandGaussianNoised(keys, prob=1.0), RandFlipd(keys, prob=1.0, spatial_axis=1)]),
        ]
    ).set_random_state(seed=1)


def draws(transforms: Compose) -> list:
    sample = {"image": torch.arange(64.0).reshape(1, 8, 8)}
    return [transforms(dict(sample))["image"] for _ in range(3)] + [
        torch.rand(3),
        np.random.rand(3),
        random.random(),
    ]


def test_random_transforms_reach_nested_composes_and_inner_randomizers():
    found = random_transforms(augmentation())
    names = [type(t).__name__ for t in found]
    for name in ("Compose", "RandFlipd", "RandAffined", "RandAffine", "OneOf", "RandGaussianNoised"):
        assert name in names, names
    assert len({id(t) for t in found}) == len(found)


def test_restored_random_states_repeat_the_same_draws():
    transforms = augmentation()
    draws(transforms)  # move away from the seed
    saved = random_states(transforms)
    first = draws(transforms)
    other = augmentation()  # a fresh pipeline in a fresh process, as after a kill
    torch.manual_seed(123)
    set_random_states(saved, other)
    second = draws(other)
    for a, b in zip(first, second):
        assert np.array_equal(np.asarray(a), np.asarray(b))


def trainer_with(checkpoint: ResumableCheckpoint) -> Engine:
    engine = Engine(lambda e, b: None)
    checkpoint.attach(engine)
    return engine


@pytest.mark.parametrize("background", [True, False])
def test_interrupted_save_leaves_the_previous_checkpoint_whole(tmp_path, monkeypatch, background):
    net = torch.nn.Linear(2, 2)
    path = tmp_path / "last.pt"
    trainer = trainer_with(ResumableCheckpoint(path, {"model": net}, background=background))
    trainer.run([0, 1], max_epochs=1)
    before = path.read_bytes()

    def dies_halfway(obj, stream):
        stream.write(b"half a checkpoint")
        raise KeyboardInterrupt  # as a signal would, in the middle of the write

    monkeypatch.setattr(module.torch, "save", dies_halfway)
    with torch.no_grad():
        net.weight.add_(1.0)
    checkpoint = ResumableCheckpoint(path, {"model": net}, background=background)
    with pytest.raises(KeyboardInterrupt):  # from the save itself, or from the wait for its thread
        checkpoint.save(trainer)
        checkpoint.wait()
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]


def test_background_write_holds_the_state_of_its_epoch_while_training_goes_on(tmp_path, monkeypatch):
    net = torch.nn.Linear(2, 2)
    before = {name: value.clone() for name, value in net.state_dict().items()}
    path = tmp_path / "last.pt"
    trained_on, writes = threading.Event(), []
    real_save = torch.save

    def save_after_the_next_step(obj, stream):
        trained_on.wait(timeout=60)  # only a guard against a hang: the test sets it right after save() returns
        writes.append(threading.current_thread() is not threading.main_thread())
        real_save(obj, stream)

    monkeypatch.setattr(module.torch, "save", save_after_the_next_step)
    checkpoint = ResumableCheckpoint(path, {"model": net})
    checkpoint.save(Engine(lambda e, b: None))
    with torch.no_grad():  # the next epoch changes the weights in place while the thread has not written yet
        net.weight.add_(1.0)
        net.bias.mul_(-3.0)
    trained_on.set()
    checkpoint.wait()
    saved = torch.load(path, weights_only=True)["model"]
    assert writes == [True]
    assert saved.keys() == before.keys()
    for name, value in before.items():
        assert torch.equal(saved[name], value), name
    assert not torch.equal(saved["weight"], net.weight.detach())


def test_a_failed_background_write_is_raised_by_the_next_save_and_keeps_the_old_checkpoint(tmp_path, monkeypatch):
    net = torch.nn.Linear(2, 2)
    path = tmp_path / "last.pt"
    trainer = trainer_with(ResumableCheckpoint(path, {"model": net}))
    trainer.run([0, 1], max_epochs=1)
    before = path.read_bytes()

    def disk_full(obj, stream):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(module.torch, "save", disk_full)
    checkpoint = ResumableCheckpoint(path, {"model": net})
    checkpoint.save(trainer)  # returns: the thread fails later
    with pytest.raises(OSError, match="No space left"):
        checkpoint.save(Engine(lambda e, b: None))
    checkpoint.wait()  # the error was raised once
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]


def test_the_end_of_a_run_waits_for_the_last_write(tmp_path, monkeypatch):
    net = torch.nn.Linear(2, 2)
    path = tmp_path / "last.pt"
    real_save, started = torch.save, []

    def slow_save(obj, stream):
        started.append(obj["trainer"]["epoch"])
        threading.Event().wait(0.2)  # a write that outlasts the engine's last handlers
        real_save(obj, stream)

    monkeypatch.setattr(module.torch, "save", slow_save)
    trainer_with(ResumableCheckpoint(path, {"model": net})).run([0, 1], max_epochs=3)
    assert started == [1, 2, 3]
    assert torch.load(path, weights_only=True)["trainer"] == {"epoch": 3, "iteration": 6}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]


def key_metric_validator(saver: CheckpointSaver, figures: list[float]) -> Engine:
    validator = Engine(lambda e, b: None)
    validator.state.best_metric, validator.state.best_metric_epoch = -1, -1

    @validator.on(Events.EPOCH_COMPLETED)
    def score(engine):
        engine.state.metrics["acc"] = figures.pop(0)

    saver.attach(validator)
    return validator


def train_with_a_best_saver(tmp_path, net, figures: list[float], resume: bool, epochs: int) -> Engine:
    """A trainer that sets ``net``'s weights to the epoch number and validates every epoch (``figures`` in turn),
    its best weights saved to ``tmp_path/models/model.pt`` and its checkpoint to ``tmp_path/runs/last.pt``."""
    saver = CheckpointSaver(tmp_path / "models", {"model": net}, key_metric_name="acc", save_key_metric=True,
                            key_metric_filename="model.pt")  # fmt: skip
    validator = key_metric_validator(saver, figures)
    trainer = Engine(lambda e, b: None)

    @trainer.on(Events.EPOCH_COMPLETED)
    def train_and_validate(engine):
        with torch.no_grad():
            net.weight.fill_(float(engine.state.epoch))
        validator.run([0], max_epochs=1)

    save_dict = {"model": net, "best_model_saver": saver, "validator": validator}
    ResumableCheckpoint(tmp_path / "runs" / "last.pt", save_dict, resume=resume).attach(trainer)
    trainer.run([0, 1], max_epochs=epochs)
    return trainer


def test_resume_restores_progress_best_so_far_and_does_not_overwrite_better_weights(tmp_path):
    net, path = torch.nn.Linear(2, 2), tmp_path / "runs" / "last.pt"
    best = tmp_path / "models" / "model.pt"

    def run(figures: list[float], resume: bool, epochs: int) -> Engine:
        return train_with_a_best_saver(tmp_path, net, figures, resume, epochs)

    run([0.5, 0.9], resume=False, epochs=2)  # epoch 2 is the best
    assert torch.load(best, weights_only=True)["weight"].eq(2.0).all()
    trainer = run([0.7], resume=True, epochs=3)  # a worse epoch 3 after the resume
    assert trainer.state.epoch == 3 and trainer.state.iteration == 6
    assert torch.load(best, weights_only=True)["weight"].eq(2.0).all()  # still epoch 2's weights
    saved = torch.load(path, weights_only=True)
    assert saved["trainer"] == {"epoch": 3, "iteration": 6}
    assert torch.equal(saved["model"]["weight"], torch.full((2, 2), 3.0))


def test_resume_without_a_checkpoint_is_an_input_error(tmp_path):
    trainer = trainer_with(ResumableCheckpoint(tmp_path / "none.pt", {"model": torch.nn.Linear(1, 1)}, resume=True))
    with pytest.raises(BundleInputError, match="none.pt: no checkpoint to resume from"):
        trainer.run([0], max_epochs=1)


def test_resume_after_the_best_weights_were_deleted_warns_and_tracks_the_best_again(tmp_path, caplog):
    net = torch.nn.Linear(2, 2)
    best = tmp_path / "models" / "model.pt"

    def run(figures: list[float], resume: bool, epochs: int) -> Engine:
        return train_with_a_best_saver(tmp_path, net, figures, resume, epochs)

    run([0.5, 0.9], resume=False, epochs=2)
    best.unlink()  # e.g. cleaned away between two sessions
    with caplog.at_level(logging.WARNING):
        trainer = run([0.7, 0.6], resume=True, epochs=4)  # both worse than the lost 0.9
    assert trainer.state.epoch == 4
    assert "model.pt) are gone" in caplog.text and "epochs after 2" in caplog.text
    assert torch.load(best, weights_only=True)["weight"].eq(3.0).all()  # the best of epochs 3 and 4
