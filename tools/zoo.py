"""Model-zoo distribution of the bundles: keys, a bundle zip, a signed index of a zoo folder, a checked download.

    python tools/zoo.py keygen --out keys/zoo                       # keys/zoo.private (secret), keys/zoo.public
    python tools/zoo.py package --bundle bundles/mnist_classification --out runs/zoo
    python tools/zoo.py index --zoo runs/zoo --sign_key keys/zoo.private [--valid_days 365]
    python tools/zoo.py download --name mnist_classification --index URL_OR_PATH/index.json [--version latest]
        [--dest .] [--replace] [--trusted_key keys/zoo.public | --allow_unsigned True]

The zip holds the bundle folder with bundle_common vendored inside it, so the downloaded folder runs with
`python -m monai.bundle run --config_file D/N/configs/inference.yaml --bundle_root D/N ...` and no install of this
repository. A download first checks the index's signature (index.json.sig) against the trusted public key:
--trusted_key, else the file named by $MONAI_BUNDLE_ZOO_KEY, else ~/.config/monai-bundle-collection/trusted_zoo_key.pub
($XDG_CONFIG_HOME if set); with none it refuses. Errors (no key, bad or missing signature, a replayed older index,
unknown bundle or version, checksum, unsafe or corrupt zip, unreachable server) exit with 1.
"""

import functools
import sys

import fire

from bundle_tools.signing import SignatureError, generate_key_pair
from bundle_tools.zoo import ZooError, download_bundle, package_bundle, write_index


def _version_text(version) -> str:
    if not isinstance(version, str):  # fire reads --version 1.10 as the number 1.1
        raise ZooError(f"--version {version!r} was read as a number; write it in full, e.g. 1.0.0 or latest")
    return version


def package(bundle: str, out: str) -> None:
    """Write OUT/<name>_v<version>.zip of the bundle folder BUNDLE (a no-op when the same content is there)."""
    result = package_bundle(bundle, out)
    state = "written" if result["written"] else "unchanged, already there"
    sizes = f"{result['bytes']:,} bytes, of which bundle_common {result['runtime_bytes']:,}"
    print(f"{result['path']}: {state} (sha256 {result['sha256']}, {sizes})")


def keygen(out: str) -> None:
    """Write the Ed25519 key pair OUT.private (keep it secret) and OUT.public (give it to the users)."""
    try:
        private, public = generate_key_pair(out)
    except SignatureError as e:
        raise ZooError(str(e)) from e
    print(f"{private}: private key, readable by you only; {public}: public key")


def index(zoo: str, sign_key: str | None = None, valid_days: float = 365.0) -> None:
    """Write ZOO/index.json listing every bundle zip in ZOO; with SIGN_KEY also ZOO/index.json.sig."""
    entries = write_index(zoo, sign_key=sign_key, valid_days=valid_days)
    for entry in entries.values():
        print(f"{entry['name']} {entry['version']}: {entry['url']} ({entry['size']} bytes, sha256 {entry['sha256']})")
    signed = f", signed ({zoo}/index.json.sig, valid {valid_days:g} days)" if sign_key else ", not signed"
    print(f"{len(entries)} bundle zip(s) indexed in {zoo}/index.json{signed}")


def download(
    name: str,
    index: str,
    version="latest",
    dest: str = ".",
    replace: bool = False,
    timeout: float = 60.0,
    trusted_key: str | None = None,
    allow_unsigned: bool = False,
) -> None:
    """Download bundle NAME (VERSION or latest) listed in INDEX (path or http(s) URL) into DEST/NAME, once the
    index's signature is checked against TRUSTED_KEY (default: $MONAI_BUNDLE_ZOO_KEY, else the user's
    ~/.config/monai-bundle-collection/trusted_zoo_key.pub)."""
    target = download_bundle(
        name,
        index,
        _version_text(version),
        dest,
        replace,
        timeout,
        trusted_key=trusted_key,
        allow_unsigned=allow_unsigned,
    )
    checked = "sha256 checked" if allow_unsigned else "signed index and sha256 checked"
    print(f"{target}: {name} unpacked, {checked}")


def _exit_on_zoo_error(function):
    @functools.wraps(function)
    def wrapped(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except ZooError as e:
            print(f"error: {e}", file=sys.stderr)
            sys.exit(1)

    return wrapped


if __name__ == "__main__":
    fire.Fire({f.__name__: _exit_on_zoo_error(f) for f in (keygen, package, index, download)})
