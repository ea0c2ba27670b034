import numpy as np
import torch
from ignite.engine import Engine
from PIL import Image

from bundle_common.handlers import SegmentationPNGWriter
from bundle_common.overlays import overlay


def test_overlay_colours():
    picture = np.full((1, 4, 3), 100, np.uint8)
    prediction = np.array([[1, 1, 0, 0]], bool)
    label = np.array([[1, 0, 1, 0]], bool)
    out = overlay(picture, prediction, label, alpha=1.0)
    assert out[0].tolist() == [[255, 255, 0], [255, 0, 0], [0, 255, 0], [100, 100, 100]]  # both, pred, label, none
    assert overlay(picture, prediction, alpha=1.0)[0, 2].tolist() == [100, 100, 100]


def test_writes_three_full_size_pngs_per_picture(tmp_path):
    source = tmp_path / "01_test.tif"
    Image.fromarray(np.full((6, 5, 3), 80, np.uint8)).save(source)
    probability = torch.zeros(1, 6, 5)
    probability[0, 2:4, 1:3] = 0.9
    probability[0, 0, 0] = 0.5  # exactly the threshold: vessel
    label = torch.zeros(1, 6, 5)
    label[0, 2:4, 1] = 1

    def step(engine, batch):  # a decollating evaluator leaves lists of per-image dicts
        engine.state.batch = [{"file": str(source)}]
        return [{"pred": probability, "label": label}]

    engine = Engine(step)
    SegmentationPNGWriter(tmp_path / "out").attach(engine)
    engine.run([0])

    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "01_test_mask.png",
        "01_test_overlay.png",
        "01_test_prob.png",
    ]
    mask = np.array(Image.open(tmp_path / "out" / "01_test_mask.png"))
    assert mask.shape == (6, 5) and mask.sum() == 5 * 255 and mask[0, 0] == 255
    prob = np.array(Image.open(tmp_path / "out" / "01_test_prob.png"))
    assert prob[2, 1] == round(0.9 * 255) and prob[5, 4] == 0
    over = np.array(Image.open(tmp_path / "out" / "01_test_overlay.png"))
    assert over.shape == (6, 5, 3)
    assert over[2, 1, 0] > over[2, 1, 2] and over[2, 1, 1] > over[2, 1, 2]  # agreement: yellow
    assert over[2, 2, 0] > over[2, 2, 1]  # prediction only: red
    assert over[5, 4].tolist() == [80, 80, 80]
