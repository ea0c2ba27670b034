"""What the MONAI model zoo's CI asks of a bundle, checked the project's own way for every folder in ``bundles/``.

Required files; ``metadata.json`` (the zoo's schema URL, a semver ``version`` with its ``changelog`` entry, the
collection's schema); ``network_def`` against the declared ``network_data_format`` (``monai.bundle
verify_net_in_out`` and a stricter check in Python); ``ckpt_export`` to TorchScript and ``onnx_export`` to ONNX
(run with onnxruntime; skipped without the ``onnx`` extra), each compared with the eager network; checkpoints
loaded with ``weights_only=True`` throughout the collection.
"""

import ast
import json
import re
from pathlib import Path

import pytest
import torch
from monai.bundle import ConfigParser

from bundle_tools.bundle_cli import REPO_ROOT, run_bundle
from bundle_tools.export import load_network
from bundle_tools.metadata import metadata_problems
from bundle_tools.registry import bundle_dirs

BUNDLES = bundle_dirs()
REQUIRED_FILES = (
    "LICENSE",
    "configs/metadata.json",
    "models/model.pt",
    "configs/inference.yaml",
    # the collection's own contract
    "configs/train.yaml",
    "configs/evaluate.yaml",
    "configs/multi_gpu_train.yaml",
    "configs/logging.conf",
    "docs/README.md",
)
# where the zoo's metadata schemas are released; every bundle names the same schema file there
ZOO_SCHEMA_PREFIX = "https://github.com/Project-MONAI/MONAI-extra-test-data/releases/download/"
SEMVER = re.compile(r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)")
TORCH_LOAD = re.compile(r"\btorch\.load\(")
SHAPE_NODES = (ast.Expression, ast.BinOp, ast.Constant, ast.Name, ast.Load, ast.Add, ast.Sub, ast.Mult, ast.Pow)


@pytest.fixture(params=BUNDLES, ids=[b.name for b in BUNDLES])
def bundle(request) -> Path:
    return request.param


def read_meta(bundle: Path) -> dict:
    return json.loads((bundle / "configs" / "metadata.json").read_text())


def inference_config(bundle: Path) -> Path:
    return bundle / "configs" / "inference.yaml"


def spatial_shape(items: list, n: int = 1, p: int = 1) -> tuple[int, ...]:
    """A declared ``spatial_shape`` (ints and expressions such as ``"16*n"``) for given ``n`` and ``p``."""
    shape = []
    for item in items:
        if isinstance(item, int):
            shape.append(item)
            continue
        tree = ast.parse(item, mode="eval")
        bad = [type(node).__name__ for node in ast.walk(tree) if not isinstance(node, SHAPE_NODES)]
        names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
        assert not bad and names <= {"n", "p"}, f"spatial_shape item {item!r} is not an expression of n and p"
        shape.append(int(eval(compile(tree, item, "eval"), {"__builtins__": {}}, {"n": n, "p": p})))
    return tuple(shape)


def network_def(bundle: Path) -> torch.nn.Module:
    """``network_def`` of the inference config, freshly initialised (seeded), on CPU, in eval mode."""
    parser = ConfigParser()
    parser.read_config(str(inference_config(bundle)))
    parser["bundle_root"] = str(bundle)
    torch.manual_seed(0)
    return parser.get_parsed_content("network_def").eval()


def checkpoint(bundle: Path, tmp_path: Path) -> Path:
    """The shipped weights, ``models/model.pt``."""
    return bundle / "models" / "model.pt"


def example_input(meta: dict, shape: tuple[int, ...] | None = None, n: int = 2) -> torch.Tensor:
    """A seeded random input of the declared channels and dtype; ``shape`` (spatial) or the declared one at ``n``."""
    image = meta["network_data_format"]["inputs"]["image"]
    assert image["dtype"] == "float32", "the collection's networks take float32"
    spatial = shape or spatial_shape(image["spatial_shape"], n=n)
    return torch.rand(1, image["num_channels"], *spatial, generator=torch.Generator().manual_seed(0))


def test_required_files(bundle):
    missing = [name for name in REQUIRED_FILES if not (bundle / name).is_file() or (bundle / name).stat().st_size == 0]
    assert not missing, f"{bundle.name}: missing or empty: {missing}"


def test_collection_names_one_zoo_schema():
    urls = {b.name: read_meta(b).get("schema") for b in BUNDLES}
    assert len(set(urls.values())) == 1, urls


def test_metadata(bundle):
    meta = read_meta(bundle)
    schema = meta.get("schema", "")
    assert schema.startswith(ZOO_SCHEMA_PREFIX) and schema.endswith(".json"), schema
    assert SEMVER.fullmatch(meta["version"]), meta["version"]
    assert meta["version"] in meta["changelog"]
    problems = metadata_problems(bundle / "configs" / "metadata.json")
    assert not problems, "\n".join(problems)


def test_docs_name_the_metadata_version(bundle):
    first_lines = (bundle / "docs" / "README.md").read_text().splitlines()[:5]
    expected = f"Zoo name `{bundle.name}`, version {read_meta(bundle)['version']} (see `configs/metadata.json`)."
    assert expected in first_lines, f"{bundle.name}: docs/README.md should say: {expected}"


def test_monai_verify_net_in_out(bundle):
    """MONAI's own check at its defaults (``n=1``: the smallest input the metadata allows)."""
    run_bundle(
        "verify_net_in_out",
        "network_def",
        meta_file=bundle / "configs" / "metadata.json",
        config_file=inference_config(bundle),
        bundle_root=bundle,
        device="cpu",
    )


