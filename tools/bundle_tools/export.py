"""Checking a TorchScript export against the eager network it came from."""

from __future__ import annotations

import os

import torch

from bundle_common.networks import load_weights

__all__ = ["load_network", "torchscript_max_abs_diff"]


def load_network(
    config_file: str | os.PathLike, ckpt_file: str | os.PathLike, bundle_root: str = "."
) -> torch.nn.Module:
    """Instantiate ``network_def`` of a bundle config on CPU, load a state dict (``weights_only``), set eval mode."""
    from monai.bundle import ConfigParser

    parser = ConfigParser()
    parser.read_config(str(config_file))
    parser["bundle_root"] = str(bundle_root)
    network = parser.get_parsed_content("network_def")
    return load_weights(network, ckpt_file).eval()


@torch.no_grad()
def torchscript_max_abs_diff(
    config_file: str | os.PathLike, ckpt_file: str | os.PathLike, ts_file: str | os.PathLike, inputs: torch.Tensor
) -> float:
    """The largest absolute difference between the eager network and the TorchScript file on ``inputs``."""
    eager = load_network(config_file, ckpt_file)
    scripted = torch.jit.load(str(ts_file), map_location="cpu").eval()
    return float((eager(inputs) - scripted(inputs)).abs().max())
