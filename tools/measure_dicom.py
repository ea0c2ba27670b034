"""Measure reading a DICOM CT series with MONAI's PydicomReader and ITKReader, and the liver cascade on it.

Each reader reads the series in a fresh Python process (wall time of the read, the process's peak memory, the voxels'
checksum and the affine); ITKReader only where ``itk`` imports (it is not a dependency of the collection). Before
them, the fine liver bundle's ``inference.yaml`` runs on a folder holding only that series (wall time of the command
and its peak memory). Results go to ``--out`` as JSON.

    python tools/measure_dicom.py --series ../shared/data/liver_dicom/3Dircadb1.1/PATIENT_DICOM \\
        --out runs/dicom_measure.json
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import fire

from bundle_common.io import atomic_write_json
from bundle_tools.bundle_cli import REPO_ROOT, run_workflow

FINE = REPO_ROOT / "bundles" / "liver_ct_fine_segmentation"

_READ = """
import hashlib, json, resource, sys, time
from monai.transforms import LoadImage
start = time.perf_counter()
image = LoadImage(reader=sys.argv[2], image_only=True)(sys.argv[1])
seconds = time.perf_counter() - start
voxels = image.numpy()
print(json.dumps({
    "seconds": round(seconds, 2),
    "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    "shape": list(voxels.shape),
    "sha256": hashlib.sha256(voxels.tobytes()).hexdigest(),
    "affine": [[round(float(v), 6) for v in row] for row in image.affine.numpy()],
}))
"""


def _read_with(series: Path, reader: str) -> dict:
    result = subprocess.run([sys.executable, "-c", _READ, str(series), reader], capture_output=True, text=True)
    if result.returncode != 0:
        return {"error": result.stderr.strip().splitlines()[-1]}
    return json.loads(result.stdout.strip().splitlines()[-1])


def _cascade(series: Path) -> dict:
    with tempfile.TemporaryDirectory() as work:
        input_dir = Path(work) / "in"
        input_dir.mkdir()
        (input_dir / series.name).symlink_to(series.resolve(), target_is_directory=True)
        start = time.perf_counter()
        run_workflow(FINE, "inference", input_dir=input_dir, output_dir=Path(work) / "out")  # raises if it fails
        seconds = time.perf_counter() - start
        written = sorted(p.name for p in (Path(work) / "out").iterdir())
    return {
        "seconds": round(seconds, 1),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
        "written": written,
    }


def main(series: str, out: str) -> None:
    """Measure both readers and the cascade on the series folder ``series``; write the results to ``out`` and print
    them."""
    series = Path(series)
    cascade = _cascade(series)  # first: the peak memory of children is that of the largest so far
    readers = {name: _read_with(series, name) for name in ("PydicomReader", "ITKReader")}
    found = [r for r in readers.values() if "sha256" in r]
    results = {
        "series": str(series),
        "files": sum(1 for p in series.iterdir() if p.is_file()),
        "readers": readers,
        "readers_agree": len(found) == 2
        and found[0]["sha256"] == found[1]["sha256"]
        and found[0]["affine"] == found[1]["affine"],
        "cascade": cascade,
    }
    atomic_write_json(out, results)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    fire.Fire(main)
