"""Reading another bundle config file where it lies, with this run's settings passed on."""

import pytest
import yaml

from bundle_common.configs import read_config


@pytest.fixture
def config_file(tmp_path):
    path = tmp_path / "elsewhere" / "inference.yaml"
    path.parent.mkdir()
    config = {
        "roi_size": [96, 96],
        "inferer": {"_target_": "SlidingWindowInferer", "roi_size": "@roi_size", "sw_batch_size": 4},
        "network_def": {"_target_": "torch.nn.Linear", "in_features": 3, "out_features": 2},
    }
    path.write_text(yaml.safe_dump(config))
    return path


def test_overrides_apply_as_the_command_line_would_and_mappings_key_by_key(config_file, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # read where the file lies, whatever the working folder
    parser = read_config(config_file, roi_size=[32, 32], network_def={"out_features": 5}, inferer={})
    inferer = parser.get_parsed_content("inferer")
    assert tuple(inferer.roi_size) == (32, 32) and inferer.sw_batch_size == 4  # {} changed nothing
    network = parser.get_parsed_content("network_def")
    assert (network.in_features, network.out_features) == (3, 5)  # one key of the mapping, the rest kept
    assert parser.get_parsed_content("network_def") is network  # built once


def test_without_overrides_it_is_the_file_as_written(config_file):
    assert read_config(config_file).get_parsed_content("inferer").sw_batch_size == 4


def test_a_missing_file_is_an_input_error_that_names_it(tmp_path):
    from bundle_common.errors import BundleInputError

    missing = tmp_path / "liver_ct_coarse_segmentation" / "configs" / "inference.yaml"
    with pytest.raises(BundleInputError, match="liver_ct_coarse_segmentation/configs/inference.yaml: no such config"):
        read_config(missing)
