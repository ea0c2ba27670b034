import numpy as np
import pytest
import torch
from PIL import Image

from bundle_common.handlers import SliceSeriesWriter


def _slices(folder, n, size=(20, 24)):
    folder.mkdir(parents=True)
    files = []
    for k in range(1, n + 1):
        path = folder / f"P_{k}.tif"
        Image.fromarray(np.full((*size, 3), 40, np.uint8)).save(path)
        files.append(str(path))
    return files


def test_writes_masks_overlays_and_a_gif_per_series(tmp_path):
    files = _slices(tmp_path / "in", 4)
    prediction = torch.zeros(1, 20, 24, 4)
    prediction[0, 5:10, 5:10, 1] = 1
    label = torch.zeros(1, 20, 24, 4)
    label[0, 12:16, 12:16, 1] = 1
    folder = SliceSeriesWriter(tmp_path / "out").write(
        {"pred": prediction, "label": label, "files": files, "patient": "P"}
    )
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["P.gif"] + [f"P_{k}_{kind}.png" for k in range(1, 5) for kind in ("mask", "overlay")]
    )
    mask = np.array(Image.open(folder / "P_2_mask.png"))
    assert mask.shape == (20, 24) and mask.dtype == np.uint8
    np.testing.assert_array_equal(mask > 0, prediction[0, :, :, 1].numpy() > 0)
    assert set(np.unique(mask)) == {0, 255}
    overlay = np.array(Image.open(folder / "P_2_overlay.png"))
    assert overlay[5, 7].tolist() == [255, 0, 0] and overlay[12, 13].tolist() == [0, 255, 0]
    assert overlay[7, 7].tolist() == [40, 40, 40]  # inside the outline the slice shows through
    gif = Image.open(folder / "P.gif")
    assert gif.n_frames == 4 and gif.size == (24, 20)  # one frame a slice, even where slices look alike


def test_slice_count_must_match(tmp_path):
    files = _slices(tmp_path / "in", 2)
    with pytest.raises(ValueError, match="2 slice files for a prediction of 3 slices"):
        SliceSeriesWriter(tmp_path / "out").write({"pred": torch.zeros(1, 20, 24, 3), "files": files, "patient": "P"})


def test_overlays_drawn_on_one_channel_in_grey(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    path = folder / "P_1.tif"
    Image.fromarray(np.dstack([np.full((20, 24), v, np.uint8) for v in (10, 200, 90)])).save(path)  # T1, FLAIR, T1c
    prediction = torch.zeros(1, 20, 24, 1)
    prediction[0, 5:10, 5:10, 0] = 1
    out = SliceSeriesWriter(tmp_path / "out", background_channel=1).write(
        {"pred": prediction, "files": [str(path)], "patient": "P"}
    )
    overlay = np.array(Image.open(out / "P_1_overlay.png"))
    assert overlay[7, 7].tolist() == [200, 200, 200]  # the FLAIR in grey
    assert overlay[5, 7].tolist() == [255, 0, 0]
