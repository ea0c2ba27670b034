"""Model-zoo distribution of the bundles: package one as a zip, index a zoo folder, download one from an index.

    python tools/zoo.py package --bundle bundles/mnist_classification --out runs/zoo
    python tools/zoo.py index --zoo runs/zoo
    python tools/zoo.py download --name mnist_classification --index URL_OR_PATH/index.json [--version latest]
        [--dest .] [--replace]

The zip holds the bundle folder with bundle_common vendored inside it, so the downloaded folder runs with
`python -m monai.bundle run --config_file D/N/configs/inference.yaml --bundle_root D/N ...` and no install of this
repository. Errors (unknown bundle or version, checksum, unsafe or corrupt zip, unreachable server) exit with 1.
"""

import functools
import sys

import fire

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


def index(zoo: str) -> None:
    """Write ZOO/index.json listing every bundle zip in ZOO."""
    entries = write_index(zoo)
    for entry in entries.values():
        print(f"{entry['name']} {entry['version']}: {entry['url']} ({entry['size']} bytes, sha256 {entry['sha256']})")
    print(f"{len(entries)} bundle zip(s) indexed in {zoo}/index.json")


def download(
    name: str, index: str, version="latest", dest: str = ".", replace: bool = False, timeout: float = 60.0
) -> None:
    """Download bundle NAME (VERSION or latest) listed in INDEX (path or http(s) URL) into DEST/NAME."""
    target = download_bundle(name, index, _version_text(version), dest, replace=replace, timeout=timeout)
    print(f"{target}: {name} unpacked, sha256 checked")


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
    fire.Fire({f.__name__: _exit_on_zoo_error(f) for f in (package, index, download)})
