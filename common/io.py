"""Writing files so that a reader never sees half of one."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# Read once, when the package is imported: reading it means setting it, which would race with any other thread (the
# checkpoint writer's, a loader's) creating a file at that moment.
_UMASK = _read_umask()


def publish_file(tmp: str, path: Path) -> None:
    """Give a finished temporary file the permissions a plain ``open(path, "w")`` would (``mkstemp`` makes it
    owner-only), then rename it into place."""
    os.chmod(tmp, 0o666 & ~_UMASK)
    os.replace(tmp, path)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield the path of a temporary file (name ending in ``suffix``) in ``path``'s folder to write; when the block
    ends it is renamed into place with the usual permissions (:func:`publish_file`), and removed if the block raises,
    so ``path`` is either the old file or the whole new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        publish_file(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file in the same folder, then rename it into place."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    return Path(path)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder, then rename it into place."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as indented JSON, atomically (see :func:`atomic_write_text`)."""
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def atomic_write_csv(path: str | os.PathLike, rows: Iterable[Mapping[str, Any]]) -> Path:
    """Write dict rows as CSV (columns in order of first appearance), atomically (see :func:`atomic_write_text`)."""
    rows = list(rows)
    columns = list(dict.fromkeys(key for row in rows for key in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return atomic_write_text(path, buffer.getvalue())


def atomic_save_picture(picture, path: str | os.PathLike, **options) -> Path:
    """Save a PIL image (``options`` go to ``Image.save``, e.g. ``format="PNG"``) through a temporary file, then
    rename it into place."""
    with atomic_path(path) as tmp:
        picture.save(tmp, **options)
    return Path(path)


@contextlib.contextmanager
def staged_folder(out_dir: str | os.PathLike, what: str) -> Iterator[Path]:
    """Yield a fresh folder beside ``out_dir`` to write ``what`` (e.g. "the synthetic LGG data") into; it becomes
    ``out_dir`` when the block ends, and is removed if the block raises, so no partial folder is ever left behind.

    Raises:
        FileExistsError: ``out_dir`` exists and is not an empty folder (checked before anything is written).
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not (out_dir.is_dir() and not any(out_dir.iterdir())):
        raise FileExistsError(f"{out_dir} exists and is not an empty folder; not writing {what} there")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = out_dir.parent / f".{out_dir.name}.partial-{uuid.uuid4().hex[:12]}"
    staging.mkdir()
    try:
        yield staging
        if out_dir.is_dir():
            out_dir.rmdir()  # empty, checked above; fails rather than merge if something appeared since
        staging.rename(out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
