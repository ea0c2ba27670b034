"""The collection's main job on data it makes itself: each bundle's whole life, with a short summary.

python tools/demo.py [--work_dir runs/demo] [--epochs 3]
"""

import fire

from bundle_tools.demo import run_demo


def main(work_dir: str = "runs/demo", epochs: int = 3) -> None:
    run_demo(work_dir, epochs)


if __name__ == "__main__":
    fire.Fire(main)
