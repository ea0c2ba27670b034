"""Bundle distribution: model-zoo zips of the bundles, an index of a zoo folder, and a checked, safe download.

A bundle zip ``<name>_v<version>.zip`` holds one top-level folder ``<name>/`` (what ``monai.bundle.download``
extracts): the bundle's ``configs/``, ``docs/``, ``models/``, ``scripts/`` and ``LICENSE``, plus the runtime package
``bundle_common`` (what configs reference: readers, transforms, handlers, metrics, inferers, writers) copied in as
``<name>/bundle_common/``; the tooling (this package: zoo, benchmark, demo, generated data) stays home.
``python -m monai.bundle run`` puts the bundle folder on ``sys.path`` before it builds the components, so the
configs' ``bundle_common....`` targets import that copy, with no install of this repository.

The index ``index.json`` is keyed like the MONAI model zoo's ``model_info.json`` (``<name>_v<version>``); each entry
names the bundle, its version, description, MONAI and PyTorch versions, the zip's sha256, size and URL (relative
to the index). Only the standard library is used here (and ``bundle_common.io``).
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import shutil
import stat
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import warnings
import zipfile
import zlib
from pathlib import Path, PurePosixPath

import bundle_common
from bundle_common.io import atomic_write_json, publish_file

from . import signing

__all__ = [
    "INDEX_NAME",
    "ZooError",
    "bundle_members",
    "download_bundle",
    "package_bundle",
    "read_index",
    "read_signed_index",
    "select_entry",
    "version_key",
    "write_index",
    "zip_bundle_metadata",
]

INDEX_NAME = "index.json"
# top-level entries of a bundle folder that ship; anything else (runs/, eval/, predictions/, data/...) stays home
BUNDLE_ENTRIES = ("configs", "docs", "models", "scripts", "LICENSE")
# files never shipped, wherever they are: caches, hidden files, TorchScript exports and training checkpoints
EXCLUDED_PATTERNS = ("__pycache__", "*.pyc", ".*", "*.ts", "checkpoint_*.pt")
VENDORED_NAME = "bundle_common"
VENDORED_SUFFIXES = (".py",)  # the runtime package's code (it has no package data)
ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip can hold: the same content gives the same bytes
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*")
MAX_INDEX_BYTES = 16 * 2**20


class ZooError(Exception):
    """A bundle that cannot be packaged, indexed or downloaded; the message names the bundle, URL or member."""


def version_key(version: str) -> tuple:
    """Sort key of a version string: numeric parts as integers (``1.0.10 > 1.0.9``, ``1.0 == 1.0.0``); a suffix
    marks a pre-release, which sorts before the plain release (``1.0.0rc1 < 1.0.0``)."""
    match = re.fullmatch(r"(\d+(?:\.\d+)*)[.+-]?(.*)", str(version))
    if match is None:
        raise ZooError(f"{version!r} is not a version number such as 1.0.2")
    release = [int(part) for part in match[1].split(".")]
    while len(release) > 1 and release[-1] == 0:
        release.pop()
    return tuple(release), match[2] == "", match[2]


def _check_name(name: str, what: str) -> str:
    if not isinstance(name, str) or not SAFE_NAME.fullmatch(name):
        raise ZooError(f"{what} {name!r} is not a plain name (letters, digits, '_', '.', '+', '-')")
    return name


def _excluded(name: str) -> bool:
    return any(PurePosixPath(name).match(pattern) for pattern in EXCLUDED_PATTERNS)


def _walk_files(root: Path) -> list[Path]:
    """Regular files under ``root`` (symlinked files are read through), skipping excluded names, sorted."""
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not _excluded(d)]
        found += [Path(folder, f) for f in files if not _excluded(f) and Path(folder, f).is_file()]
    return sorted(found)


def bundle_members(bundle: str | os.PathLike) -> list[tuple[str, Path]]:
    """``(name in the zip, file)`` pairs of a bundle zip, sorted by name: the bundle's shipped files under
    ``<name>/`` and the runtime package's ``.py`` files under ``<name>/bundle_common/``."""
    bundle = Path(bundle).resolve()
    name = _check_name(bundle.name, "bundle folder name")
    if not (bundle / "configs" / "metadata.json").is_file():
        raise ZooError(f"{bundle} is not a bundle: it has no configs/metadata.json")
    members = {}
    for entry in BUNDLE_ENTRIES:
        path = bundle / entry
        files = _walk_files(path) if path.is_dir() else [path] if path.is_file() else []
        members.update({f"{name}/{f.relative_to(bundle).as_posix()}": f for f in files})
    package = Path(bundle_common.__file__).resolve().parent
    for f in _walk_files(package):
        if f.suffix in VENDORED_SUFFIXES:
            members[f"{name}/{VENDORED_NAME}/{f.relative_to(package).as_posix()}"] = f
    return sorted(members.items())


