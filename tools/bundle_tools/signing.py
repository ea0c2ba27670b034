"""Signed zoo indexes: an Ed25519 key pair, a detached signature of ``index.json``, and its check before a download.

The signature file ``index.json.sig`` is JSON: ``payload`` (the sha256 of the exact bytes of ``index.json``, a
``serial`` that grows with every signing, the signing time and an expiry date) and ``signature``, the Ed25519
signature of the payload's canonical JSON, base64. A download checks, before it reads any entry of the index:

- the signature against a trusted public key (``--trusted_key``, else the file named by ``$MONAI_BUNDLE_ZOO_KEY``,
  else ``<config>/trusted_zoo_key.pub``, ``<config>`` being ``$XDG_CONFIG_HOME/monai-bundle-collection`` or
  ``~/.config/monai-bundle-collection``);
- the index's bytes against the signed sha256, so an entry changed after signing (a replaced zip with its sha256
  updated too) fails;
- the expiry, and roll-back: the highest serial seen for that key at that index URL is kept in
  ``<config>/zoo_seen.json``, and an index signed earlier than one already seen there (an old index replayed to mark
  an older version latest) is refused. A client
  that never saw the newer index cannot tell; the expiry (365 days by default) bounds how old a replay can be.

The cryptography is the ``cryptography`` package's; nothing of it is written here.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import os
import time
from pathlib import Path

from bundle_common.io import atomic_path, atomic_write_json

__all__ = [
    "SIGNATURE_SUFFIX",
    "SignatureError",
    "config_dir",
    "generate_key_pair",
    "load_private",
    "remember",
    "sign_index",
    "trusted_key_path",
    "verify_index",
]

SIGNATURE_SUFFIX = ".sig"
KEY_ENV = "MONAI_BUNDLE_ZOO_KEY"


class SignatureError(Exception):
    """An index whose signature cannot be trusted; the message says why and names the files."""


def config_dir() -> Path:
    """Where the user's trusted key and the serials seen are kept."""
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "monai-bundle-collection"


def trusted_key_path(explicit: str | os.PathLike | None = None) -> Path | None:
    """The public key to trust: ``explicit``, else ``$MONAI_BUNDLE_ZOO_KEY``, else ``<config>/trusted_zoo_key.pub``
    when it exists; ``None`` when none is configured."""
    if explicit:
        return Path(explicit)
    if os.environ.get(KEY_ENV):
        return Path(os.environ[KEY_ENV])
    default = config_dir() / "trusted_zoo_key.pub"
    return default if default.is_file() else None


def generate_key_pair(out: str | os.PathLike) -> tuple[Path, Path]:
    """Write ``out.private`` (PKCS#8 PEM, readable by its owner only) and ``out.public`` (PEM); refuse to overwrite."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    private_path, public_path = Path(f"{out}.private"), Path(f"{out}.public")
    for path in (private_path, public_path):
        if path.exists():
            raise SignatureError(f"{path} already exists; a key is never overwritten")
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    private_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(private_pem)
    with atomic_path(public_path) as tmp:
        tmp.write_bytes(public_pem)
    return private_path, public_path


def load_private(path: str | os.PathLike):
    """The Ed25519 private key in the PEM file ``path``."""
    path = Path(path)
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as e:
        raise SignatureError(f"{path}: not a readable private key ({e})") from e
    if not isinstance(key, Ed25519PrivateKey):
        raise SignatureError(f"{path}: not an Ed25519 private key")
    return key


def _load_public(path: Path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except (OSError, ValueError) as e:
        raise SignatureError(f"{path}: not a readable public key ({e})") from e
    if not isinstance(key, Ed25519PublicKey):
        raise SignatureError(f"{path}: not an Ed25519 public key")
    return key


def _fingerprint(public_key) -> str:
    from cryptography.hazmat.primitives import serialization

    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:32]


def _canonical(payload: dict) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode("utf-8")


def _parse_signature(data: bytes, where: str) -> tuple[dict, bytes, int, datetime.datetime]:
    """``(payload, signature, serial, expiry)`` of a signature file's bytes; ``where`` names the file in the error."""
    try:
        signed = json.loads(data.decode("utf-8"))
        payload, signature = signed["payload"], base64.b64decode(signed["signature"], validate=True)
        serial, expires = int(payload["serial"]), datetime.datetime.fromisoformat(payload["expires"])
        str(payload["index_sha256"])
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
        raise SignatureError(f"{where}: not a readable index signature ({e!r})") from e
    return payload, signature, serial, expires


