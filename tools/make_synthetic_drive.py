"""Write a synthetic dataset in the DRIVE layout (fundus-like images, vessel annotations, FOV masks).

python tools/make_synthetic_drive.py --out data/drive_synthetic [--n_training 4] [--n_test 2] [--seed 0]
"""

import fire

from bundle_tools.data.synthetic_drive import write_synthetic_drive


def main(out: str, n_training: int = 4, n_test: int = 2, seed: int = 0) -> None:
    counts = write_synthetic_drive(out, n_training=n_training, n_test=n_test, seed=seed)
    print(
        f"wrote {counts['training']} training and {counts['test']} test synthetic fundus images "
        f"(DRIVE layout: images, 1st_manual, mask) to {out}"
    )


if __name__ == "__main__":
    fire.Fire(main)