def _sha256(source) -> str:
    """The sha256 of a file, given as a path or as an open binary file (read from where it stands)."""
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as f:
            return _sha256(f)
    digest = hashlib.sha256()
    for block in iter(lambda: source.read(1 << 20), b""):
        digest.update(block)
    return digest.hexdigest()


def _write_zip(path: Path, members: list[tuple[str, Path]]) -> None:
    """A zip whose bytes depend only on the members' names and content: fixed time, mode and order."""
    with zipfile.ZipFile(path, "w") as zf:
        for arcname, source in members:
            info = zipfile.ZipInfo(arcname, date_time=ZIP_TIME)
            info.create_system = 3  # unix, so that external_attr holds a file mode
            info.external_attr = (stat.S_IFREG | 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            info.file_size = source.stat().st_size  # decides zip64 before streaming
            with open(source, "rb") as src, zf.open(info, "w") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)


def _read_local_index(zoo: Path) -> dict:
    path = zoo / INDEX_NAME
    if not path.is_file():
        return {}
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ZooError(f"{path} is not a readable index: {e}") from e
    if not isinstance(index, dict) or not all(isinstance(e, dict) for e in index.values()):
        raise ZooError(f"{path} is not an index: expected a JSON object of bundle entries")
    return index


def _refuse_changed(key: str, sha256: str, published: str | None, where: str) -> None:
    if published is not None and published != sha256:
        raise ZooError(
            f"{key} is already published in {where} with different content (sha256 {published}, now {sha256}); "
            "a published version never changes: raise the version (and its changelog) in configs/metadata.json"
        )


def package_bundle(bundle: str | os.PathLike, out: str | os.PathLike) -> dict:
    """Write ``out/<name>_v<version>.zip`` for the bundle folder ``bundle``.

    Returns ``{"path", "name", "version", "sha256", "written", "bytes", "runtime_bytes"}``: ``written`` is False when
    that zip already held the same content (a no-op); ``bytes`` is the zip's size, ``runtime_bytes`` the compressed
    size of the vendored ``bundle_common`` in it. Raises :class:`ZooError` when the version is already in ``out``
    (zip or index) with different content.
    """
    members = bundle_members(bundle)
    name = members[0][0].split("/")[0]
    meta_file = Path(bundle) / "configs" / "metadata.json"
    try:
        version = json.loads(meta_file.read_text(encoding="utf-8"))["version"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ZooError(f"{meta_file}: cannot read the bundle's version: {e!r}") from e
    _check_name(version, f"{name}: version")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    key = f"{name}_v{version}"
    target = out / f"{key}.zip"
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=out)
    os.close(fd)
    try:
        _write_zip(Path(tmp), members)
        sha256 = _sha256(tmp)
        _refuse_changed(key, sha256, _read_local_index(out).get(key, {}).get("sha256"), str(out / INDEX_NAME))
        written = not target.exists()
        if written:
            publish_file(tmp, target)
        else:
            _refuse_changed(key, sha256, _sha256(target), str(target))
    finally:
        Path(tmp).unlink(missing_ok=True)
    with zipfile.ZipFile(target) as zf:
        vendored = f"{name}/{VENDORED_NAME}/"
        runtime_bytes = sum(i.compress_size for i in zf.infolist() if i.filename.startswith(vendored))
    return {"path": target, "name": name, "version": version, "sha256": sha256, "written": written,
            "bytes": target.stat().st_size, "runtime_bytes": runtime_bytes}  # fmt: skip


def zip_bundle_metadata(zf: zipfile.ZipFile, where: str) -> tuple[str, dict]:
    """The top-level folder name and ``configs/metadata.json`` of an open bundle zip (``where`` names it in errors)."""
    names = zf.namelist()
    tops = {n.split("/")[0] for n in names}
    if len(tops) != 1 or any("/" not in n for n in names):
        raise ZooError(f"{where}: not a bundle zip: expected one top-level folder, found {sorted(tops)[:5]}")
    top = tops.pop()
    try:
        metadata = json.loads(zf.read(f"{top}/configs/metadata.json"))
    except KeyError as e:
        raise ZooError(f"{where}: not a bundle zip: no {top}/configs/metadata.json") from e
    except (ValueError, zipfile.BadZipFile, OSError) as e:
        raise ZooError(f"{where}: unreadable {top}/configs/metadata.json: {e}") from e
    if not isinstance(metadata, dict) or not isinstance(metadata.get("version"), str):
        raise ZooError(f"{where}: {top}/configs/metadata.json has no version string")
    return top, metadata


