import json
from pathlib import Path

import pytest

from bundle_tools.metadata import check_bundles, metadata_problems
from bundle_tools.registry import bundle_dirs

REPO_ROOT = Path(__file__).resolve().parents[2]
BUNDLES = bundle_dirs()


@pytest.mark.parametrize("bundle", BUNDLES, ids=[b.name for b in BUNDLES])
def test_every_bundle_metadata_passes(bundle):
    assert metadata_problems(bundle / "configs" / "metadata.json") == []


@pytest.fixture()
def meta(tmp_path):
    source = json.loads((REPO_ROOT / "bundles" / "mnist_classification" / "configs" / "metadata.json").read_text())

    def write(**changes):
        data = {**source, **changes}
        data = {k: v for k, v in data.items() if v is not None}
        path = tmp_path / "metadata.json"
        path.write_text(json.dumps(data))
        return path

    return write


def test_missing_mandatory_key(meta):
    problems = metadata_problems(meta(copyright=None))
    assert len(problems) == 1 and "'copyright' is a required property" in problems[0]


def test_version_needs_semver_and_changelog_entry(meta):
    assert "does not match" in " ".join(metadata_problems(meta(version="1.0")))
    problems = metadata_problems(meta(version="9.9.9"))
    assert problems == [f"{problems[0].split(':')[0]}: version 9.9.9 has no changelog entry."]


def test_tensor_format_checked(meta):
    data = json.loads((REPO_ROOT / "bundles" / "mnist_classification" / "configs" / "metadata.json").read_text())[
        "network_data_format"
    ]
    data["inputs"]["image"]["num_channels"] = 3
    assert "channel_def describes channels [0], num_channels is 3" in " ".join(
        metadata_problems(meta(network_data_format=data))
    )
    del data["inputs"]["image"]["dtype"]
    assert "network_data_format/inputs/image: 'dtype' is a required property" in " ".join(
        metadata_problems(meta(network_data_format=data))
    )


def test_unreadable_file_and_missing_metadata(tmp_path):
    bad = tmp_path / "metadata.json"
    bad.write_text("{not json")
    assert "cannot be read as JSON" in metadata_problems(bad)[0]
    (tmp_path / "bundles" / "empty_bundle").mkdir(parents=True)
    assert check_bundles(tmp_path / "bundles") == [
        f"{tmp_path / 'bundles' / 'empty_bundle'}: no configs/metadata.json."
    ]


def test_an_ensemble_lists_its_checkpoints_and_they_exist(tmp_path):
    source = json.loads((REPO_ROOT / "bundles" / "mnist_classification" / "configs" / "metadata.json").read_text())
    (tmp_path / "configs").mkdir()
    (tmp_path / "models" / "fold0").mkdir(parents=True)
    (tmp_path / "models" / "fold0" / "model.pt").write_bytes(b"weights")
    meta_file = tmp_path / "configs" / "metadata.json"
    ensemble = {
        "models": 2,
        "num_folds": 2,
        "checkpoints": ["models/fold0/model.pt", "models/fold1/model.pt"],
        "combination": "mean of the sigmoid probabilities",
    }
    meta_file.write_text(json.dumps({**source, "ensemble": ensemble}))
    assert metadata_problems(meta_file) == [
        f"{meta_file}: ensemble: checkpoint models/fold1/model.pt is not a file of the bundle."
    ]
    meta_file.write_text(json.dumps({**source, "ensemble": {**ensemble, "models": 3}}))
    assert "2 checkpoints listed for 3 models" in " ".join(metadata_problems(meta_file))
    meta_file.write_text(json.dumps({**source, "ensemble": {**ensemble, "models": 1}}))
    assert "ensemble/models: 1 is less than the minimum of 2" in " ".join(metadata_problems(meta_file))
