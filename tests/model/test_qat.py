"""Quantisation-aware fine-tuning (`triage train --qat`): the forward pass rounds as the INT8 graph of
`triage quantize` does, and the network it trains stays an ordinary float one."""

from __future__ import annotations

import pathlib

import numpy as np
import onnx
import onnx.numpy_helper
import onnxruntime as ort
import pytest
import torch

from vision.preprocess import PreprocessSpec
from vision.train import qat
from vision.train.export import export_onnx
from vision.train.model import ThreatNet
from vision.train.quantize import quantise_graph

SIZE = 64


def network(seed: int = 0) -> ThreatNet:
    """A small network with batch norms that are not the identity (as a trained one's are not)."""
    torch.manual_seed(seed)
    net = ThreatNet(widths=(8, 16, 16, 24), blocks=(1, 1))
    for module in net.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            torch.nn.init.uniform_(module.weight, 0.5, 1.5)
            torch.nn.init.normal_(module.bias, 0.0, 0.2)
            module.running_mean.normal_(0.0, 0.2)
            module.running_var.uniform_(0.5, 2.0)
    return net.eval()


def batches(count: int, seed: int = 1) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(0.0, 1.0, (1, 3, SIZE, SIZE)).astype(np.float32) for _ in range(count)]


def module_name(node: onnx.NodeProto) -> str:
    """The network module an exported Conv node came from: ``/net/res8/res8.0/body/body.0/body.0.0/Conv``
    is ``res8.0.body.0.0``."""
    parts: list[str] = []
    for scope in node.name.split("/")[2:-1]:
        if parts and scope.startswith(parts[-1] + "."):
            parts[-1] = scope
        else:
            parts.append(scope)
    return ".".join(parts)


def onnx_ranges(graph: onnx.GraphProto) -> dict[str, tuple[float, float]]:
    """Each quantised tensor's range, from its QuantizeLinear's scale and zero point."""
    values = {init.name: onnx.numpy_helper.to_array(init) for init in graph.initializer}
    ranges = {}
    for node in graph.node:
        if node.op_type == "QuantizeLinear":
            scale, zero = float(values[node.input[1]]), int(values[node.input[2]])
            ranges[node.input[0]] = (-zero * scale, (255 - zero) * scale)
    return ranges


def test_rounding_is_onnxruntimes_int8_graph(tmp_path: pathlib.Path) -> None:
    """Given the INT8 graph's ranges, the rounded network computes what the INT8 graph computes: the same
    tensors rounded, the same way (weights folded with their batch norm, per output channel)."""
    net = network()
    source, target = tmp_path / "model.onnx", tmp_path / "model_int8.onnx"
    export_onnx(net, source, PreprocessSpec(input_size=SIZE))
    inputs = batches(4)
    quantise_graph(source, target, iter(inputs), tmp_path)
    graph = onnx.load(str(target)).graph
    ranges, made_by = onnx_ranges(graph), {o: n for n in graph.node for o in n.output}
    rounding = qat.attach(network())
    modules = dict(rounding.named_modules())
    convs = [node for node in graph.node if node.op_type == "Conv"]
    assert len(convs) == sum(isinstance(m, qat.RoundedConv2d) for m in modules.values())
    for node in convs:
        conv = modules[module_name(node)]
        quantised = made_by[made_by[node.input[0]].input[0]]  # Conv <- DequantizeLinear <- QuantizeLinear
        conv.rounds_input.low, conv.rounds_input.high = ranges[quantised.input[0]]
        named = module_name(node).rsplit(".", 1)
        output = conv.rounds_output or modules[f"{named[0]}.{int(named[1]) + 1}"].rounds_output
        output.low, output.high = ranges[node.output[0]]
    image = np.concatenate(inputs)
    int8 = ort.InferenceSession(str(target), providers=["CPUExecutionProvider"])
    # Log-probabilities: the logits up to each cell's constant, so the rounding shows at every cell.
    int8_out = np.log(int8.run(["probs"], {"image": image})[0])
    with torch.no_grad():
        float_out = torch.log_softmax(net(torch.from_numpy(image)), dim=1).numpy()
        rounded_out = torch.log_softmax(rounding(torch.from_numpy(image)), dim=1).numpy()
    float_gap = np.abs(float_out - int8_out).mean()
    rounded_gap = np.abs(rounded_out - int8_out).mean()
    assert float_gap > 1e-4  # the INT8 graph does round noticeably here
    # What is left: the integer kernels' own rounding (requantisation, int32 biases) flipping a level.
    assert rounded_gap < 0.35 * float_gap


def test_attach_keeps_the_state_dict_and_detach_gives_the_float_network_back() -> None:
    net = network()
    image = torch.from_numpy(np.concatenate(batches(2)))
    with torch.no_grad():
        before = net(image)
        keys = {k: v.clone() for k, v in net.state_dict().items()}
        qat.attach(net)
        assert qat.rounded(net)
        during = net(image)
        assert set(net.state_dict()) == set(keys)
        assert all(torch.equal(net.state_dict()[k], v) for k, v in keys.items())
        qat.detach(net)
        assert not qat.rounded(net)
        after = net(image)
    assert not torch.allclose(before, during)
    assert torch.equal(before, after)
    ThreatNet(widths=(8, 16, 16, 24), blocks=(1, 1)).load_state_dict(net.state_dict())


def test_gradients_pass_through_the_rounding() -> None:
    net = qat.attach(network()).train()
    image = torch.from_numpy(np.concatenate(batches(2)))
    net(image).square().mean().backward()
    for name, parameter in net.named_parameters():
        assert parameter.grad is not None and torch.isfinite(parameter.grad).all(), name
    assert net.stem[0].weight.grad.abs().sum() > 0


def test_ranges_move_in_training_only() -> None:
    rounding = qat.ActivationRounding()
    small = torch.linspace(-1.0, 1.0, 1000)
    rounding(small, update=False)  # the first call reads a range even when not training
    first = (rounding.low, rounding.high)
    rounding(small * 10, update=False)
    assert (rounding.low, rounding.high) == first
    rounding(small * 10, update=True)
    assert rounding.high is not None and rounding.high > first[1]


@pytest.mark.parametrize("channels", [1, 5])
def test_weights_round_per_output_channel_to_255_levels(channels: int) -> None:
    torch.manual_seed(0)
    weight = torch.randn(channels, 3, 3, 3) * torch.arange(1, channels + 1).view(-1, 1, 1, 1)
    rounded = qat.round_weights(weight)
    for out in range(channels):
        step = weight[out].abs().max() / 127
        levels = rounded[out] / step
        assert torch.allclose(levels, levels.round(), atol=1e-4)
        assert (rounded[out] - weight[out]).abs().max() <= step / 2 + 1e-6
