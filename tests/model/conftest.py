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


def write_shapes_dataset(
    folder: pathlib.Path, count: int, seed: int, scanner: str = "test-scanner"
) -> pathlib.Path:
    """A tiny COCO dataset in the simulator's layout: light bags, half of them with a dark 'blade' bar."""
    import json

    import cv2
    import numpy as np

    from vision.classes import coco_categories

    rng = np.random.default_rng(seed)
    (folder / "images").mkdir(parents=True)
    (folder / "masks").mkdir()
    images: list[dict[str, object]] = []
    annotations: list[dict[str, object]] = []
    for index in range(count):
        height, width = int(rng.integers(60, 100)), int(rng.integers(90, 140))
        rgb = np.full((height, width, 3), 255, np.uint8)
        rgb[10 : height - 10, 10 : width - 10] = (250, 200, 120)  # an orange, organic-looking bag
        mask = np.zeros((height, width), np.uint8)
        kind = ("parcel", "luggage")[index % 2]
        if index % 2 == 0 or index % 3 == 0:
            x, y = int(rng.integers(15, width - 45)), int(rng.integers(15, height - 25))
            rgb[y : y + 8, x : x + 30] = (30, 40, 160)
            mask[y : y + 8, x : x + 30] = category_id("blade")
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": index + 1,
                    "category_id": category_id("blade"),
                    "bbox": [x, y, 30, 8],
                    "area": 240,
                    "iscrowd": 0,
                }
            )
        name = f"scan_{index:03d}"
        cv2.imwrite(str(folder / "images" / f"{name}.png"), rgb[:, :, ::-1])
        cv2.imwrite(str(folder / "masks" / f"{name}.png"), mask)
        images.append(
            {
                "id": index + 1,
                "file_name": f"images/{name}.png",
                "width": width,
                "height": height,
                "kind": kind,
                "scanner": scanner,
                "seed": seed + index,
                "mask_file": f"masks/{name}.png",
            }
        )
    coco = {
        "info": {"description": "test shapes", "seed": seed},
        "images": images,
        "annotations": annotations,
        "categories": coco_categories(),
    }
    (folder / "annotations.json").write_text(json.dumps(coco))
    return folder


@pytest.fixture(scope="session")
def shapes_datasets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pathlib.Path]:
    """Train, calibration and test folders of :func:`write_shapes_dataset` from different seeds."""
    root = tmp_path_factory.mktemp("shapes")
    return {
        "train": write_shapes_dataset(root / "train", 24, seed=1),
        "calibration": write_shapes_dataset(root / "calibration", 12, seed=100),
        "test": write_shapes_dataset(root / "test", 12, seed=200),
    }
