"""Model-zoo distribution: package a bundle, index a zoo, serve it over real HTTP on 127.0.0.1, download it safely,
and run the downloaded bundle with no install of this repository."""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import re
import shutil
import socket
import stat
import subprocess
import sys
import sysconfig
import tempfile
import threading
import zipfile
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from PIL import Image

from bundle_tools.bundle_cli import REPO_ROOT, bundle_args
from bundle_tools.signing import generate_key_pair, sign_index
from bundle_tools.zoo import (
    ZooError,
    bundle_members,
    download_bundle,
    package_bundle,
    select_entry,
    version_key,
    write_index,
)
from tests.conftest import read_csv_rows

BUNDLE = REPO_ROOT / "bundles" / "mnist_classification"
NAME = BUNDLE.name
VERSION = json.loads((BUNDLE / "configs" / "metadata.json").read_text())["version"]
COMMON = REPO_ROOT / "common"


KEYS: dict[str, Path] = {}  # the zoo's signing key pair, made once for this module


@pytest.fixture(scope="module", autouse=True)
def zoo_keys(tmp_path_factory):
    """An Ed25519 key pair that signs every index here, trusted through $MONAI_BUNDLE_ZOO_KEY, and a user config
    folder of this module's own (the serials seen go there), for this process and the command lines it starts."""
    folder = tmp_path_factory.mktemp("keys")
    KEYS["private"], KEYS["public"] = generate_key_pair(folder / "zoo")
    saved = {k: os.environ.get(k) for k in ("MONAI_BUNDLE_ZOO_KEY", "XDG_CONFIG_HOME")}
    os.environ["MONAI_BUNDLE_ZOO_KEY"] = str(KEYS["public"])
    os.environ["XDG_CONFIG_HOME"] = str(folder / "config")
    yield KEYS
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def signed_index(zoo: Path) -> dict:
    return write_index(zoo, sign_key=KEYS["private"])


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tree(folder: Path) -> dict | None:
    """Everything under ``folder``, hidden entries included: relative path -> "dir" or the file's sha256."""
    if not folder.exists():
        return None
    return {
        p.relative_to(folder).as_posix(): "dir" if p.is_dir() and not p.is_symlink() else sha256(p)
        for p in sorted(folder.rglob("*"))
    }


def expected_bundle_files() -> dict[str, str]:
    """What the unpacked bundle folder must hold: the shipped bundle files and common/'s code as bundle_common/."""
    shipped = ["LICENSE", "docs/README.md", "models/model.pt"]
    shipped += [f"configs/{p.name}" for p in (BUNDLE / "configs").iterdir() if p.is_file()]
    files = {rel: sha256(BUNDLE / rel) for rel in shipped}
    for p in COMMON.rglob("*"):
        if p.is_file() and p.suffix == ".py" and "__pycache__" not in p.parts:
            files[f"bundle_common/{p.relative_to(COMMON).as_posix()}"] = sha256(p)
    return files


def zoo_cli(*args, **options) -> subprocess.CompletedProcess:
    """``python tools/zoo.py ARGS --KEY VALUE ...``."""
    command = [sys.executable, str(REPO_ROOT / "tools" / "zoo.py"), *bundle_args(*args, **options)]
    return subprocess.run(command, capture_output=True, text=True)


@contextmanager
def serving(folder: Path):
    """A real HTTP server on 127.0.0.1 (ephemeral port) serving ``folder``; yields its base URL."""

    class QuietHandler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=str(folder)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()


