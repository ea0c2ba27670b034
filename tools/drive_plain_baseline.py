"""The plain DRIVE script a user writes in an afternoon, to calibrate the bundle's validation figures.

Issue 4 quotes such a script (MONAI UNet on CLAHE green-channel patches, Dice + cross-entropy, about half an hour
on a CPU) at F1 0.82 / AUC 0.978 on DRIVE's test set, which this project cannot see. Run on the bundle's own
split, it says how that script scores on the 4 validation pictures, beside the bundle's figures there.
Deliberately plain: one hand-written loop, random patches anywhere in the picture, flips only, Adam at a fixed
rate, the last weights kept. It is a yardstick, not a recipe: the bundle is ``bundles/drive_vessel_segmentation``.

python tools/drive_plain_baseline.py --dataset_dir ../shared/data/drive --out runs/drive_plain [--steps 6000]

Writes ``OUT/baseline.json`` (settings, wall time, pooled ``dice`` / ``auc`` / ``accuracy`` inside the FOV on the
validation pictures, and per picture) and ``OUT/model.pt``.
"""

import json
import time
from pathlib import Path

import fire
import numpy as np
import torch
from monai.inferers import sliding_window_inference
from monai.losses import DiceCELoss
from monai.networks.nets import UNet
from monai.utils import set_determinism
from skimage.exposure import equalize_adapthist

from bundle_common.data.drive import drive_datalist
from bundle_common.handlers import FOVVesselReport
from bundle_common.io import atomic_path


def clahe_green(rgb: np.ndarray) -> np.ndarray:
    """(1, H, W) float32 in [0, 1]: the green channel of a (3, H, W) picture in [0, 1] after CLAHE."""
    return equalize_adapthist(rgb[1], clip_limit=0.01)[None].astype(np.float32)


def main(
    dataset_dir: str,
    out: str,
    steps: int = 6000,
    patch: int = 64,
    batch_size: int = 32,
    lr: float = 1e-3,
    seed: int = 0,
) -> None:
    set_determinism(seed)
    rng = np.random.default_rng(seed)
    train, validation = (drive_datalist(dataset_dir, split) for split in ("train", "validation"))
    images = [clahe_green(case["image"]) for case in train]
    labels = [case["label"].astype(np.float32) for case in train]
    network = UNet(2, 1, 1, channels=(16, 32, 64, 128, 256), strides=(2, 2, 2, 2), num_res_units=2)
    loss_function = DiceCELoss(sigmoid=True)
    optimizer = torch.optim.Adam(network.parameters(), lr=lr)

    start = time.perf_counter()
    network.train()
    for step in range(1, steps + 1):
        xs, ys = [], []
        for _ in range(batch_size):
            i = rng.integers(len(images))
            h, w = images[i].shape[1:]
            top, left = rng.integers(h - patch + 1), rng.integers(w - patch + 1)
            x = images[i][:, top : top + patch, left : left + patch]
            y = labels[i][:, top : top + patch, left : left + patch]
            for axis in (1, 2):
                if rng.random() < 0.5:
                    x, y = np.flip(x, axis), np.flip(y, axis)
            xs.append(x.copy())
            ys.append(y.copy())
        optimizer.zero_grad()
        loss = loss_function(network(torch.from_numpy(np.stack(xs))), torch.from_numpy(np.stack(ys)))
        loss.backward()
        optimizer.step()
        if step % 500 == 0:
            print(f"step {step}/{steps} loss {loss.item():.4f} ({time.perf_counter() - start:.0f} s)", flush=True)
    train_s = time.perf_counter() - start

    network.eval()
    out_dir = Path(out)
    report = FOVVesselReport(out_dir)  # the bundle's own figures: inside the FOV, pooled over the pictures
    with torch.no_grad():
        for case in validation:
            x = torch.from_numpy(clahe_green(case["image"]))[None]
            prob = torch.sigmoid(sliding_window_inference(x, (128, 128), 4, network, overlap=0.25))[0].numpy()
            report.add(case["case"], prob, case["label"], case["mask"])
    pooled = report.summary()
    result = {
        "settings": {"steps": steps, "patch": patch, "batch_size": batch_size, "lr": lr, "seed": seed},
        "train_s": round(train_s, 1),
        "threads": torch.get_num_threads(),
        "validation": {k: round(pooled[k], 4) for k in ("dice", "accuracy", "sensitivity", "specificity", "auc")},
        "validation_per_image": {
            r["case"]: {"dice": round(r["dice"], 4), "auc": round(r["auc"], 4)} for r in report.rows
        },
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.save(network.state_dict(), out_dir / "model.pt")
    with atomic_path(out_dir / "baseline.json") as tmp:
        Path(tmp).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    fire.Fire(main)
