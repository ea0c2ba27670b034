"""Check every bundle's configs/metadata.json against common/schemas/metadata.schema.json (offline).

    python tools/check_metadata.py [--bundles_dir bundles]

Exits non-zero and lists the problems when any file fails. Online, MONAI's own check is
`python -m monai.bundle verify_metadata --meta_file B/configs/metadata.json --filepath schema.json`.
"""

import sys
from pathlib import Path

import fire

from bundle_tools.metadata import check_bundles


def main(bundles_dir: str = "bundles") -> None:
    problems = check_bundles(bundles_dir)
    for problem in problems:
        print(problem)
    n = len([p for p in Path(bundles_dir).iterdir() if p.is_dir()])
    print(f"{n} bundle metadata file(s) checked, {len(problems)} problem(s)")
    if problems:
        sys.exit(1)


if __name__ == "__main__":
    fire.Fire(main)