def python_without_this_repository(tmp_path: Path) -> tuple[str, dict, Path]:
    """(interpreter, environment, working folder): a Python that sees MONAI, torch and the rest of the project's
    environment, but not this repository, run from a folder outside it."""
    env_dir = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True)
    python = str(env_dir / "bin" / "python")
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], capture_output=True, text=True
    ).stdout.strip()
    Path(purelib, "project_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    work = tmp_path / "work"
    work.mkdir()
    assert not work.resolve().is_relative_to(REPO_ROOT)
    absent = subprocess.run([python, "-c", "import bundle_common"], cwd=work, env=env, capture_output=True, text=True)
    assert absent.returncode != 0 and "No module named 'bundle_common'" in absent.stderr
    return python, env, work


@pytest.fixture(scope="module")
def www(tmp_path_factory):
    """(served folder, its URL)."""
    root = tmp_path_factory.mktemp("www")
    with serving(root) as url:
        yield root, url


@pytest.fixture(scope="module")
def published(www):
    """The real MNIST bundle packaged and indexed with the command line into www/zoo: (zoo folder, index URL)."""
    root, url = www
    zoo = root / "zoo"
    index = bundle_args("index", zoo=zoo, sign_key=KEYS["private"])
    for words in (bundle_args("package", bundle=BUNDLE, out=zoo), index):
        result = zoo_cli(*words)
        assert result.returncode == 0, result.stderr
    return zoo, f"{url}zoo/index.json"


@pytest.fixture(scope="module")
def downloaded(published, tmp_path_factory):
    """The bundle downloaded over HTTP from the published index: the folder holding ``NAME/``."""
    dest = tmp_path_factory.mktemp("downloaded")
    download_bundle(NAME, published[1], VERSION, dest)
    return dest


@pytest.fixture()
def systmp(tmp_path, monkeypatch):
    """The system temporary folder, redirected so that a test can see that nothing is left in it."""
    folder = tmp_path / "systmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


# packaging and indexing


def test_zip_has_monai_layout_with_bundle_common_vendored(published):
    zoo, _ = published
    path = zoo / f"{NAME}_v{VERSION}.zip"
    assert sorted(p.name for p in zoo.iterdir()) == ["index.json", "index.json.sig", path.name]
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
        contents = {i.filename.removeprefix(f"{NAME}/"): hashlib.sha256(zf.read(i)).hexdigest() for i in infos}
    assert all(i.filename.startswith(f"{NAME}/") for i in infos)  # one top folder, as monai.bundle.download expects
    assert contents == expected_bundle_files()
    assert {"bundle_common/networks.py", "bundle_common/handlers/case_report.py"} <= set(contents)
    # the runtime only: the tooling (zoo, benchmark, demo, generated data, metadata check) stays home
    assert not any(name.startswith("bundle_tools/") or name.endswith(("zoo.py", "benchmark.py")) for name in contents)
    assert [i.filename for i in infos] == sorted(i.filename for i in infos)
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {stat.S_IFMT(i.external_attr >> 16) for i in infos} == {stat.S_IFREG}

    metadata = json.loads((BUNDLE / "configs" / "metadata.json").read_text())
    index = json.loads((zoo / "index.json").read_text())
    assert index == {
        f"{NAME}_v{VERSION}": {
            "name": NAME,
            "version": VERSION,
            "title": metadata["name"],
            "description": metadata["description"],
            "monai_version": metadata["monai_version"],
            "pytorch_version": metadata["pytorch_version"],
            "sha256": sha256(path),
            "size": path.stat().st_size,
            "url": path.name,
        }
    }


def test_package_leaves_out_run_outputs_and_is_deterministic(published, tmp_path):
    copy = tmp_path / "src" / NAME
    shutil.copytree(BUNDLE, copy)
    junk = [
        "runs/train/events.out",
        "eval/metrics.json",
        "predictions/predictions.csv",
        "data/mnist/t10k-images-idx3-ubyte",
        "models/model.ts",
        "models/checkpoint_epoch=2.pt",
        "configs/__pycache__/x.cpython-311.pyc",
        ".DS_Store",
        "docs/.README.md.swp",
        "notes.txt",
    ]
    for rel in junk:
        (copy / rel).parent.mkdir(parents=True, exist_ok=True)
        (copy / rel).write_text("not part of the bundle")
    for p in copy.rglob("*"):
        os.utime(p, (1e9, 1e9))  # other timestamps, other folder: the same zip
    result = package_bundle(copy, tmp_path / "zoo")
    assert result["written"] and result["sha256"] == sha256(published[0] / f"{NAME}_v{VERSION}.zip")


def test_package_twice_is_a_no_op_and_a_changed_bundle_is_refused(tmp_path):
    copy = tmp_path / "src" / NAME
    shutil.copytree(BUNDLE, copy, ignore=shutil.ignore_patterns("model.pt"))
    zoo = tmp_path / "zoo"
    first = package_bundle(copy, zoo)
    zip_path = zoo / f"{NAME}_v{VERSION}.zip"
    before, mtime = tree(zoo), zip_path.stat().st_mtime_ns
    second = package_bundle(copy, zoo)
    assert first["written"] and not second["written"] and second["sha256"] == first["sha256"]
    assert tree(zoo) == before and zip_path.stat().st_mtime_ns == mtime

    with open(copy / "docs" / "README.md", "a") as f:
        f.write("\nA change after publication.\n")
    with pytest.raises(ZooError, match=rf"{NAME}_v{VERSION} is already published in .* with different content"):
        package_bundle(copy, zoo)
    assert tree(zoo) == before  # same zip, no temporary file left

    result = zoo_cli("package", bundle=copy, out=zoo)
    assert result.returncode == 1 and result.stderr.startswith("error: ") and "Traceback" not in result.stderr
    assert "different content" in result.stderr and tree(zoo) == before

    signed_index(zoo)  # the index remembers the published sha256 even when the zip is gone
    zip_path.unlink()
    with pytest.raises(ZooError, match=r"index\.json with different content"):
        package_bundle(copy, zoo)
    assert sorted(p.name for p in zoo.iterdir()) == ["index.json", "index.json.sig"]


# downloading


def test_download_by_version_and_latest_over_http_and_from_a_path(published, tmp_path, systmp):
    zoo, index_url = published
    dest = tmp_path / "dest"
    assert download_bundle(NAME, index_url, VERSION, dest / "a") == dest / "a" / NAME
    download_bundle(NAME, index_url, "latest", dest / "b")
    download_bundle(NAME, zoo / "index.json", "latest", dest / "c")
    expected = expected_bundle_files()
    for sub in "abc":
        assert sorted(p.name for p in (dest / sub).iterdir()) == [NAME]  # nothing beside it
        files = {rel: digest for rel, digest in tree(dest / sub / NAME).items() if digest != "dir"}
        assert files == expected, sub
    assert list(systmp.iterdir()) == []


def test_downloaded_folder_builds_the_network_with_the_shipped_weights(downloaded):
    from monai.bundle import ConfigParser, load

    folder = downloaded / NAME
    parser = ConfigParser()
    parser.read_config(str(folder / "configs" / "inference.yaml"))
    parser["bundle_root"] = str(folder)
    network = load(name=NAME, bundle_dir=downloaded, model=parser.get_parsed_content("network_def"), device="cpu")
    shipped = torch.load(BUNDLE / "models" / "model.pt", map_location="cpu", weights_only=True)
    assert shipped.keys() == network.state_dict().keys()
    assert all(torch.equal(shipped[k], v) for k, v in network.state_dict().items())
    assert network.eval()(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


def test_downloaded_bundle_runs_with_vendored_bundle_common_and_no_install(downloaded, tiny_mnist_dir, tmp_path):
    from bundle_common.data.mnist import load_mnist_split

    python, env, work = python_without_this_repository(tmp_path)

    folder = downloaded / NAME
    images, labels, _ = load_mnist_split(tiny_mnist_dir, "test")
    inputs = work / "in"
    inputs.mkdir()
    Image.fromarray(images[0]).save(inputs / "digit.png")
    shutil.copy(tiny_mnist_dir / "t10k-images-idx3-ubyte", inputs)
    words = bundle_args(
        "run", config_file=folder / "configs" / "inference.yaml", bundle_root=folder, input_dir="in", output_dir="out"
    )
    result = subprocess.run([python, "-m", "monai.bundle", *words], cwd=work, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = read_csv_rows(work / "out" / "predictions.csv")
    assert [r["file"] for r in rows[:1]] == ["digit.png"] and len(rows) == 1 + len(labels)
    assert (np.array([int(r["digit"]) for r in rows[1:]]) == labels).mean() > 0.5

    # MONAI's own workflow puts the bundle folder on sys.path before it builds components: the vendored copy is the
    # one imported, even by the project's Python where the repository is installed
    probe = (
        "import sys; from monai.bundle import ConfigWorkflow; "
        "w = ConfigWorkflow(config_file=sys.argv[1], run_id='probe', probe=\"$__import__('bundle_common').__file__\"); "
        "w.initialize(); print(w.run()[0])"
    )
    for interpreter in (python, sys.executable):
        result = subprocess.run(
            [interpreter, "-c", probe, str(folder / "configs" / "inference.yaml")],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        assert result.stdout.strip().splitlines()[-1] == str(folder / "bundle_common" / "__init__.py"), interpreter


def test_liver_pair_downloaded_into_one_folder_runs_the_cascade(tmp_path):
    """The README's liver path: both liver bundles from one zoo into one folder, then the fine bundle's inference
    (coarse -> fine cascade, coarse weights found beside it) with no install of this repository."""
    from bundle_tools.data.synthetic_liver import write_synthetic_liver

    zoo = tmp_path / "zoo"
    names = ["liver_ct_coarse_segmentation", "liver_ct_fine_segmentation"]
    for name in names:
        package_bundle(REPO_ROOT / "bundles" / name, zoo)
    signed_index(zoo)
    python, env, work = python_without_this_repository(tmp_path)
    for name in names:
        result = zoo_cli("download", name=name, version="latest", index=zoo / "index.json", dest=work)
        assert result.returncode == 0, result.stderr
    data = tmp_path / "ct"
    (case,) = write_synthetic_liver(data, n_cases=1, seed=3)
    words = bundle_args(
        "run",
        config_file=f"{names[1]}/configs/inference.yaml",
        bundle_root=names[1],
        input_dir=data / "imagesTr",
        output_dir="out",
    )
    result = subprocess.run([python, "-m", "monai.bundle", *words], cwd=work, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"ensemble of 2 models, softmax probabilities averaged: {names[1]}/models/fold0/model.pt" in (
        result.stdout + result.stderr
    )  # the shipped folds, found in the downloaded folder
    seg = nib.load(work / "out" / f"{case}_seg.nii.gz")
    image = nib.load(data / "imagesTr" / f"{case}.nii.gz")
    assert seg.shape == image.shape and np.allclose(seg.affine, image.affine, atol=1e-4)
    labels = np.asarray(seg.dataobj)  # weights trained on real CT: on a synthetic one only the format is checked
    assert set(np.unique(labels)) <= {0, 1, 2} and (labels > 0).any()


def test_monai_bundle_download_unpacks_the_zip(published, www, tmp_path):
    from monai.bundle import download

    zoo, _ = published
    url = f"{www[1]}zoo/{NAME}_v{VERSION}.zip"
    download(name=NAME, bundle_dir=tmp_path, url=url, progress=False)
    files = {rel: digest for rel, digest in tree(tmp_path / NAME).items() if digest != "dir"}
    assert files == expected_bundle_files()


def test_latest_is_the_highest_semantic_version(www, tmp_path, systmp):
    versions = ["1.0.9", "1.0.10", "0.9", "1.0.0", "1.0.0rc1", "1.0", "2.0.0"]
    assert sorted(versions, key=version_key) == ["0.9", "1.0.0rc1", "1.0.0", "1.0", "1.0.9", "1.0.10", "2.0.0"]
    assert sorted(["1.0.9", "1.0.10"])[-1] == "1.0.9"  # what a plain string sort (MONAI's client) would pick
    hand_made = {
        f"b_v{v}": {"name": "b", "version": v, "url": f"b_v{v}.zip", "size": 1, "sha256": "0" * 64}
        for v in ("1.0.9", "1.0.10")
    }
    assert select_entry(hand_made, "b", "latest")["version"] == "1.0.10"

    zoo = www[0] / tmp_path.name
    for version in ("1.0.9", "1.0.10"):
        source = tmp_path / "src" / version / "tiny"
        (source / "configs").mkdir(parents=True)
        (source / "configs" / "metadata.json").write_text(json.dumps({"version": version}))
        package_bundle(source, zoo)
    assert sorted(e["version"] for e in signed_index(zoo).values()) == ["1.0.10", "1.0.9"]
    target = download_bundle("tiny", f"{www[1]}{zoo.name}/index.json", "latest", tmp_path / "dest")
    assert json.loads((target / "configs" / "metadata.json").read_text())["version"] == "1.0.10"
    assert list(systmp.iterdir()) == []


def test_existing_destination_is_refused_or_replaced_only_when_asked(published, tmp_path, systmp):
    dest = tmp_path / "dest"
    (dest / NAME).mkdir(parents=True)
    (dest / NAME / "my_notes.txt").write_text("older copy")
    before = tree(dest)
    with pytest.raises(ZooError, match=rf"{NAME} already exists; .*replace"):
        download_bundle(NAME, published[1], "latest", dest)
    assert tree(dest) == before
    download_bundle(NAME, published[1], "latest", dest, replace=True)
    assert sorted(p.name for p in dest.iterdir()) == [NAME]
    assert {rel: d for rel, d in tree(dest / NAME).items() if d != "dir"} == expected_bundle_files()
    assert list(systmp.iterdir()) == []


# failures: a clear error, the destination exactly as before, nothing left in the temporary folder


def metadata_bytes(version: str = "1.0.0") -> bytes:
    return json.dumps({"version": version}).encode()


def make_zip(path: Path, members: list[tuple[str | zipfile.ZipInfo, bytes]], compression=zipfile.ZIP_DEFLATED):
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression) as zf:
        for member, data in members:
            zf.writestr(member, data)
    return path


def index_entry(zip_path: Path, name: str = "tiny", version: str = "1.0.0", url: str | None = None) -> dict:
    data = zip_path.read_bytes() if zip_path.exists() else b""
    return {
        "name": name,
        "version": version,
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
        "url": url or zip_path.name,
    }


def good_members() -> list[tuple[str, bytes]]:
    return [("tiny/configs/metadata.json", metadata_bytes()), ("tiny/models/model.pt", b"weights " * 100)]


def symlink_member() -> zipfile.ZipInfo:
    info = zipfile.ZipInfo("tiny/models/link")
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


def case_checksum(zoo: Path, tmp_path: Path):
    entry = index_entry(make_zip(zoo / "tiny_v1.0.0.zip", good_members()))
    entry["sha256"] = ("1" if entry["sha256"][0] == "0" else "0") + entry["sha256"][1:]
    return {"tiny_v1.0.0": entry}, {}, r"tiny_v1\.0\.0\.zip: checksum mismatch, sha256 [0-9a-f]{64} but the index says"


def case_truncated_download(zoo: Path, tmp_path: Path):
    path = make_zip(zoo / "tiny_v1.0.0.zip", good_members())
    entry = index_entry(path)
    path.write_bytes(path.read_bytes()[: entry["size"] // 2])
    return {"tiny_v1.0.0": entry}, {}, rf"tiny_v1\.0\.0\.zip: truncated download, {entry['size'] // 2} of"


def case_truncated_zip_with_matching_checksum(zoo: Path, tmp_path: Path):
    path = make_zip(zoo / "tiny_v1.0.0.zip", good_members())
    path.write_bytes(path.read_bytes()[:-30])
    return {"tiny_v1.0.0": index_entry(path)}, {}, r"tiny_v1\.0\.0\.zip: corrupt or truncated zip"


def case_bad_crc(zoo: Path, tmp_path: Path):
    path = make_zip(zoo / "tiny_v1.0.0.zip", good_members(), zipfile.ZIP_STORED)
    data = path.read_bytes()
    at = data.index(b"weights ")
    path.write_bytes(data[:at] + b"W" + data[at + 1 :])
    return {"tiny_v1.0.0": index_entry(path)}, {}, r"corrupt zip, bad CRC in member 'tiny/models/model\.pt'"


def case_corrupt_deflate_stream(zoo: Path, tmp_path: Path):
    path = make_zip(zoo / "tiny_v1.0.0.zip", good_members())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("tiny/models/model.pt")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)  # the compressed data
    data = bytearray(path.read_bytes())
    data[start : start + 8] = b"\xff" * 8
    path.write_bytes(bytes(data))
    return {"tiny_v1.0.0": index_entry(path)}, {}, r"tiny_v1\.0\.0\.zip: corrupt"


def case_parent_member(zoo: Path, tmp_path: Path):
    path = make_zip(zoo / "tiny_v1.0.0.zip", [*good_members(), ("tiny/../../evil.txt", b"escaped")])
    return {"tiny_v1.0.0": index_entry(path)}, {}, r"unsafe member 'tiny/\.\./\.\./evil\.txt'"


def case_absolute_member(zoo: Path, tmp_path: Path):
    absolute = str(tmp_path / "evil.txt")
    path = make_zip(zoo / "tiny_v1.0.0.zip", [*good_members(), (absolute, b"escaped")])
    assert absolute in zipfile.ZipFile(path).namelist()
    return {"tiny_v1.0.0": index_entry(path)}, {}, rf"unsafe member '{re.escape(absolute)}': an absolute"


def case_symlink_member(zoo: Path, tmp_path: Path):
    path = make_zip(zoo / "tiny_v1.0.0.zip", [*good_members(), (symlink_member(), b"/etc/passwd")])
    return {"tiny_v1.0.0": index_entry(path)}, {}, r"unsafe member 'tiny/models/link': a symbolic link"


def case_unknown_name(zoo: Path, tmp_path: Path):
    entry = index_entry(make_zip(zoo / "tiny_v1.0.0.zip", good_members()))
    return {"tiny_v1.0.0": entry}, {"name": "nope"}, r"no bundle named 'nope' in http://.*index\.json; it lists: tiny"


def case_unknown_version(zoo: Path, tmp_path: Path):
    entry = index_entry(make_zip(zoo / "tiny_v1.0.0.zip", good_members()))
    return {"tiny_v1.0.0": entry}, {"version": "9.9.9"}, r"tiny: no version '9\.9\.9' in .*; it lists: 1\.0\.0"


def case_http_404(zoo: Path, tmp_path: Path):
    return {"tiny_v1.0.0": index_entry(zoo / "missing.zip")}, {}, r"missing\.zip: HTTP error 404"


def case_local_file_named_by_a_remote_index(zoo: Path, tmp_path: Path):
    path = make_zip(tmp_path / "local" / "tiny_v1.0.0.zip", good_members())
    entry = index_entry(path, url=path.as_uri())
    return {"tiny_v1.0.0": entry}, {}, r"the index at http://.* points at file:///.*, which is not allowed"


def case_server_down(zoo: Path, tmp_path: Path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed when the block ends: nothing listens there
    return (
        None,
        {"index": f"http://127.0.0.1:{port}/index.json"},
        rf"127\.0\.0\.1:{port}/index\.json: cannot be reached",
    )


FAILURES = [
    case_checksum,
    case_truncated_download,
    case_truncated_zip_with_matching_checksum,
    case_bad_crc,
    case_corrupt_deflate_stream,
    case_parent_member,
    case_absolute_member,
    case_symlink_member,
    case_unknown_name,
    case_unknown_version,
    case_http_404,
    case_local_file_named_by_a_remote_index,
    case_server_down,
]


@pytest.mark.parametrize("dest_state", ["holds an older copy", "absent"])
@pytest.mark.parametrize("case", FAILURES, ids=[f.__name__.removeprefix("case_") for f in FAILURES])
def test_failure_is_clear_and_leaves_destination_as_it_was(case, dest_state, www, tmp_path, systmp):
    zoo = www[0] / tmp_path.name
    zoo.mkdir()
    index, arguments, message = case(zoo, tmp_path)
    if index is not None:
        (zoo / "index.json").write_text(json.dumps(index))
        sign_index(zoo / "index.json", KEYS["private"])  # signed: what fails is the zip or the entry
    dest = tmp_path / "dest" / "bundles"
    if dest_state != "absent":
        (dest / "tiny" / "configs").mkdir(parents=True)
        (dest / "tiny" / "configs" / "metadata.json").write_bytes(metadata_bytes("0.9.0"))
        (dest / "notes.txt").write_text("mine")
    before, outside = tree(dest), tree(tmp_path / "dest")
    arguments = {"name": "tiny", "index": f"{www[1]}{zoo.name}/index.json", "version": "latest", **arguments}
    with pytest.raises(ZooError, match=message):
        download_bundle(**arguments, dest=dest, replace=True)
    assert tree(dest) == before and tree(tmp_path / "dest") == outside
    assert list(systmp.iterdir()) == []
    assert not any(p.name == "evil.txt" for p in tmp_path.rglob("*"))


def test_command_line_download_and_its_errors(published, tmp_path):
    result = zoo_cli("download", name=NAME, index=published[1], version=VERSION, dest=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / NAME / "bundle_common" / "networks.py").is_file()
    result = zoo_cli("download", name=NAME, index=published[1], dest=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"error: {tmp_path / NAME} already exists; remove it or pass replace=True")
    result = zoo_cli("download", name="nope", index=published[1], dest=tmp_path / "other")
    assert result.returncode == 1 and result.stderr.startswith("error: no bundle named 'nope'")
    assert not (tmp_path / "other").exists()


def test_the_zip_carries_fold_models(tmp_path):
    """A bundle that ships cross-validation folds (``models/fold<k>/model.pt``) packages every one of them."""
    copy = tmp_path / "src" / NAME
    shutil.copytree(BUNDLE, copy)
    for k in (0, 1):
        (copy / "models" / f"fold{k}").mkdir()
        shutil.copy(copy / "models" / "model.pt", copy / "models" / f"fold{k}" / "model.pt")
        (copy / "models" / f"fold{k}" / "model.ts").write_text("an export, not shipped")
    names = [name for name, _ in bundle_members(copy)]
    assert [n for n in names if "/models/" in n] == [
        f"{NAME}/models/fold0/model.pt",
        f"{NAME}/models/fold1/model.pt",
        f"{NAME}/models/model.pt",
    ]


# signed indexes: every failure leaves the destination as it was


def tiny_zoo(www, tmp_path: Path, versions=("1.0.0",), sign: bool = True) -> tuple[Path, str]:
    """A served zoo of the bundle ``tiny`` at ``versions``, its index signed by the module's key: (folder, URL)."""
    zoo = www[0] / f"{tmp_path.name}_zoo"
    for version in versions:
        source = tmp_path / "src" / version / "tiny"
        (source / "configs").mkdir(parents=True, exist_ok=True)
        (source / "configs" / "metadata.json").write_bytes(metadata_bytes(version))
        package_bundle(source, zoo)
    write_index(zoo, sign_key=KEYS["private"] if sign else None)
    return zoo, f"{www[1]}{zoo.name}/index.json"


def assert_refused(url: str, dest: Path, message: str, **options) -> None:
    before = tree(dest)
    with pytest.raises(ZooError, match=message):
        download_bundle("tiny", url, "latest", dest, replace=True, **options)
    assert tree(dest) == before


@pytest.fixture()
def dest(tmp_path):
    folder = tmp_path / "dest"
    (folder / "tiny" / "configs").mkdir(parents=True)
    (folder / "tiny" / "configs" / "metadata.json").write_bytes(metadata_bytes("0.1.0"))
    return folder


def test_keygen_writes_a_private_key_for_its_owner_only_and_never_overwrites(tmp_path):
    result = zoo_cli("keygen", out=tmp_path / "k")
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE((tmp_path / "k.private").stat().st_mode) == 0o600
    assert (tmp_path / "k.public").read_text().startswith("-----BEGIN PUBLIC KEY-----")
    before = tree(tmp_path)
    result = zoo_cli("keygen", out=tmp_path / "k")
    assert result.returncode == 1 and "already exists" in result.stderr and tree(tmp_path) == before


def test_signed_index_downloads(www, tmp_path, dest):
    _, url = tiny_zoo(www, tmp_path)
    target = download_bundle("tiny", url, "latest", dest, replace=True)
    assert json.loads((target / "configs" / "metadata.json").read_text())["version"] == "1.0.0"


def test_index_altered_after_signing_is_refused(www, tmp_path, dest):
    zoo, url = tiny_zoo(www, tmp_path)
    index = json.loads((zoo / "index.json").read_text())
    index["tiny_v1.0.0"]["description"] = "changed"
    (zoo / "index.json").write_text(json.dumps(index))
    assert_refused(url, dest, "the index was changed after it was signed")


def test_missing_signature_is_refused(www, tmp_path, dest):
    _, url = tiny_zoo(www, tmp_path, sign=False)
    assert_refused(url, dest, r"the index has no signature \(.*index\.json\.sig is missing\)")


def test_signature_by_another_key_is_refused(www, tmp_path, dest):
    zoo, url = tiny_zoo(www, tmp_path)
    other, _ = generate_key_pair(tmp_path / "other")
    sign_index(zoo / "index.json", other)
    assert_refused(url, dest, "the signature is not by the trusted key")


def test_replaced_zip_with_its_sha256_updated_in_the_index_is_refused(www, tmp_path, dest):
    zoo, url = tiny_zoo(www, tmp_path)
    path = make_zip(zoo / "tiny_v1.0.0.zip", [*good_members(), ("tiny/configs/evil.yaml", b"run: $exec('...')")])
    index = json.loads((zoo / "index.json").read_text())
    index["tiny_v1.0.0"].update(sha256=sha256(path), size=path.stat().st_size)
    (zoo / "index.json").write_text(json.dumps(index))
    assert_refused(url, dest, "the index was changed after it was signed")


def test_an_old_signed_index_replayed_is_refused(www, tmp_path, dest):
    """Roll-back: the client keeps the highest serial it has verified for the key, and refuses an index signed
    before it (here an old index that marks 1.0.0 latest after 1.0.1 was published)."""
    zoo, url = tiny_zoo(www, tmp_path, versions=("1.0.0",))
    old_index, old_signature = (zoo / "index.json").read_bytes(), (zoo / "index.json.sig").read_bytes()
    download_bundle("tiny", url, "latest", dest, replace=True)
    tiny_zoo(www, tmp_path, versions=("1.0.1",))  # 1.0.1 published, the index signed again
    target = download_bundle("tiny", url, "latest", dest, replace=True)
    assert json.loads((target / "configs" / "metadata.json").read_text())["version"] == "1.0.1"
    (zoo / "index.json").write_bytes(old_index)
    (zoo / "index.json.sig").write_bytes(old_signature)
    assert_refused(url, dest, r"signed before one already seen .*an old index replayed")


def test_an_expired_signature_is_refused(www, tmp_path, dest):
    zoo, url = tiny_zoo(www, tmp_path)
    sign_index(zoo / "index.json", KEYS["private"], valid_days=-1)
    assert_refused(url, dest, "the index's signature expired")


def test_no_trusted_key_refuses_and_allow_unsigned_warns(www, tmp_path, dest, monkeypatch):
    _, url = tiny_zoo(www, tmp_path, sign=False)
    monkeypatch.delenv("MONAI_BUNDLE_ZOO_KEY")
    assert_refused(url, dest, r"no trusted zoo key: pass --trusted_key .*--allow_unsigned True")
    with pytest.warns(UserWarning, match="signature is not checked"):
        download_bundle("tiny", url, "latest", dest, replace=True, allow_unsigned=True)
    public = os.environ["XDG_CONFIG_HOME"] + "/monai-bundle-collection/trusted_zoo_key.pub"
    Path(public).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(KEYS["public"], public)  # the per-user default
    try:
        assert_refused(url, dest, "the index has no signature")
    finally:
        Path(public).unlink()
    result = zoo_cli("download", name="tiny", index=url, dest=tmp_path / "cli", allow_unsigned=True)
    assert result.returncode == 0 and "signature is not checked" in result.stderr