@torch.no_grad()
def test_network_matches_data_format(bundle):
    """Channels, spatial shape and dtype of the output against ``network_data_format`` at ``n=2``; a classifier's
    output is ``(N, C)`` and its declared spatial shape is the class vector ``[C]``."""
    meta = read_meta(bundle)
    pred = meta["network_data_format"]["outputs"]["pred"]
    output = network_def(bundle)(example_input(meta, n=2))
    assert output.dtype == torch.float32 and pred["dtype"] == "float32"
    assert output.shape[:2] == (1, pred["num_channels"])
    if pred["type"] == "probabilities":
        assert output.ndim == 2 and spatial_shape(pred["spatial_shape"]) == (pred["num_channels"],)
    else:
        assert tuple(output.shape[2:]) == spatial_shape(pred["spatial_shape"], n=2)


@torch.no_grad()
def test_torchscript_export(bundle, tmp_path):
    ckpt, ts_file = checkpoint(bundle, tmp_path), tmp_path / "model.ts"
    run_bundle(
        "ckpt_export",
        "network_def",
        filepath=ts_file,
        ckpt_file=ckpt,
        meta_file=bundle / "configs" / "metadata.json",
        config_file=inference_config(bundle),
        bundle_root=bundle,
    )
    extra = {"metadata.json": ""}
    scripted = torch.jit.load(str(ts_file), map_location="cpu", _extra_files=extra).eval()
    meta = read_meta(bundle)
    assert json.loads(extra["metadata.json"])["version"] == meta["version"]
    inputs = example_input(meta, n=2)
    diff = (scripted(inputs) - load_network(inference_config(bundle), ckpt, str(bundle))(inputs)).abs().max()
    assert float(diff) <= 1e-4


def test_checkpoints_load_weights_only():
    """Every ``torch.load(...)`` in common/, tools/ and bundles/ passes ``weights_only=True`` and ``map_location``."""
    files = [*(REPO_ROOT / "common").rglob("*.py"), *(REPO_ROOT / "tools").rglob("*.py")]
    files += [f for f in (REPO_ROOT / "bundles").rglob("*") if f.suffix in {".py", ".yaml", ".yml", ".json"}]
    calls, unsafe = 0, []
    for file in files:
        text = file.read_text()
        for match in TORCH_LOAD.finditer(text):
            depth, end = 1, match.end()
            while depth and end < len(text):
                depth += {"(": 1, ")": -1}.get(text[end], 0)
                end += 1
            calls += 1
            arguments = text[match.end() : end]
            if not re.search(r"\bweights_only\s*=\s*True\b", arguments) or "map_location" not in arguments:
                unsafe.append(f"{file.relative_to(REPO_ROOT)}:{text.count(chr(10), 0, match.start()) + 1}")
    assert calls, "no torch.load call found: the scan is looking in the wrong place"
    assert not unsafe, f"torch.load without weights_only=True or map_location (CUDA checkpoints on a CPU): {unsafe}"


def test_checkpoint_loaders_map_onto_the_configured_device():
    """Every MONAI ``CheckpointLoader`` in the configs has a ``map_location`` (without it, weights saved on a GPU do
    not load on a CPU-only machine); every evaluate and inference config without one loads its weights through
    ``bundle_common.networks.load_model``, which reads them on the CPU (itself, or through the config it reads with
    ``bundle_common.configs.read_config``)."""
    loaders = 0
    for file in (REPO_ROOT / "bundles").rglob("*.yaml"):
        text = file.read_text()
        blocks = re.split(r"\n(?=\s*- _target_:|\s*\w+:\s*\n\s+_target_:)", text)
        found = [block for block in blocks if "_target_: CheckpointLoader" in block]
        for block in found:
            assert re.search(r"map_location: '@device'", block), f"{file.relative_to(REPO_ROOT)}: {block}"
        loaders += len(found)
        if file.parent.name == "configs" and file.stem in ("evaluate", "inference") and not found:
            reads = re.search(
                r"_target_: bundle_common\.configs\.read_config\n\s+config_file: .*/configs/(\w+)\.yaml'", text
            )
            source = file if reads is None else file.with_name(f"{reads[1]}.yaml")
            assert "_target_: bundle_common.networks.load_model" in source.read_text(), file.relative_to(REPO_ROOT)
    assert loaders >= 2  # MNIST's evaluate and inference


@torch.no_grad()
def test_onnx_export(bundle, tmp_path):
    """``monai.bundle onnx_export`` at the size the inferer feeds the network (``roi_size``, else the declared input
    at ``n=1``), run with onnxruntime. Tolerance 1e-4, 1e-3 for the 3D networks: their instance norms sum ~10^6
    voxels a channel, in a different order in onnxruntime and torch (measured up to 1.0e-4 at 96^3)."""
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    meta, ckpt, onnx_file = read_meta(bundle), checkpoint(bundle, tmp_path), tmp_path / "model.onnx"
    parser = ConfigParser()
    parser.read_config(str(inference_config(bundle)))
    roi = parser.get("roi_size")
    inputs = example_input(meta, shape=tuple(roi) if roi else None, n=1)
    run_bundle(
        "onnx_export",
        "network_def",
        filepath=onnx_file,
        ckpt_file=ckpt,
        meta_file=bundle / "configs" / "metadata.json",
        config_file=inference_config(bundle),
        bundle_root=bundle,
        input_shape=list(inputs.shape),
    )
    onnx.checker.check_model(str(onnx_file))
    session = ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    (output,) = session.run(None, {session.get_inputs()[0].name: inputs.numpy()})
    expected = load_network(inference_config(bundle), ckpt, str(bundle))(inputs)
    assert output.shape == tuple(expected.shape)
    diff = float(abs(torch.from_numpy(output) - expected).max())
    assert diff <= (1e-3 if inputs.ndim == 5 else 1e-4), diff
