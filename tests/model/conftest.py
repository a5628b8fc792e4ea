"""Fixtures of the model tests: a rigged network whose answers are known in advance."""

from __future__ import annotations

import pathlib

import pytest
import torch
import torch.nn.functional as F

from vision.classes import category_id
from vision.preprocess import PreprocessSpec
from vision.train.export import export_model
from vision.train.model import ThreatNet

RIGGED_SIZE = 128


class DarkIsBladeNet(ThreatNet):
    """Calls every dark cell a blade and every light cell background (no learning involved)."""

    def __init__(self) -> None:
        super().__init__((4, 8, 8, 8))
        self.blade = category_id("blade")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        brightness = F.avg_pool2d(x.mean(dim=1, keepdim=True), self.output_stride)
        # Normalised white is +2 and black is -2 (mean 0.5, std 0.25): dark cells win the blade channel.
        channels = [torch.zeros_like(brightness)] * self.head.out_channels
        channels[0], channels[self.blade] = 8 * brightness, -8 * brightness
        return torch.cat(channels, dim=1)


@pytest.fixture(scope="session")
def rigged_model_dir(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """A model folder whose network flags dark regions as ``blade`` (threshold 0.5)."""
    folder = tmp_path_factory.mktemp("rigged") / "rigged" / "1"
    return export_model(
        DarkIsBladeNet(), folder, name="rigged", version="1", spec=PreprocessSpec(input_size=RIGGED_SIZE)
    )
