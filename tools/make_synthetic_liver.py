"""Write a synthetic dataset in the MSD ``Task03_Liver`` layout (abdominal-CT-like volumes, liver and tumour labels).

python tools/make_synthetic_liver.py --out data/liver_synthetic/Task03_Liver [--n_cases 4] [--shape "[64,64,40]"]
    [--spacing "[1.5,1.5,4.0]"] [--seed 0]
"""

from __future__ import annotations

import fire

from bundle_tools.data.synthetic_liver import write_synthetic_liver


def main(
    out: str,
    n_cases: int = 4,
    shape: tuple[int, int, int] = (64, 64, 40),
    spacing: tuple[float, float, float] = (1.5, 1.5, 4.0),
    seed: int = 0,
) -> None:
    names = write_synthetic_liver(out, n_cases=n_cases, shape=shape, spacing=spacing, seed=seed)
    print(
        f"wrote {len(names)} synthetic CT cases of {list(shape)} voxels at {list(spacing)} mm (Task03_Liver layout: "
        f"imagesTr, labelsTr, dataset.json) to {out}: {', '.join(names)}"
    )


if __name__ == "__main__":
    fire.Fire(main)
