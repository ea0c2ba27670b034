"""Write an MNIST-layout IDX dataset made from scikit-learn's bundled real handwritten digits.

python tools/make_digits_dataset.py --out data/digits_mnist [--test_fraction 0.2] [--seed 0]
"""

import fire

from bundle_tools.data.digits import write_digits_dataset


def main(out: str, test_fraction: float = 0.2, seed: int = 0) -> None:
    counts = write_digits_dataset(out, test_fraction=test_fraction, seed=seed)
    print(f"wrote {counts['train']} training and {counts['test']} test digits (MNIST IDX layout) to {out}")


if __name__ == "__main__":
    fire.Fire(main)