def sign_index(index_file: str | os.PathLike, private_key: str | os.PathLike, valid_days: float = 365.0) -> Path:
    """Write ``index_file + ".sig"``: the signed sha256 of the index's bytes, a serial above that of the signature
    already there (and at least the current Unix time in microseconds), the signing time and an expiry ``valid_days``
    later."""
    index_file = Path(index_file)
    key = load_private(private_key)
    sig_file = Path(f"{index_file}{SIGNATURE_SUFFIX}")
    previous = _parse_signature(sig_file.read_bytes(), str(sig_file))[2] if sig_file.is_file() else 0
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    payload = {
        "index_sha256": hashlib.sha256(index_file.read_bytes()).hexdigest(),
        "serial": max(int(previous) + 1, time.time_ns() // 1000),  # microseconds: it grows between two signings
        "signed": now.isoformat(),
        "expires": (now + datetime.timedelta(days=valid_days)).isoformat(),
    }
    signature = base64.b64encode(key.sign(_canonical(payload))).decode("ascii")
    atomic_write_json(sig_file, {"payload": payload, "signature": signature})
    return sig_file


def _seen_file() -> Path:
    return config_dir() / "zoo_seen.json"


def verify_index(index_bytes: bytes, signature_bytes: bytes | None, public_key: str | os.PathLike, where: str) -> dict:
    """Check ``index_bytes`` (the index as fetched from ``where``) against its signature file's bytes and a trusted
    public key; refuse an expired index or one older than an index already seen at that URL. Returns the payload
    (call :func:`remember` once the download it allowed has succeeded)."""
    from cryptography.exceptions import InvalidSignature

    if signature_bytes is None:
        raise SignatureError(f"{where}: the index has no signature ({where}{SIGNATURE_SUFFIX} is missing)")
    public = _load_public(Path(public_key))
    payload, signature, serial, expires = _parse_signature(signature_bytes, f"{where}{SIGNATURE_SUFFIX}")
    try:
        public.verify(signature, _canonical(payload))
    except InvalidSignature as e:
        raise SignatureError(f"{where}: the signature is not by the trusted key {public_key}") from e
    if hashlib.sha256(index_bytes).hexdigest() != payload["index_sha256"]:
        raise SignatureError(f"{where}: the index was changed after it was signed")
    if expires < datetime.datetime.now(datetime.timezone.utc):
        raise SignatureError(f"{where}: the index's signature expired on {payload['expires']}")
    record = f"{_fingerprint(public)} {where}"  # one key may sign several zoos: each index URL is followed alone
    seen = _seen_serials().get(record, 0)
    if serial < seen:
        raise SignatureError(
            f"{where}: the index was signed before one already seen (serial {serial} < {seen}): "
            "an old index replayed, which could mark an older version latest"
        )
    return {**payload, "key": record}


def _seen_serials() -> dict:
    try:
        seen = json.loads(_seen_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return seen if isinstance(seen, dict) else {}


def remember(payload: dict) -> None:
    """Record the serial of a verified index, so that an older one is refused from now on."""
    seen = _seen_serials()
    if int(payload["serial"]) > int(seen.get(payload["key"], 0)):
        seen[payload["key"]] = int(payload["serial"])
        atomic_write_json(_seen_file(), seen)
