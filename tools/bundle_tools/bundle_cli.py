"""Running ``python -m monai.bundle`` commands from Python, the way a user types them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

__all__ = ["REPO_ROOT", "bundle_args", "run_bundle", "run_workflow"]

REPO_ROOT = Path(__file__).resolve().parents[2]


def bundle_args(*args, **options) -> list[str]:
    """``bundle_args("run", config_file=c, epochs=2)`` -> ``["run", "--config_file", "c", "--epochs", "2"]``."""
    return [*map(str, args)] + [word for key, value in options.items() for word in (f"--{key}", str(value))]


def run_bundle(*args, capture: bool = True, check: bool = True, **options) -> subprocess.CompletedProcess:
    """Run ``python -m monai.bundle ARGS --KEY VALUE ...`` in a subprocess from the repository root.

    Args:
        capture: keep stdout/stderr in the result (text) instead of letting them through to the console.
        check: raise ``RuntimeError`` with the command and the end of its output when it exits non-zero.
    """
    words = bundle_args(*args, **options)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, "-m", "monai.bundle", *words], cwd=REPO_ROOT, capture_output=capture, text=True, env=env
    )
    if check and result.returncode != 0:
        output = f"\n--- stdout\n{result.stdout[-6000:]}\n--- stderr\n{result.stderr[-6000:]}" if capture else ""
        raise RuntimeError(f"python -m monai.bundle {' '.join(words)} exited with {result.returncode}{output}")
    return result


def run_workflow(bundle: str | os.PathLike, workflow: str, **options) -> subprocess.CompletedProcess:
    """``python -m monai.bundle run`` of ``bundle/configs/<workflow>.yaml`` with ``--bundle_root bundle`` and options
    (see :func:`run_bundle` for ``capture`` and ``check``)."""
    return run_bundle("run", config_file=Path(bundle) / "configs" / f"{workflow}.yaml", bundle_root=bundle, **options)
