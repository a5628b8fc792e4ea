"""ONNX export: parity with torch eager, dynamic batch, metadata and card, threshold updates."""

from __future__ import annotations

import json
import pathlib

import numpy as np
import onnx
import pytest
import torch

from vision.classes import THREAT_CLASSES
from vision.infer import Predictor
from vision.preprocess import PreprocessSpec, preprocess
from vision.train.export import OPSET, PARITY_TOLERANCE, export_model, parity_max_abs_diff, set_threshold
from vision.train.model import build_model


@pytest.mark.parametrize("blocks", [(0, 0), (1, 2)])
def test_onnx_matches_torch_on_the_same_inputs(tmp_path: pathlib.Path, blocks: tuple[int, int]) -> None:
    torch.manual_seed(1)
    net = build_model((8, 8, 16, 16), blocks)
    # Non-trivial batch-norm statistics, so folding them into the convolutions is exercised; residual
    # blocks get non-zero scales too, so they are not the identity they start as.
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.weight.uniform_(0.5, 1.5)
        net.train()
        for _ in range(3):
            net(torch.randn(4, 3, 96, 96) * 2 + 0.5)
    spec = PreprocessSpec(input_size=96)
    folder = export_model(net, tmp_path / "m" / "1", name="m", version="1", spec=spec)
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in ((80, 120), (200, 90), (96, 96))]
    inputs = np.stack([preprocess(image, spec)[0] for image in images])
    assert parity_max_abs_diff(net, folder, inputs) < PARITY_TOLERANCE


def test_onnx_file_carries_its_metadata(tiny_model_dir: pathlib.Path) -> None:
    model = onnx.load(str(tiny_model_dir / "model.onnx"))
    meta = {p.key: p.value for p in model.metadata_props}
    assert json.loads(meta["classes"]) == list(THREAT_CLASSES)
    assert meta["input_size"] == "64" and float(meta["threshold"]) == 0.5
    assert json.loads(meta["preprocessing"])["input_size"] == 64
    assert max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) >= OPSET
    batch_dim = model.graph.input[0].type.tensor_type.shape.dim[0]
    assert batch_dim.dim_param and not batch_dim.dim_value


def test_set_threshold_updates_card_metadata_and_predictor(
    tiny_model_dir: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    import shutil

    folder = tmp_path / "copy"
    shutil.copytree(tiny_model_dir, folder)
    set_threshold(folder, 0.8125, {"false_alarm_rate": 0.05, "images": 10}, {"vehicle": 0.625})
    predictor = Predictor(folder)
    assert predictor.threshold == 0.8125 and predictor.thresholds.by_kind == {"vehicle": 0.625}
    assert predictor.card.calibration == {"false_alarm_rate": 0.05, "images": 10, "calibrated": True}
    meta = {p.key: p.value for p in onnx.load(str(folder / "model.onnx")).metadata_props}
    assert float(meta["threshold"]) == 0.8125 and float(meta["false_alarm_rate"]) == 0.05
    assert json.loads(meta["kind_thresholds"]) == {"vehicle": 0.625}


@pytest.mark.parametrize("mirrors", ["h", "hv"])
def test_mirrored_graph_averages_the_views_and_is_mirror_symmetric(
    tmp_path: pathlib.Path, mirrors: str
) -> None:
    import onnxruntime as ort

    from vision.train.model import MIRRORS, ThreatOutputs

    torch.manual_seed(2)
    net = build_model((8, 8, 16, 16)).eval()
    with torch.no_grad():
        for parameter in net.head.parameters():
            parameter.mul_(20)  # maps that vary from cell to cell, so a side can show
    spec = PreprocessSpec(input_size=64)
    folder = export_model(net, tmp_path / "m" / "1", name="m", version="1", spec=spec, mirrors=mirrors)
    assert json.loads((folder / "model.json").read_text())["architecture"]["test_time_mirrors"] == mirrors
    rng = np.random.default_rng(1)
    inputs = rng.normal(size=(2, 3, 64, 64)).astype(np.float32)
    assert parity_max_abs_diff(net, folder, inputs, mirrors) < PARITY_TOLERANCE

    session = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    probs, threat_map, score = session.run(None, {"image": inputs})
    with torch.no_grad():
        image = torch.from_numpy(inputs)
        plain = [torch.softmax(net(image.flip(a) if a else image), 1) for a in MIRRORS[mirrors]]
    expected = torch.stack([p.flip(a) if a else p for p, a in zip(plain, MIRRORS[mirrors], strict=True)])
    np.testing.assert_allclose(probs, expected.mean(0).numpy(), atol=1e-5)
    # Every mirror of the scan gets the same score and the mirrored map: the graph has no favourite side.
    for axes in MIRRORS[mirrors][1:]:
        flipped = session.run(None, {"image": np.ascontiguousarray(np.flip(inputs, axes))})
        np.testing.assert_allclose(flipped[2], score, atol=1e-5)
        np.testing.assert_allclose(flipped[1], np.flip(threat_map, tuple(a - 1 for a in axes)), atol=1e-5)
    # The plain graph has a favourite side: the test would notice a graph that ignored the mirrors.
    single = ThreatOutputs(net)(torch.from_numpy(inputs))[1].detach().numpy()
    assert np.abs(single - threat_map).max() > 1e-2


def test_unknown_mirrors_are_refused() -> None:
    from vision.train.model import ThreatOutputs

    with pytest.raises(ValueError, match="unknown test-time mirrors 'x'"):
        ThreatOutputs(build_model((8, 8, 16, 16)), "x")
