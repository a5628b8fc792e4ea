"""Quantisation-aware fine-tuning: train the network through the rounding its INT8 graph will do.

`triage quantize` (:mod:`vision.train.quantize`) rounds what onnxruntime's static QDQ quantisation of the
convolutions rounds: each convolution's weights to int8 per output channel (symmetric, after batch norm
is folded in), and its input and output activations to uint8 per tensor, over a range read off
calibration scans (the 99.99th percentile of the magnitude, clipped to the values seen). Rounded after
training, those steps cost a model 0.02-0.03 of real knives localised. Here the same rounding runs in
the forward pass (fake quantisation, straight-through gradients), so training finds weights whose
rounding costs less; the checkpoint is an ordinary float one, exported and quantised as before.
Measured, it did not narrow the gap: one more epoch of a widened 448-px network with it lost 0.007 of
OPIXray knives in INT8 (localised, averaged over the thresholds for 2-10% real false alarms), against
0.009 without it, at 3.25x the cost of a bf16 step (``python -m benchmarks.train_step``).

Scaling an output channel scales its per-channel step with it, so rounding the weights before batch
norm rounds them as rounding the folded weights would. Activation ranges follow a moving estimate of
each batch's range, read as the calibration reads it (a percentile of the magnitude, a sample of the
tensor for speed).
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from vision.train.model import ResidualBlock, ThreatNet
from vision.train.quantize import PERCENTILE

# Elements of an activation its range is read from each step (a strided sample: the full tensor's
# percentile would cost more than the convolution).
RANGE_SAMPLE = 1 << 16
# Weight of each new batch's range in the moving estimate.
RANGE_MOMENTUM = 0.05
ACTIVATION_LEVELS = (0, 255)
WEIGHT_LEVELS = (-127, 127)


class ActivationRounding:
    """uint8 rounding of one activation tensor over a moving estimate of its range.

    The range is updated in training mode only and always contains zero (so that zero, a ReLU's
    output and the padding, is exact), as onnxruntime's asymmetric uint8 quantisation makes it.
    """

    def __init__(self) -> None:
        self.low: float | None = None
        self.high: float | None = None

    def __call__(self, x: torch.Tensor, update: bool) -> torch.Tensor:
        if update or self.low is None:
            self._update(x.detach())
        assert self.low is not None and self.high is not None
        low, high = min(self.low, 0.0), max(self.high, 0.0)
        if high - low <= 0:
            return x
        scale = (high - low) / (ACTIVATION_LEVELS[1] - ACTIVATION_LEVELS[0])
        zero_point = round(-low / scale)
        rounded = torch.fake_quantize_per_tensor_affine(x.float(), scale, zero_point, *ACTIVATION_LEVELS)
        return rounded.to(x.dtype)

    def _update(self, x: torch.Tensor) -> None:
        flat = x.reshape(-1)
        sample = flat[:: max(1, flat.numel() // RANGE_SAMPLE)].float()
        magnitude = float(torch.quantile(sample.abs(), PERCENTILE / 100))
        low = max(float(sample.min()), -magnitude)
        high = min(float(sample.max()), magnitude)
        if self.low is None or self.high is None:
            self.low, self.high = low, high
        else:
            self.low += RANGE_MOMENTUM * (low - self.low)
            self.high += RANGE_MOMENTUM * (high - self.high)


def round_weights(weight: torch.Tensor) -> torch.Tensor:
    """int8 rounding of a convolution's weights per output channel, symmetric about zero."""
    peak = weight.detach().abs().amax(dim=tuple(range(1, weight.dim()))).float()
    scale = (peak / WEIGHT_LEVELS[1]).clamp_min(1e-12)
    zero_point = torch.zeros_like(scale, dtype=torch.int32)
    return torch.fake_quantize_per_channel_affine(weight, scale, zero_point, 0, *WEIGHT_LEVELS)


class RoundedConv2d(nn.Conv2d):
    """A :class:`~torch.nn.Conv2d` whose input, weights and (unless a batch norm follows, which then
    rounds the folded output) output are rounded as the INT8 graph rounds them. Same parameters and
    state dict as the convolution it was."""

    rounds_input: ActivationRounding
    rounds_output: ActivationRounding | None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.rounds_input(x, self.training)
        y = self._conv_forward(x, round_weights(self.weight), self.bias)
        return y if self.rounds_output is None else self.rounds_output(y, self.training)


class RoundedBatchNorm2d(nn.BatchNorm2d):
    """A batch norm after a convolution: its output is the folded convolution's output, rounded."""

    rounds_output: ActivationRounding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rounds_output(super().forward(x), self.training)


class RoundedResidualBlock(ResidualBlock):
    """A residual block whose input reaches the addition rounded, as in the INT8 graph: there the input
    is rounded once, for its first convolution, and every consumer reads the rounded tensor."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        first = next(m for m in self.body.modules() if isinstance(m, RoundedConv2d))
        # Rounding twice on the same grid is rounding once; the range moves with each call in training.
        x = first.rounds_input(x, self.training)
        return F.relu(x + self.body(x))


def _convolutions(model: nn.Module) -> Iterator[tuple[nn.Conv2d, nn.BatchNorm2d | None]]:
    """Every convolution with the batch norm that directly follows it in the same sequence, if any."""
    for module in model.modules():
        children = list(module.children())
        for index, child in enumerate(children):
            if isinstance(child, nn.Conv2d):
                after = children[index + 1] if index + 1 < len(children) else None
                yield child, after if isinstance(after, nn.BatchNorm2d) else None


def attach(model: ThreatNet) -> ThreatNet:
    """Make ``model`` round as its INT8 graph will (in place; returns it). Its state dict is unchanged,
    so checkpoints load into a plain network; :func:`detach` undoes it."""
    for block in model.modules():
        if isinstance(block, ResidualBlock):
            _become(block, RoundedResidualBlock)
    for conv, norm in _convolutions(model):
        output = None if norm is not None else ActivationRounding()
        _become(conv, RoundedConv2d, rounds_input=ActivationRounding(), rounds_output=output)
        if norm is not None:
            _become(norm, RoundedBatchNorm2d, rounds_output=ActivationRounding())
    return model


def detach(model: nn.Module) -> nn.Module:
    """Undo :func:`attach`: plain convolutions and batch norms again (in place; returns ``model``)."""
    for module in model.modules():
        if isinstance(module, RoundedResidualBlock):
            _become(module, ResidualBlock)
        elif isinstance(module, RoundedConv2d):
            del module.rounds_input, module.rounds_output
            _become(module, nn.Conv2d)
        elif isinstance(module, RoundedBatchNorm2d):
            del module.rounds_output
            _become(module, nn.BatchNorm2d)
    return model


def _become(module: nn.Module, kind: type[nn.Module], **roundings: ActivationRounding | None) -> None:
    """Give ``module`` the class ``kind`` (one of the same layout: parameters and state dict unchanged)
    and the ``roundings`` as plain attributes (not submodules, so not in the state dict)."""
    module.__class__ = kind
    for name, rounding in roundings.items():
        setattr(module, name, rounding)


def rounded(model: nn.Module) -> bool:
    """Whether ``model`` rounds as its INT8 graph will (:func:`attach`)."""
    return any(
        isinstance(m, (RoundedConv2d, RoundedBatchNorm2d, RoundedResidualBlock)) for m in model.modules()
    )
