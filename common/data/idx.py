"""The IDX file format (LeCun's MNIST files): read and write, ``.gz`` or raw, with checks that name the file."""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from ..errors import BundleInputError

__all__ = ["IdxFormatError", "read_idx", "write_idx", "IDX_UBYTE"]

IDX_UBYTE = 0x08
_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_GZIP_MAGIC = b"\x1f\x8b"


class IdxFormatError(BundleInputError):
    """An IDX file that is not what it claims to be; the message names the file and the problem."""


def _read_bytes(path: Path) -> bytes:
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] != _GZIP_MAGIC:
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as e:
        raise IdxFormatError(f"{path}: corrupt or truncated gzip data ({e}).") from e


def read_idx(path: str | os.PathLike, ndim: int | None = None) -> np.ndarray:
    """Read one IDX file (gzip-compressed or raw, told apart by content) into a numpy array.

    Args:
        path: the file.
        ndim: the number of dimensions the caller expects (3 for images, 1 for labels); ``None`` accepts any.

    Raises:
        FileNotFoundError: the file does not exist.
        IdxFormatError: wrong magic number, unexpected number of dimensions, or data shorter/longer than the
            header says.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such IDX file.")
    data = _read_bytes(path)
    if len(data) < 4:
        raise IdxFormatError(f"{path}: {len(data)} bytes is too short for an IDX header.")
    zero, type_code, n_dims = struct.unpack(">HBB", data[:4])
    if zero != 0 or type_code not in _DTYPES or n_dims == 0:
        raise IdxFormatError(
            f"{path}: wrong magic number 0x{data[:4].hex()} (expected 0x0000TTNN with a known type TT and NN "
            "dimensions); this is not an IDX file."
        )
    if ndim is not None and n_dims != ndim:
        raise IdxFormatError(f"{path}: has {n_dims} dimensions, expected {ndim} (magic 0x{data[:4].hex()}).")
    header_len = 4 + 4 * n_dims
    if len(data) < header_len:
        raise IdxFormatError(f"{path}: truncated header ({len(data)} bytes, needs {header_len}).")
    shape = struct.unpack(f">{n_dims}I", data[4:header_len])
    dtype = np.dtype(_DTYPES[type_code])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    found = len(data) - header_len
    if found < expected:
        raise IdxFormatError(f"{path}: truncated: header says shape {shape} ({expected} bytes), found {found} bytes.")
    if found > expected:
        raise IdxFormatError(f"{path}: {found - expected} unexpected bytes after the {shape} data the header declares.")
    array = np.frombuffer(data, dtype=dtype, offset=header_len).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=True)


def write_idx(path: str | os.PathLike, array: np.ndarray, compress: bool | None = None) -> Path:
    """Write a uint8 array as an IDX file; gzip it when ``compress`` is true or ``path`` ends with ``.gz``."""
    path = Path(path)
    array = np.ascontiguousarray(array)
    if array.dtype != np.uint8:
        raise ValueError(f"{path}: write_idx writes uint8 arrays only, got {array.dtype}.")
    payload = struct.pack(">HBB", 0, IDX_UBYTE, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    payload += array.tobytes()
    if compress or (compress is None and path.suffix == ".gz"):
        payload = gzip.compress(payload, mtime=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(payload)
    return path