def write_index(zoo: str | os.PathLike, sign_key: str | os.PathLike | None = None, valid_days: float = 365.0) -> dict:
    """Write ``zoo/index.json`` describing every ``*.zip`` in ``zoo``, and return it; with ``sign_key`` (an Ed25519
    private key from :func:`bundle_tools.signing.generate_key_pair`) also its signature ``zoo/index.json.sig``, valid
    ``valid_days``.

    Raises :class:`ZooError` for a zip that is not a bundle zip, one whose file name is not
    ``<name>_v<version>.zip`` of its content, or one whose content differs from what the old index published.
    """
    zoo = Path(zoo)
    if not zoo.is_dir():
        raise ZooError(f"{zoo}: no such zoo folder")
    old = _read_local_index(zoo)
    index = {}
    for path in sorted(zoo.glob("*.zip")):
        try:
            with zipfile.ZipFile(path) as zf:
                name, metadata = zip_bundle_metadata(zf, str(path))
        except (zipfile.BadZipFile, OSError) as e:
            raise ZooError(f"{path}: not a valid zip: {e}") from e
        key = f"{name}_v{metadata['version']}"
        if path.name != f"{key}.zip":
            raise ZooError(f"{path}: holds {name} version {metadata['version']}, so it should be named {key}.zip")
        sha256 = _sha256(path)
        _refuse_changed(key, sha256, old.get(key, {}).get("sha256"), str(zoo / INDEX_NAME))
        index[key] = {
            "name": name,
            "version": metadata["version"],
            "title": metadata.get("name", name),
            "description": metadata.get("description", ""),
            "monai_version": metadata.get("monai_version"),
            "pytorch_version": metadata.get("pytorch_version"),
            "sha256": sha256,
            "size": path.stat().st_size,
            "url": path.name,
        }
    if sign_key is not None:
        signing.load_private(sign_key)  # a bad key fails before the index changes
    atomic_write_json(zoo / INDEX_NAME, index)
    if sign_key is not None:
        try:
            signing.sign_index(zoo / INDEX_NAME, sign_key, valid_days)
        except signing.SignatureError as e:
            raise ZooError(str(e)) from e
    return index


def _as_url(location: str | os.PathLike) -> str:
    """An http(s) or file URL as given, or a local path as a file URL."""
    text = str(location)
    scheme = urllib.parse.urlsplit(text).scheme.lower()
    if re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", text):
        if scheme not in ("http", "https", "file"):
            raise ZooError(f"{text}: only http(s) URLs and local paths are supported")
        return text
    return Path(text).resolve().as_uri()


def _fetch(url: str, out, limit: int, timeout: float) -> int:
    """Copy ``url`` into the open binary file ``out``; refuse more than ``limit`` bytes; return the byte count."""
    count = 0
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            while block := response.read(1 << 20):
                count += len(block)
                if count > limit:
                    raise ZooError(f"{url}: more than the {limit} bytes expected")
                out.write(block)
    except urllib.error.HTTPError as e:
        raise ZooError(f"{url}: HTTP error {e.code} {e.reason}") from e
    except urllib.error.URLError as e:
        raise ZooError(f"{url}: cannot be reached ({e.reason})") from e
    except (OSError, http.client.HTTPException) as e:
        raise ZooError(f"{url}: download broke off ({e!r})") from e
    return count


def _fetch_bytes(url: str, limit: int, timeout: float, missing_ok: bool = False) -> bytes | None:
    """The bytes at ``url`` (at most ``limit``); ``None`` for a missing file when ``missing_ok``."""
    with tempfile.TemporaryFile() as f:
        try:
            _fetch(url, f, limit, timeout)
        except ZooError as e:
            cause = e.__cause__
            gone = isinstance(cause, urllib.error.HTTPError) and cause.code == 404
            gone = gone or (isinstance(cause, urllib.error.URLError) and isinstance(cause.reason, FileNotFoundError))
            if missing_ok and gone:
                return None
            raise
        f.seek(0)
        return f.read()


def _parse_index(data: bytes, url: str) -> dict:
    try:
        entries = json.loads(data.decode("utf-8"))
    except ValueError as e:
        raise ZooError(f"{url}: not a JSON index: {e}") from e
    if not isinstance(entries, dict) or not all(isinstance(e, dict) for e in entries.values()):
        raise ZooError(f"{url}: not an index: expected a JSON object of bundle entries")
    return entries


