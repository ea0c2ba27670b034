import pytest
import torch
from ignite.engine import Engine, Events

from bundle_common.handlers import OutOfFoldMember
from bundle_common.networks import ProbabilityMeanEnsemble


class _Constant(torch.nn.Module):
    def __init__(self, value: float):
        super().__init__()
        self.value = value

    def forward(self, x):
        return torch.full_like(x, self.value)


def _engine(network):
    engine = Engine(lambda e, batch: float(e.network(torch.zeros(1, 1, 2, 2)).mean()))
    engine.network = network
    OutOfFoldMember().attach(engine)
    return engine


def test_each_batch_is_scored_by_its_folds_member_then_the_mean_comes_back():
    ensemble = ProbabilityMeanEnsemble([_Constant(-1.0), _Constant(2.0), _Constant(5.0)])
    engine = _engine(ensemble)
    outputs = []
    engine.add_event_handler(Events.ITERATION_COMPLETED, lambda e: outputs.append(e.state.output))
    engine.run([{"fold": torch.tensor([2])}, {"fold": torch.tensor([0])}, {"fold": torch.tensor([1])}])
    assert outputs == [5.0, -1.0, 2.0]
    assert ensemble.member == -1


@pytest.mark.parametrize(
    "batch, error, message",
    [({"fold": torch.tensor([0, 1])}, ValueError, "one fold"), ({"image": 0}, ValueError, "'oof' split")],
)
def test_a_batch_without_one_fold_is_refused_and_the_mean_comes_back(batch, error, message):
    ensemble = ProbabilityMeanEnsemble([_Constant(0.0), _Constant(1.0)])
    with pytest.raises(error, match=message):
        _engine(ensemble).run([batch])
    assert ensemble.member == -1


def test_a_single_model_is_refused():
    with pytest.raises(TypeError, match="fold ensemble"):
        _engine(_Constant(0.0)).run([{"fold": torch.tensor([0])}])
