"""Write a synthetic dataset in the Kaggle LGG ``kaggle_3m`` layout (brain-MRI-like slices and tumour masks).

python tools/make_synthetic_lgg.py --out data/lgg_synthetic [--n_patients 4] [--n_slices 12] [--seed 0]
"""

import fire

from bundle_tools.data.synthetic_lgg import write_synthetic_lgg


def main(out: str, n_patients: int = 4, n_slices: int = 12, seed: int = 0, n_without_tumour: int = 0) -> None:
    names = write_synthetic_lgg(
        out, n_patients=n_patients, n_slices=n_slices, seed=seed, n_without_tumour=n_without_tumour
    )
    print(
        f"wrote {len(names)} synthetic patients x {n_slices} slices (kaggle_3m layout: <PATIENT>/<PATIENT>_<n>.tif "
        f"and _mask.tif; {n_without_tumour} without tumour) to {out}: {', '.join(names)}"
    )


if __name__ == "__main__":
    fire.Fire(main)
