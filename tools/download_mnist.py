"""Download MNIST's four IDX files from a list of mirrors, checking the sha256 of their uncompressed content.

python tools/download_mnist.py --out data/mnist
"""

import fire

from bundle_common.data.mnist import MNIST_MIRRORS, MNIST_SHA256
from bundle_tools.data.download import download_verified


def main(out: str, mirrors: tuple = MNIST_MIRRORS, timeout: float = 60.0) -> None:
    for name, sha256 in MNIST_SHA256.items():
        path = download_verified(f"{name}.gz", mirrors, sha256, out, timeout=timeout)
        print(f"{path}: sha256 of content OK")


if __name__ == "__main__":
    fire.Fire(main)