def read_index(index: str | os.PathLike, timeout: float = 60.0) -> dict:
    """The entries of an ``index.json`` given as a local path or an http(s) URL (its signature is not checked:
    :func:`download_bundle` checks it)."""
    url = _as_url(index)
    return _parse_index(_fetch_bytes(url, MAX_INDEX_BYTES, timeout), url)


def read_signed_index(
    index: str | os.PathLike, trusted_key: str | os.PathLike | None, allow_unsigned: bool, timeout: float = 60.0
) -> tuple[dict, dict | None]:
    """The entries of an index whose signature (``index.json.sig`` beside it) is by the trusted key
    (:mod:`bundle_tools.signing`), before any entry is read; and the signed payload, to :func:`signing.remember`
    once the download succeeded. ``allow_unsigned``: no check at all, with a warning."""
    url = _as_url(index)
    key = signing.trusted_key_path(trusted_key)
    if allow_unsigned:
        message = f"{url}: the index's signature is not checked (allow_unsigned): its zips are not verified"
        warnings.warn(message, stacklevel=2)
    elif key is None:
        raise ZooError(
            "no trusted zoo key: pass --trusted_key K.public, or name the file in $MONAI_BUNDLE_ZOO_KEY, or put it at "
            f"{signing.config_dir() / 'trusted_zoo_key.pub'}; --allow_unsigned True downloads without the check"
        )
    data = _fetch_bytes(url, MAX_INDEX_BYTES, timeout)
    payload = None
    if not allow_unsigned:
        signature = _fetch_bytes(url + signing.SIGNATURE_SUFFIX, 1 << 16, timeout, missing_ok=True)
        try:
            payload = signing.verify_index(data, signature, key, url)
        except signing.SignatureError as e:
            raise ZooError(str(e)) from e
    return _parse_index(data, url), payload


def select_entry(entries: dict, name: str, version: str = "latest", where: str = "the index") -> dict:
    """The index entry of bundle ``name`` at ``version``; ``"latest"`` is the highest by :func:`version_key`."""
    versions = {e.get("version"): e for e in entries.values() if e.get("name") == name}
    if not versions:
        known = sorted({str(e.get("name")) for e in entries.values()})
        raise ZooError(f"no bundle named {name!r} in {where}; it lists: {', '.join(known) or 'nothing'}")
    if str(version) == "latest":
        entry = versions[max(versions, key=version_key)]
    elif str(version) in versions:
        entry = versions[str(version)]
    else:
        listed = ", ".join(sorted(map(str, versions), key=version_key))
        raise ZooError(f"{name}: no version {version!r} in {where}; it lists: {listed}")
    if not (
        isinstance(entry.get("url"), str)
        and isinstance(entry.get("size"), int)
        and re.fullmatch(r"[0-9a-f]{64}", str(entry.get("sha256")))
    ):
        raise ZooError(f"{name} {entry.get('version')}: the entry in {where} lacks a url, size or sha256")
    return entry


def _checked_members(zf: zipfile.ZipFile, name: str, where: str) -> list[zipfile.ZipInfo]:
    """The members of a bundle zip, each a regular file or folder at a relative path under ``name/``."""
    seen = set()
    for info in zf.infolist():
        member = info.filename
        parts = member.rstrip("/").split("/")
        problem = None
        if member.startswith("/") or "\\" in member or re.match(r"[A-Za-z]:", member) or "\0" in member:
            problem = "an absolute or non-portable path"
        elif any(part in ("", ".", "..") for part in parts):
            problem = "a path with '..', '.' or empty components"
        elif parts[0] != name:
            problem = f"a path outside the bundle folder {name}/"
        elif stat.S_IFMT(info.external_attr >> 16) not in (0, stat.S_IFREG, stat.S_IFDIR):
            kind = "a symbolic link" if stat.S_ISLNK(info.external_attr >> 16) else "not a regular file or folder"
            problem = kind
        elif member.rstrip("/") in seen:
            problem = "a duplicate"
        if problem:
            raise ZooError(f"{where}: unsafe member {member!r}: {problem}; nothing was extracted")
        seen.add(member.rstrip("/"))
    return zf.infolist()


