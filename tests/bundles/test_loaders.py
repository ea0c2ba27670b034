"""The training loaders of the bundles that start loader processes beside a GPU keep them across epochs."""

import pytest
from monai.bundle import ConfigParser

from bundle_common.bundle_cli import REPO_ROOT


@pytest.mark.parametrize("bundle", ["mnist_classification", "drive_vessel_segmentation"])
@pytest.mark.parametrize("workers", [0, 2])
def test_loader_processes_live_across_epochs(bundle, workers):
    parser = ConfigParser()
    parser.read_config(REPO_ROOT / "bundles" / bundle / "configs" / "train.yaml")
    parser.update({"bundle_root": str(REPO_ROOT / "bundles" / bundle), "num_workers": workers})
    parser["train"]["dataset"] = list(range(4))  # any dataset: only the loader's settings are checked
    loader = parser.get_parsed_content("train#dataloader")
    assert loader.num_workers == workers and loader.persistent_workers is (workers > 0)  # none: nothing to keep
