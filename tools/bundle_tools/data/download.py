"""Downloading files from a list of mirrors, checked by the sha256 of their (uncompressed) content."""

from __future__ import annotations

import gzip
import hashlib
import os
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from bundle_common.io import atomic_write_bytes

__all__ = ["ChecksumError", "download_verified"]


class ChecksumError(ValueError):
    """Downloaded content whose sha256 differs from the published one."""


def _content_sha256(data: bytes) -> str:
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return hashlib.sha256(data).hexdigest()


def download_verified(
    file_name: str, mirrors: Sequence[str], sha256: str, dest_dir: str | os.PathLike, timeout: float = 60.0
) -> Path:
    """Fetch ``file_name`` from the first mirror that serves content with the given sha256, into ``dest_dir``.

    ``sha256`` is that of the uncompressed content; the file is written as served (a ``.gz`` stays gzipped) via
    a temporary file, so a failed download leaves nothing behind. A file already present with the right content
    is kept.

    Raises:
        RuntimeError: no mirror served the right content; the message lists what each mirror did.
    """
    dest = Path(dest_dir) / file_name
    if dest.is_file():
        try:
            if _content_sha256(dest.read_bytes()) == sha256:
                return dest
        except (OSError, EOFError):
            pass
    failures = []
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + file_name
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                data = response.read()
            found = _content_sha256(data)
        except (urllib.error.URLError, OSError, EOFError) as e:
            failures.append(f"{url}: {e}")
            continue
        if found != sha256:
            failures.append(f"{url}: content sha256 {found} != expected {sha256}")
            continue
        return atomic_write_bytes(dest, data)
    raise RuntimeError(f"could not download {file_name} with sha256 {sha256}:\n  " + "\n  ".join(failures))