def _extract(zf: zipfile.ZipFile, members: list[zipfile.ZipInfo], root: Path) -> None:
    root = root.resolve()
    for info in members:
        path = root.joinpath(*info.filename.rstrip("/").split("/"))
        if not path.resolve().is_relative_to(root):
            raise ZooError(f"unsafe member {info.filename!r}: it would land outside {root}")
        if info.is_dir():
            path.mkdir(parents=True, exist_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        with zf.open(info) as src, open(path, "xb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)


def _make_parents(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; return those created, deepest first."""
    created = []
    for path in [folder, *folder.parents]:
        if path.exists():
            break
        created.append(path)
    folder.mkdir(parents=True, exist_ok=True)
    return created


def download_bundle(
    name: str,
    index: str | os.PathLike,
    version: str = "latest",
    dest: str | os.PathLike = ".",
    replace: bool = False,
    timeout: float = 60.0,
    trusted_key: str | os.PathLike | None = None,
    allow_unsigned: bool = False,
) -> Path:
    """Download bundle ``name`` at ``version`` (or ``"latest"``) listed in ``index`` (local path or http(s) URL of
    an ``index.json``) and unpack it as ``dest/name``; return that folder.

    The index must be signed by the trusted key (``trusted_key``, else the user's default, see
    :mod:`bundle_tools.signing`): its signature, its bytes, its expiry and its age against the indexes already seen
    are checked before any entry is read (:func:`read_signed_index`); ``allow_unsigned=True`` skips that, with a
    warning.

    The zip goes to a temporary file; its size and sha256 are checked against the index, then every member (a
    regular file or folder at a relative path under ``name/``, no ``..``, no links) and every CRC, all before
    anything is written under ``dest``. It is unpacked into a temporary folder beside ``dest/name`` and renamed into
    place. An existing ``dest/name`` is refused, or with ``replace=True`` swapped out only once the new copy is
    complete. On any failure :class:`ZooError` is raised and ``dest`` is left as it was.
    """
    name = _check_name(name, "bundle name")
    index_url = _as_url(index)
    entries, signed = read_signed_index(index_url, trusted_key, allow_unsigned, timeout)
    entry = select_entry(entries, name, version, index_url)
    version = entry["version"]
    dest = Path(dest)
    target = dest / name
    if (target.exists() or target.is_symlink()) and not replace:
        raise ZooError(f"{target} already exists; remove it or pass replace=True (--replace) to swap it out")
    url = urllib.parse.urljoin(index_url, entry["url"])
    allowed = ("http", "https") if urllib.parse.urlsplit(index_url).scheme != "file" else ("http", "https", "file")
    if urllib.parse.urlsplit(url).scheme not in allowed:
        raise ZooError(f"{name} {version}: the index at {index_url} points at {url}, which is not allowed")
    with tempfile.TemporaryFile(prefix=f"{name}_v{version}.", suffix=".zip") as f:
        size = _fetch(url, f, entry["size"], timeout)
        if size != entry["size"]:
            raise ZooError(f"{url}: truncated download, {size} of {entry['size']} bytes")
        f.seek(0)
        digest = _sha256(f)
        if digest != entry["sha256"]:
            raise ZooError(f"{url}: checksum mismatch, sha256 {digest} but the index says {entry['sha256']}")
        f.seek(0)
        try:
            with zipfile.ZipFile(f) as zf:
                members = _checked_members(zf, name, url)
                _, metadata = zip_bundle_metadata(zf, url)
                if metadata["version"] != version:
                    raise ZooError(f"{url}: holds version {metadata['version']}, the index says {version}")
                bad = zf.testzip()
                if bad is not None:
                    raise ZooError(f"{url}: corrupt zip, bad CRC in member {bad!r}")
                _install(zf, members, name, target, replace)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError) as e:
            raise ZooError(f"{url}: corrupt or truncated zip ({e})") from e
    if signed is not None:
        signing.remember(signed)
    return target


def _install(zf: zipfile.ZipFile, members: list[zipfile.ZipInfo], name: str, target: Path, replace: bool) -> None:
    """Unpack into a temporary folder beside ``target``, then rename into place; undo everything on failure."""
    created = _make_parents(target.parent)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.download-", dir=target.parent))
    try:
        _extract(zf, members, staging)
        if target.exists() or target.is_symlink():
            if not replace:
                raise ZooError(f"{target} appeared during the download; nothing was changed")
            old = staging / ".old"
            os.rename(target, old)
            try:
                os.rename(staging / name, target)
            except BaseException:
                os.rename(old, target)
                raise
        else:
            os.rename(staging / name, target)
    except BaseException as e:
        shutil.rmtree(staging, ignore_errors=True)
        for path in created:
            if path.exists() and not any(path.iterdir()):
                path.rmdir()
        if isinstance(e, OSError):
            raise ZooError(f"could not unpack {name} into {target}: {e}") from e
        raise
    shutil.rmtree(staging, ignore_errors=True)
